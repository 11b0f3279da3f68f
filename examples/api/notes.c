/*
 * notes.c: a small REST service on the API framework (myco/api.h): notes
 * with a title, a body and a done flag.  The messages and the route table
 * come from notes.myco through `myco gen` (notes.h, made at build time);
 * this file holds the handlers it names.  Every input reaches them typed and
 * validated (the framework answers 400/404/405/415 itself).  The notes are
 * kept by the store partition (store.c), called over the `store` call
 * channel; run standalone, in this process.  Run the system:
 *     build/cmd/myco/myco run build/examples/api/notes.myco
 * or standalone:
 *     build/examples/api/myco-example-notes [PORT]
 * and see README.md for requests to try.
 */
#include "myco/api.h"
#include "myco/chan.h"
#include "myco/part.h"
#include "myco/rt.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The messages (Note, ListQuery, Health), the handlers' prototypes and
 * parameter structs, and the tables (defined here, in the one file that
 * asks for them). */
#define MYCO_GEN_NOTES_API
#include "notes.h"
#include "notes_store.h"

/* ---- the store: a partition behind a call channel, or in-process ----
 *
 * In a system (myco run build/examples/api/notes.myco) the notes live in
 * the store partition: every handler sends a StoreReq over the `store` call
 * channel (shared memory: no socket, no serialisation, the struct as it is)
 * and waits for the StoreRep without blocking its loop: the coroutine waits
 * on the channel's event fd through io_uring (myco_co_chan_wait).  The web
 * program then runs one loop, and the loop's coroutines take turns on the
 * one client handle (a call at a time; each takes microseconds).
 * Standalone (a port argument, no system) the same operations run
 * in-process under a mutex. */
static myco_chan_t *store_ch;            /* NULL: in-process */
static bool store_busy;                  /* a coroutine is in a call */
static myco_event_t *store_idle;         /* bumped when it leaves */
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;

#define STORE_TIMEOUT_NS (2ull * 1000000000ull)

/* One store operation.  Returns 0 with *r filled (r->status says how it
 * went), or a negative errno when the store did not answer. */
static int store_call(const StoreReq *q, StoreRep *r)
{
	uint64_t corr, deadline;
	size_t len = 0;
	int rc;

	if (!store_ch) {
		pthread_mutex_lock(&mu);
		notes_store_apply(q, r, &len);
		pthread_mutex_unlock(&mu);
		return 0;
	}
	while (store_busy) {
		uint64_t seen = myco_event_seq(store_idle);
		if (!store_busy)
			break;
		rc = myco_event_wait(store_idle, seen, MYCO_FOREVER);
		if (rc < 0)
			return rc;
	}
	store_busy = true;
	memset(r, 0, offsetof(StoreRep, notes));
	deadline = myco_now() + STORE_TIMEOUT_NS;
	rc = myco_chan_call_send(store_ch, q, sizeof(*q), &corr);
	while (rc == 0) {
		uint64_t now;
		rc = myco_chan_call_wait(store_ch, corr, r, sizeof(*r), &len, 0);
		if (rc != -ETIMEDOUT && rc != -EAGAIN)
			break;
		now = myco_now();
		if (now >= deadline) {
			rc = -ETIMEDOUT;
			break;
		}
		rc = myco_co_chan_wait(store_ch, (int64_t)(deadline - now));
		if (rc == -ETIMEDOUT)
			rc = 0;                       /* check once more, then give up */
	}
	store_busy = false;
	myco_event_notify(store_idle);
	if (rc < 0)
		return rc;
	/* the reply is the store's bytes: check them before use */
	if (len < offsetof(StoreRep, notes))
		return -EPROTO;
	if (q->op != StoreOp_count &&
	    (r->count > 100 || len < offsetof(StoreRep, notes) + r->count * sizeof(Note)))
		return -EPROTO;
	for (uint32_t i = 0; q->op != StoreOp_count && i < r->count; i++)
		if (!Note_validate(&r->notes[i]))
			return -EPROTO;
	return 0;
}

static int store_failed(myco_api_resp_t *resp, int rc)
{
	return myco_api_error(resp, 503, "the store did not answer: %s", myco_strerror(rc));
}

