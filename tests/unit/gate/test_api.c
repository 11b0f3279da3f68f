/* test_api.c: unit tests for the API framework runtime (svc/gate/api.c)
 * driven without sockets: requests are parsed by the real HTTP parser,
 * dispatched through a hand-written route table (include/myco/api.h) and
 * the answers read back from the connection's output buffer.  Covers table
 * checks (conflicts), routing (literal before parameter, 404, 405 + Allow),
 * typed path/query/body extraction, every kind of 400, CORS. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "gate_int.h"

typedef struct { uint64_t id; } id_params_t;
typedef struct { char rest[64]; } file_params_t;
typedef struct { char q[32]; uint32_t limit; uint8_t exact; } search_q_t;
typedef uint8_t role_t;
typedef struct { uint64_t id; char name[16]; uint32_t age; role_t role; char email[40];
		 int32_t scores[4]; } user_t;

static const char *const role_names[] = { "admin", "member" };
static const uint64_t role_values[] = { 1, 2 };
static const myco_api_enum_t role_enum = { "Role", 1, 2, role_names, role_values };

static const myco_api_field_t id_fields[] = {
	MYCO_API_FIELD(id_params_t, id, MYCO_API_T_U64, MYCO_API_F_MIN | MYCO_API_F_MAX |
		       MYCO_API_F_REQUIRED),
};
static myco_api_field_t id_fields_rw[1];
static const myco_api_msg_t id_msg = { "IdParams", sizeof(id_params_t), 8, 1, id_fields_rw, false };
static const myco_api_field_t file_fields[] = {
	MYCO_API_STRFIELD(file_params_t, rest, MYCO_API_T_PATH, 0),
};
static const myco_api_msg_t file_msg = MYCO_API_MSG(file_params_t, file_fields);
static const myco_api_field_t search_fields[] = {
	MYCO_API_STRFIELD(search_q_t, q, MYCO_API_T_STRING, MYCO_API_F_REQUIRED),
	{ .name = "limit", .type = MYCO_API_T_U32, .offset = offsetof(search_q_t, limit),
	  .size = 4, .elem_size = 4, .flags = MYCO_API_F_MAX, .max_int = 100 },
	MYCO_API_FIELD(search_q_t, exact, MYCO_API_T_BOOL, 0),
};
static const myco_api_msg_t search_msg = MYCO_API_MSG(search_q_t, search_fields);
static const myco_api_field_t user_fields[] = {
	MYCO_API_FIELD(user_t, id, MYCO_API_T_U64, 0),
	{ .name = "name", .type = MYCO_API_T_STRING, .offset = offsetof(user_t, name), .size = 16,
	  .elem_size = 16, .length = 16, .flags = MYCO_API_F_REQUIRED | MYCO_API_F_MIN_LEN,
	  .min_len = 1 },
	{ .name = "age", .type = MYCO_API_T_U32, .offset = offsetof(user_t, age), .size = 4,
	  .elem_size = 4, .flags = MYCO_API_F_MIN | MYCO_API_F_MAX, .min_int = 0, .max_int = 150 },
	{ .name = "role", .type = MYCO_API_T_ENUM, .offset = offsetof(user_t, role), .size = 1,
	  .elem_size = 1, .enumt = &role_enum },
	{ .name = "email", .type = MYCO_API_T_STRING, .offset = offsetof(user_t, email), .size = 40,
	  .elem_size = 40, .length = 40, .flags = MYCO_API_F_PATTERN,
	  .pattern = "[^@ ]+@[^@ ]+\\.[a-z]+" },
	{ .name = "scores", .type = MYCO_API_T_I32, .offset = offsetof(user_t, scores), .size = 16,
	  .elem_size = 4, .array_len = 4 },
};
static const myco_api_msg_t user_msg = MYCO_API_MSG(user_t, user_fields);

static int h_get_user(const myco_api_req_t *req, myco_api_resp_t *resp)
{
	const id_params_t *p = req->params;
	user_t *u = myco_api_body(resp);
	if (p->id == 404)
		return myco_api_error(resp, 404, "user %llu not found", (unsigned long long)p->id);
	if (p->id == 500)
		return -EIO;
	u->id = p->id;
	snprintf(u->name, sizeof(u->name), "user%llu", (unsigned long long)p->id);
	u->role = 2;
	return 0;
}

static int h_me(const myco_api_req_t *req, myco_api_resp_t *resp)
{
	user_t *u = myco_api_body(resp);
	(void)req;
	memcpy(u->name, "me", 2);
	u->role = 1;
	return myco_api_set_header(resp, "X-Who", "me");
}

static int h_create(const myco_api_req_t *req, myco_api_resp_t *resp)
{
	memcpy(myco_api_body(resp), req->body, sizeof(user_t));
	((user_t *)myco_api_body(resp))->id = 7;
	/* header injection is refused */
	assert_int_equal(myco_api_set_header(resp, "X-Bad", "a\r\nSet-Cookie: x"), -EINVAL);
	assert_int_equal(myco_api_set_header(resp, "Content-Length", "1"), -EPERM);
	return 0;
}

