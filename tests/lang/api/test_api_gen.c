/*
 * test_api_gen.c: the route tables `myco gen` writes for tests/lang/api/
 * notes.myco, run by the API framework of svc/gate (include/myco/api.h):
 * myco_api_create() accepts them, and requests parsed by the real HTTP
 * parser and dispatched through them reach the handlers typed (path
 * parameters of each type, query, body) or are refused as the declarations
 * say (404 for a parameter that does not parse, 400 for each JSON
 * constraint, 405, 413, CORS).  Not for: the framework itself
 * (tests/unit/gate).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MYCO_GEN_NOTES_API
#include "notes.h"

#include "gate_int.h"

static int failures;
static char last_call[128];

#define CHECK(cond) do { if (!(cond)) { \
	fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
	failures++; } } while (0)

int list_notes(const myco_api_req_t *req, myco_api_resp_t *resp)
{
	const ListQuery *q = req->query;
	Health *h = myco_api_body(resp);
	snprintf(last_call, sizeof(last_call), "list limit=%u", q->limit);
	memcpy(h->status, "ok", 3);
	h->notes = q->limit;
	return 0;
}

int create_note(const myco_api_req_t *req, myco_api_resp_t *resp)
{
	const Note *in = req->body;
	Note *out = myco_api_body(resp);
	*out = *in;
	out->id = 42;
	snprintf(last_call, sizeof(last_call), "create %.*s stars=%u color=%u", 32, in->title,
		 in->stars, in->color);
	return 0;
}

int get_note(const myco_api_req_t *req, myco_api_resp_t *resp)
{
	const api_get_note_params *p = req->params;
	Note *out = myco_api_body(resp);
	out->id = p->id;
	memcpy(out->title, "found", 6);
	snprintf(last_call, sizeof(last_call), "get %llu", (unsigned long long)p->id);
	return 0;
}

int put_note(const myco_api_req_t *req, myco_api_resp_t *resp)
{
	const api_put_note_params *p = req->params;
	const Note *in = req->body;
	Note *out = myco_api_body(resp);
	*out = *in;
	out->id = p->id;
	snprintf(last_call, sizeof(last_call), "put %llu", (unsigned long long)p->id);
	return 0;
}

int get_file(const myco_api_req_t *req, myco_api_resp_t *resp)
{
	const api_get_file_params *p = req->params;
	snprintf(last_call, sizeof(last_call), "file %.100s", p->rest);
	return myco_api_raw(resp, "text/plain", "x", 1);
}

int by_color(const myco_api_req_t *req, myco_api_resp_t *resp)
{
	const api_by_color_params *p = req->params;
	snprintf(last_call, sizeof(last_call), "color %u %.16s", p->c, p->name);
	return myco_api_raw(resp, "text/plain", "x", 1);
}

int root(const myco_api_req_t *req, myco_api_resp_t *resp)
{
	(void)req;
	snprintf(last_call, sizeof(last_call), "root");
	return myco_api_raw(resp, "text/plain", "x", 1);
}

static myco_api_t *api;

typedef struct answer {
	unsigned status;
	char head[2048];
	char body[2048];
} answer_t;

/* One request through the real parser and the framework's dispatch. */
static void run(const char *raw, answer_t *a)
{
	myco__h1_msg_t m;
	myco__gate_conn_t c;
	myco__gate_req_t r;
	char *buf = strdup(raw);
	memset(a, 0, sizeof(*a));
	last_call[0] = 0;
	if (!buf)
		abort();
	ssize_t hl = myco__h1_parse_request(buf, strlen(buf), 16384, &m);
	CHECK(hl > 0);
	if (hl <= 0) {
		free(buf);
		return;
	}
	memset(&c, 0, sizeof(c));
	c.fd = -1;
	memset(&r, 0, sizeof(r));
	r.m = &m;
	r.keep_alive = true;
	r.path = m.target;
	const char *q = memchr(m.target, '?', m.tlen);
	r.path_len = q ? (size_t)(q - m.target) : m.tlen;
	r.query = q ? q + 1 : NULL;
	r.query_len = q ? m.tlen - r.path_len - 1 : 0;
	r.body = buf + hl;
	r.body_len = strlen(buf) - (size_t)hl;
	snprintf(r.request_id, sizeof(r.request_id), "test-1");
	CHECK(myco__api_dispatch(api, &c, &r) == 0);
	if (c.out) {
		c.out[c.out_len < 4095 ? c.out_len : 4095] = '\0';
		CHECK(sscanf(c.out, "HTTP/1.1 %u", &a->status) == 1);
		char *sep = strstr(c.out, "\r\n\r\n");
		CHECK(sep != NULL);
		if (sep) {
			snprintf(a->head, sizeof(a->head), "%.*s", (int)(sep - c.out), c.out);
			snprintf(a->body, sizeof(a->body), "%s", sep + 4);
		}
	}
	free(c.out);
	free(buf);
}

static void post(const char *path, const char *json, answer_t *a)
{
	char raw[16384];
	snprintf(raw, sizeof(raw), "POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
		 "Content-Length: %zu\r\n\r\n%s", path, strlen(json), json);
	run(raw, a);
}