/* ---- handlers ---- */
int list_notes(const myco_api_req_t *req, myco_api_resp_t *resp)
{
	const ListQuery *q = req->query;
	StoreReq sq = { .op = StoreOp_list, .limit = q->limit ? q->limit : 20 };
	StoreRep *sr = malloc(sizeof(*sr));
	char *out;
	size_t cap = 64 + (size_t)100 * 420, o = 0;
	int rc;

	out = malloc(cap);
	if (!out || !sr) {
		free(out);
		free(sr);
		return -ENOMEM;
	}
	rc = store_call(&sq, sr);
	if (rc < 0) {
		free(out);
		free(sr);
		return store_failed(resp, rc);
	}
	o += (size_t)snprintf(out + o, cap - o, "[");
	for (uint32_t n = 0; n < sr->count; n++) {
		const Note *x = &sr->notes[n];
		/* titles and bodies were validated UTF-8 without NUL on the way
		 * in; quotes and backslashes still need escaping */
		o += (size_t)snprintf(out + o, cap - o, "%s{\"id\":%llu,\"title\":\"", n ? "," : "",
				      (unsigned long long)x->id);
		for (size_t k = 0; k < myco_api_strlen(x->title, sizeof(x->title)); k++) {
			char ch = x->title[k];
			if (ch == '"' || ch == '\\')
				out[o++] = '\\';
			if ((unsigned char)ch < 0x20)
				o += (size_t)snprintf(out + o, cap - o, "\\u%04x", ch);
			else
				out[o++] = ch;
		}
		o += (size_t)snprintf(out + o, cap - o, "\",\"done\":%s}", x->done ? "true" : "false");
	}
	o += (size_t)snprintf(out + o, cap - o, "]\n");
	rc = myco_api_raw(resp, "application/json", out, o);
	free(out);
	free(sr);
	return rc;
}

/* One note in, one note out: create, get, put. */
static int one_note(myco_api_resp_t *resp, StoreOp op, uint64_t id, const Note *in)
{
	StoreReq sq = { .op = op, .id = id };
	StoreRep *sr = malloc(sizeof(*sr));
	char loc[64];
	int rc;

	if (!sr)
		return -ENOMEM;
	if (in)
		sq.note = *in;
	rc = store_call(&sq, sr);
	if (rc < 0)
		rc = store_failed(resp, rc);
	else if (sr->status == 507)
		rc = myco_api_error(resp, 507, "the store is full (%d notes)", NOTES_MAX);
	else if (sr->status == 404)
		rc = myco_api_error(resp, 404, "note %llu does not exist", (unsigned long long)id);
	else if (sr->status == 204)
		rc = myco_api_status(resp, 204);
	else if (sr->count != 1)
		rc = store_failed(resp, -EPROTO);
	else {
		*(Note *)myco_api_body(resp) = sr->notes[0];
		rc = 0;
		if (op == StoreOp_create) {
			snprintf(loc, sizeof(loc), "/notes/%llu", (unsigned long long)sr->notes[0].id);
			rc = myco_api_set_header(resp, "Location", loc);
		}
	}
	free(sr);
	return rc;
}

int create_note(const myco_api_req_t *req, myco_api_resp_t *resp)
{
	return one_note(resp, StoreOp_create, 0, req->body);
}

int get_note(const myco_api_req_t *req, myco_api_resp_t *resp)
{
	const notes_get_note_params *p = req->params;
	return one_note(resp, StoreOp_get, p->id, NULL);
}

int put_note(const myco_api_req_t *req, myco_api_resp_t *resp)
{
	const notes_put_note_params *p = req->params;
	return one_note(resp, StoreOp_put, p->id, req->body);
}

int delete_note(const myco_api_req_t *req, myco_api_resp_t *resp)
{
	const notes_delete_note_params *p = req->params;
	return one_note(resp, StoreOp_remove, p->id, NULL);
}

int health(const myco_api_req_t *req, myco_api_resp_t *resp)
{
	StoreReq sq = { .op = StoreOp_count };
	StoreRep *sr = malloc(sizeof(*sr));
	Health *h = myco_api_body(resp);
	int rc;

	(void)req;
	if (!sr)
		return -ENOMEM;
	rc = store_call(&sq, sr);
	if (rc == 0) {
		memcpy(h->status, "ok", 2);
		h->notes = sr->count;
	} else {
		rc = store_failed(resp, rc);
	}
	free(sr);
	return rc;
}

int main(int argc, char **argv)
{
	myco_api_t *api;
	char err[256];
	int port = argc > 1 ? atoi(argv[1]) : 8081, rc;

	if (port <= 0 || port > 65535) {
		fprintf(stderr, "usage: %s [PORT]   (or as the web partition of notes.myco)\n",
			argv[0]);
		return 2;
	}
	rc = myco_api_create(&api, &notes_service, NULL, err, sizeof(err));
	if (rc < 0) {
		fprintf(stderr, "notes: route table: %s\n", err);
		return 1;
	}
	if (argc == 1 && myco_in_system() == 1) {
		/* the web partition: the store is the store partition, the
		 * port the executive's listening socket (the one declared) */
		uint16_t ports[1];
		int lfd = myco_listen_ports(ports, 1) == 1 ? myco_listen_fd(ports[0]) : -1;
		if (myco_event_create(&store_idle) < 0 || lfd < 0 ||
		    myco_chan_open("store", &store_ch) < 0) {
			fprintf(stderr, "notes: %s\n", myco_part_errmsg());
			myco_api_destroy(api);
			return 1;
		}
		myco_ready();
		rc = myco_api_serve_fd(api, lfd, 1);
	} else {
		rc = myco_api_serve(api, "127.0.0.1", (uint16_t)port, 0);
	}
	myco_api_destroy(api);
	return rc < 0 ? 1 : 0;
}