static int h_delete(const myco_api_req_t *req, myco_api_resp_t *resp)
{
	(void)req;
	return myco_api_status(resp, 204);
}

static int h_file(const myco_api_req_t *req, myco_api_resp_t *resp)
{
	const file_params_t *p = req->params;
	return myco_api_raw(resp, "text/plain", p->rest, myco_api_strlen(p->rest, sizeof(p->rest)));
}

static int h_search(const myco_api_req_t *req, myco_api_resp_t *resp)
{
	const search_q_t *q = req->query;
	char out[128];
	int n = snprintf(out, sizeof(out), "%.*s/%u/%u", (int)myco_api_strlen(q->q, sizeof(q->q)),
			 q->q, q->limit, q->exact);
	return myco_api_raw(resp, "text/plain", out, (size_t)n);
}

static const myco_api_seg_t seg_user[] = { MYCO_API_LIT("users"), MYCO_API_PARAM(0) };
static const myco_api_seg_t seg_me[] = { MYCO_API_LIT("users"), MYCO_API_LIT("me") };
static const myco_api_seg_t seg_users[] = { MYCO_API_LIT("users") };
static const myco_api_seg_t seg_file[] = { MYCO_API_LIT("files"), MYCO_API_PARAM(0) };
static const myco_api_seg_t seg_search[] = { MYCO_API_LIT("search") };

static const myco_api_route_t routes[] = {
	{ .method = MYCO_API_GET, .pattern = "/users/{id}", .nsegs = 2, .segs = seg_user,
	  .params = &id_msg, .response = &user_msg, .handler = h_get_user, .name = "get_user" },
	{ .method = MYCO_API_GET, .pattern = "/users/me", .nsegs = 2, .segs = seg_me,
	  .response = &user_msg, .handler = h_me, .name = "me" },
	{ .method = MYCO_API_POST, .pattern = "/users", .nsegs = 1, .segs = seg_users,
	  .request = &user_msg, .response = &user_msg, .handler = h_create, .status = 201 },
	{ .method = MYCO_API_DELETE, .pattern = "/users/{id}", .nsegs = 2, .segs = seg_user,
	  .params = &id_msg, .handler = h_delete },
	{ .method = MYCO_API_GET, .pattern = "/files/{rest}", .nsegs = 2, .segs = seg_file,
	  .params = &file_msg, .handler = h_file },
	{ .method = MYCO_API_GET, .pattern = "/search", .nsegs = 1, .segs = seg_search,
	  .query = &search_msg, .handler = h_search },
};
static const char *const origins[] = { "https://app.example" };
static const myco_api_cors_t cors = { 1, origins, "content-type", false, 0 };
static const myco_api_service_t svc = {
	.abi = MYCO_API_ABI, .name = "users", .prefix = "/api",
	.nroutes = sizeof(routes) / sizeof(routes[0]), .routes = routes, .cors = &cors,
};

static myco_api_t *api;

typedef struct answer {
	unsigned status;
	char head[2048];
	char body[2048];
} answer_t;