int main(void)
{
	char err[256] = "";
	answer_t a;
	int rc = myco_api_create(&api, &api_service, NULL, err, sizeof(err));
	if (rc) {
		fprintf(stderr, "myco_api_create refused the generated table: %s\n", err);
		return 1;
	}
	CHECK(api_service.nroutes == 7);
	CHECK(!strcmp(api_service.prefix, "/api"));
	CHECK(api_service.max_body == 4096);

	/* typed path parameters */
	run("GET /api/notes/7 HTTP/1.1\r\nHost: x\r\n\r\n", &a);
	CHECK(a.status == 200 && !strcmp(last_call, "get 7"));
	CHECK(strstr(a.body, "\"id\":7") && strstr(a.body, "\"title\":\"found\""));
	run("GET /api/notes/abc HTTP/1.1\r\nHost: x\r\n\r\n", &a);
	CHECK(a.status == 404 && !last_call[0]);
	run("PATCH /api/notes/7 HTTP/1.1\r\nHost: x\r\n\r\n", &a);
	CHECK(a.status == 405 && strstr(a.head, "Allow:"));
	run("GET /api/files/a/b/c.txt HTTP/1.1\r\nHost: x\r\n\r\n", &a);
	CHECK(a.status == 200 && !strcmp(last_call, "file a/b/c.txt"));
	run("GET /api/color/blue/sky HTTP/1.1\r\nHost: x\r\n\r\n", &a);
	CHECK(a.status == 200 && !strcmp(last_call, "color 1 sky"));
	run("GET /api/color/green/sky HTTP/1.1\r\nHost: x\r\n\r\n", &a);
	CHECK(a.status != 200 && !last_call[0]);
	run("GET /api/ HTTP/1.1\r\nHost: x\r\n\r\n", &a);
	CHECK(a.status == 200 && !strcmp(last_call, "root"));

	/* the query string and its constraints */
	run("GET /api/notes?limit=5 HTTP/1.1\r\nHost: x\r\n\r\n", &a);
	CHECK(a.status == 200 && !strcmp(last_call, "list limit=5"));
	run("GET /api/notes?limit=500 HTTP/1.1\r\nHost: x\r\n\r\n", &a);
	CHECK(a.status == 400 && strstr(a.body, "limit") && !last_call[0]);

	/* the body: every declared constraint */
	post("/api/notes", "{\"title\":\"buy milk\",\"stars\":3,\"color\":\"blue\",\"weight\":1.5}", &a);
	CHECK(a.status == 201 && !strcmp(last_call, "create buy milk stars=3 color=1"));
	CHECK(strstr(a.body, "\"id\":42") && strstr(a.body, "\"color\":\"blue\""));
	post("/api/notes", "{\"body\":\"no title\"}", &a);               /* required */
	CHECK(a.status == 400 && strstr(a.body, "title") && !last_call[0]);
	post("/api/notes", "{\"title\":\"\"}", &a);                      /* min_len */
	CHECK(a.status == 400 && strstr(a.body, "title") && !last_call[0]);
	post("/api/notes", "{\"title\":\"Buy Milk\"}", &a);              /* pattern */
	CHECK(a.status == 400 && strstr(a.body, "title") && !last_call[0]);
	post("/api/notes", "{\"title\":\"a\",\"stars\":9}", &a);         /* max */
	CHECK(a.status == 400 && strstr(a.body, "stars") && !last_call[0]);
	post("/api/notes", "{\"title\":\"a\",\"stars\":0}", &a);         /* min */
	CHECK(a.status == 400 && strstr(a.body, "stars") && !last_call[0]);
	post("/api/notes", "{\"title\":\"a\",\"weight\":3.0}", &a);      /* float max */
	CHECK(a.status == 400 && strstr(a.body, "weight") && !last_call[0]);
	post("/api/notes", "{\"title\":\"a\",\"done\":null}", &a);       /* nullable */
	CHECK(a.status == 201);
	post("/api/notes", "{\"title\":\"a\",\"body\":null}", &a);       /* not nullable */
	CHECK(a.status == 400 && !last_call[0]);
	post("/api/notes", "{\"title\":\"a\",\"color\":\"green\"}", &a); /* enum */
	CHECK(a.status == 400 && !last_call[0]);
	post("/api/notes", "{\"title\":\"a\",\"extra\":1}", &a);         /* closed type */
	CHECK(a.status == 400 && !last_call[0]);
	{
		char big[5000];
		memset(big, 'a', sizeof(big) - 1);
		big[sizeof(big) - 1] = 0;
		memcpy(big, "{\"title\":\"", 10);
		memcpy(big + sizeof(big) - 3, "\"}", 3);
		post("/api/notes", big, &a);                             /* max_body */
		CHECK(a.status == 413 && !last_call[0]);
	}

	/* CORS from the service's `cors` */
	run("OPTIONS /api/notes/1 HTTP/1.1\r\nHost: x\r\nOrigin: https://app.example\r\n"
	    "Access-Control-Request-Method: PUT\r\n\r\n", &a);
	CHECK(a.status == 204 && strstr(a.head, "Access-Control-Allow-Origin: https://app.example"));
	run("GET /api/notes/1 HTTP/1.1\r\nHost: x\r\nOrigin: https://evil.example\r\n\r\n", &a);
	CHECK(a.status == 200 && !strstr(a.head, "Access-Control-Allow-Origin"));

	myco_api_destroy(api);
	if (failures)
		fprintf(stderr, "%d checks failed\n", failures);
	else
		printf("generated route table: all checks passed\n");
	return failures ? 1 : 0;
}