static void run(const char *raw, answer_t *a)
{
	myco__h1_msg_t m;
	myco__gate_conn_t c;
	myco__gate_req_t r;
	char *buf = strdup(raw);
	ssize_t hl = myco__h1_parse_request(buf, strlen(buf), 16384, &m);
	char *sep;
	const char *q;

	assert_true(hl > 0);
	memset(&c, 0, sizeof(c));
	c.fd = -1;
	memset(&r, 0, sizeof(r));
	r.m = &m;
	r.keep_alive = true;
	r.path = m.target;
	q = memchr(m.target, '?', m.tlen);
	r.path_len = q ? (size_t)(q - m.target) : m.tlen;
	r.query = q ? q + 1 : NULL;
	r.query_len = q ? m.tlen - r.path_len - 1 : 0;
	r.body = buf + hl;
	r.body_len = strlen(buf) - (size_t)hl;
	snprintf(r.request_id, sizeof(r.request_id), "test-1");
	assert_int_equal(myco__api_dispatch(api, &c, &r), 0);
	assert_non_null(c.out);
	c.out[c.out_len < 4095 ? c.out_len : 4095] = '\0';
	assert_int_equal(sscanf(c.out, "HTTP/1.1 %u", &a->status), 1);
	sep = strstr(c.out, "\r\n\r\n");
	assert_non_null(sep);
	snprintf(a->head, sizeof(a->head), "%.*s", (int)(sep - c.out), c.out);
	snprintf(a->body, sizeof(a->body), "%s", sep + 4);
	free(c.out);
	free(buf);
}

static void test_table_checks(void **state)
{
	myco_api_route_t dup[2] = { routes[0], routes[0] };
	myco_api_service_t s2 = svc;
	myco_api_t *x;
	char err[200];
	(void)state;

	s2.routes = dup;
	s2.nroutes = 2;
	dup[1].pattern = "/users/{key}";
	assert_int_equal(myco_api_create(&x, &s2, NULL, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "routes GET /users/{id} and GET /users/{key} conflict");
	s2.abi = (2 << 16);
	assert_int_equal(myco_api_create(&x, &s2, NULL, err, sizeof(err)), -MYCO_EVERSION);
	s2 = svc;
	dup[1] = routes[1];
	dup[1].method = MYCO_API_GET | MYCO_API_POST;
	s2.routes = dup;
	assert_int_equal(myco_api_create(&x, &s2, NULL, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "route /users/me: one method expected");
}

static void test_routing(void **state)
{
	answer_t a;
	(void)state;

	run("GET /api/users/42 HTTP/1.1\r\nHost: a\r\n\r\n", &a);
	assert_int_equal(a.status, 200);
	assert_string_equal(a.body, "{\"id\":42,\"name\":\"user42\",\"age\":0,\"role\":\"member\","
				    "\"email\":\"\",\"scores\":[0,0,0,0]}");
	run("GET /api/users/me HTTP/1.1\r\nHost: a\r\n\r\n", &a);   /* literal wins */
	assert_int_equal(a.status, 200);
	assert_non_null(strstr(a.head, "X-Who: me"));
	assert_non_null(strstr(a.body, "\"role\":\"admin\""));
	run("GET /api/nothing HTTP/1.1\r\nHost: a\r\n\r\n", &a);
	assert_int_equal(a.status, 404);
	run("GET /elsewhere/users/1 HTTP/1.1\r\nHost: a\r\n\r\n", &a);
	assert_int_equal(a.status, 404);
	run("GET /api/users/abc HTTP/1.1\r\nHost: a\r\n\r\n", &a);  /* u64 does not parse */
	assert_int_equal(a.status, 404);
	run("PUT /api/users/1 HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n", &a);
	assert_int_equal(a.status, 405);
	assert_non_null(strstr(a.head, "Allow: GET, HEAD, DELETE, OPTIONS"));
	run("DELETE /api/users/3 HTTP/1.1\r\nHost: a\r\n\r\n", &a);
	assert_int_equal(a.status, 204);
	run("HEAD /api/users/42 HTTP/1.1\r\nHost: a\r\n\r\n", &a);
	assert_int_equal(a.status, 200);
	run("GET /api/files/a/b%20c/d HTTP/1.1\r\nHost: a\r\n\r\n", &a);
	assert_int_equal(a.status, 200);
	assert_string_equal(a.body, "a/b%20c/d");
	run("GET /api/users/404 HTTP/1.1\r\nHost: a\r\n\r\n", &a);
	assert_int_equal(a.status, 404);
	assert_string_equal(a.body, "{\"error\":\"Not Found\",\"detail\":\"user 404 not found\"}");
	run("GET /api/users/%zz HTTP/1.1\r\nHost: a\r\n\r\n", &a);
	assert_int_equal(a.status, 400);
	assert_non_null(strstr(a.body, "malformed path"));
	run("GET /api/users/%31%32 HTTP/1.1\r\nHost: a\r\n\r\n", &a);   /* "12" */
	assert_int_equal(a.status, 200);
	assert_non_null(strstr(a.body, "\"id\":12"));
	run("GET /api/a/b/c/d/e/f/g/h/i/j/k/l/m/n/o/p/q/r/s/t/u/v/w/x/y/z/0/1/2/3/4/5/6/7 HTTP/1.1\r\n"
	    "Host: a\r\n\r\n", &a);
	assert_int_equal(a.status, 404);
	run("GET /api/users/42/ HTTP/1.1\r\nHost: a\r\n\r\n", &a);   /* trailing slash */
	assert_int_equal(a.status, 404);
	run("GET /api/users/500 HTTP/1.1\r\nHost: a\r\n\r\n", &a);
	assert_int_equal(a.status, 500);
	assert_non_null(strstr(a.body, "internal error (request test-1)"));
}

static void test_params_and_query(void **state)
{
	answer_t a;
	(void)state;

	run("GET /api/users/0 HTTP/1.1\r\nHost: a\r\n\r\n", &a);   /* below min 1 */
	assert_int_equal(a.status, 400);
	assert_string_equal(a.body, "{\"error\":\"Bad Request\",\"detail\":\"path parameter id: 0 is "
				    "below the minimum 1\"}");
	run("GET /api/search?q=hello+world&limit=5&exact=true HTTP/1.1\r\nHost: a\r\n\r\n", &a);
	assert_int_equal(a.status, 200);
	assert_string_equal(a.body, "hello world/5/1");
	run("GET /api/search?limit=5 HTTP/1.1\r\nHost: a\r\n\r\n", &a);
	assert_int_equal(a.status, 400);
	assert_non_null(strstr(a.body, "query.q: required parameter is missing"));
	run("GET /api/search?q=x&limit=500 HTTP/1.1\r\nHost: a\r\n\r\n", &a);
	assert_int_equal(a.status, 400);
	assert_non_null(strstr(a.body, "query.limit: 500 is above the maximum 100"));
	run("GET /api/search?q=x&other=1 HTTP/1.1\r\nHost: a\r\n\r\n", &a);
	assert_int_equal(a.status, 400);
	assert_non_null(strstr(a.body, "query: unknown parameter \\\"other\\\""));
	run("GET /api/search?q=%zz HTTP/1.1\r\nHost: a\r\n\r\n", &a);
	assert_int_equal(a.status, 400);
	run("GET /api/search?q=a&q=b HTTP/1.1\r\nHost: a\r\n\r\n", &a);
	assert_int_equal(a.status, 400);
	assert_non_null(strstr(a.body, "given more than once"));
}

#define POST(body) "POST /api/users HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\n\r\n" body

static void expect_400(const char *raw, const char *detail)
{
	answer_t a;
	char want[600];

	run(raw, &a);
	snprintf(want, sizeof(want), "{\"error\":\"Bad Request\",\"detail\":\"%s\"}", detail);
	if (a.status != 400 || strcmp(a.body, want) != 0)
		fail_msg("%s\n  got %u %s\n  want %s", raw, a.status, a.body, want);
}

static void test_body(void **state)
{
	answer_t a;
	(void)state;

	run(POST("{\"name\":\"ann\",\"age\":30,\"role\":\"admin\",\"email\":\"a@b.io\",\"scores\":[1,-2]}"),
	    &a);
	assert_int_equal(a.status, 201);
	assert_string_equal(a.body, "{\"id\":7,\"name\":\"ann\",\"age\":30,\"role\":\"admin\","
				    "\"email\":\"a@b.io\",\"scores\":[1,-2,0,0]}");
	expect_400(POST("{\"age\":30}"), "body.name: required field is missing");
	expect_400(POST("{\"name\":\"ann\",\"age\":151}"), "body.age: 151 is above the maximum 150");
	expect_400(POST("{\"name\":\"ann\",\"age\":-1}"), "body.age: -1 is out of range for u32");
	expect_400(POST("{\"name\":\"ann\",\"age\":1.5}"), "body.age: expected an integer (u32)");
	expect_400(POST("{\"name\":\"\"}"), "body.name: 0 bytes, at least 1 required");
	expect_400(POST("{\"name\":\"abcdefghijklmnopq\"}"), "body.name: 17 bytes, at most 16 allowed");
	expect_400(POST("{\"name\":\"a\",\"role\":\"boss\"}"),
		   "body.role: \\\"boss\\\" is not one of admin, member");
	expect_400(POST("{\"name\":\"a\",\"email\":\"nope\"}"),
		   "body.email: \\\"nope\\\" does not match [^@ ]+@[^@ ]+\\\\.[a-z]+");
	expect_400(POST("{\"name\":\"a\",\"scores\":[1,2,3,4,5]}"),
		   "body.scores: 5 elements, at most 4 allowed");
	expect_400(POST("{\"name\":\"a\",\"scores\":[1,\"x\"]}"), "body.scores[1]: expected an integer (i32)");
	expect_400(POST("{\"name\":\"a\",\"x\":1}"), "body: unknown field \\\"x\\\"");
	expect_400(POST("{\"name\":\"a\",\"name\":\"b\"}"),
		   "body: invalid JSON at line 1 column 18: duplicate object key near '\\\"name\\\"'");
	expect_400(POST("[1]"), "body: expected a JSON object");
	expect_400(POST(""), "body: a JSON object is required");
	run("POST /api/users HTTP/1.1\r\nHost: a\r\nContent-Type: text/plain\r\n\r\n{}", &a);
	assert_int_equal(a.status, 415);
	run("DELETE /api/users/1 HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\n{}", &a);
	assert_int_equal(a.status, 400);
	assert_non_null(strstr(a.body, "takes no request body"));
}

static void test_cors(void **state)
{
	answer_t a;
	(void)state;

	run("OPTIONS /api/users/1 HTTP/1.1\r\nHost: a\r\nOrigin: https://app.example\r\n"
	    "Access-Control-Request-Method: DELETE\r\n\r\n", &a);
	assert_int_equal(a.status, 204);
	assert_non_null(strstr(a.head, "Access-Control-Allow-Origin: https://app.example"));
	assert_non_null(strstr(a.head, "Access-Control-Allow-Methods: GET, HEAD, DELETE, OPTIONS"));
	assert_non_null(strstr(a.head, "Access-Control-Allow-Headers: content-type"));
	assert_non_null(strstr(a.head, "Access-Control-Max-Age: 600"));
	run("GET /api/users/1 HTTP/1.1\r\nHost: a\r\nOrigin: https://evil.example\r\n\r\n", &a);
	assert_int_equal(a.status, 200);
	assert_null(strstr(a.head, "Access-Control-Allow-Origin"));
	run("GET /api/users/1 HTTP/1.1\r\nHost: a\r\nOrigin: https://app.example\r\n\r\n", &a);
	assert_non_null(strstr(a.head, "Vary: Origin"));
}

static int setup(void **state)
{
	char err[200];
	(void)state;
	id_fields_rw[0] = id_fields[0];
	id_fields_rw[0].min_int = 1;
	id_fields_rw[0].max_int = 1000000;
	return myco_api_create(&api, &svc, NULL, err, sizeof(err)) == 0 ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	myco_api_destroy(api);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table_checks),
		cmocka_unit_test(test_routing),
		cmocka_unit_test(test_params_and_query),
		cmocka_unit_test(test_body),
		cmocka_unit_test(test_cors),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
