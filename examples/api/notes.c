/*
 * notes.c: a small REST service on the API framework (myco/api.h): notes
 * with a title, a body and a done flag, kept in memory.  The route table is
 * written by hand in the shape `myco gen` emits for `service`/`route`
 * declarations; every input reaches the handlers typed and validated (the
 * framework answers 400/404/405/415 itself).  Run:
 *     build/examples/api/myco-example-notes [PORT]
 * and see README.md for requests to try.
 */
#include "myco/api.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- message types (what `myco gen` emits for `message` blocks) ---- */
typedef struct Note {
	uint64_t id;
	char title[64];
	char body[256];
	uint8_t done;
} Note;

typedef struct NoteId { uint64_t id; } NoteId;
typedef struct ListQuery { uint32_t limit; } ListQuery;
typedef struct Health { char status[8]; uint32_t notes; } Health;

static const myco_api_field_t note_fields[] = {
	MYCO_API_FIELD(Note, id, MYCO_API_T_U64, 0),
	{ .name = "title", .type = MYCO_API_T_STRING, .offset = offsetof(Note, title), .size = 64,
	  .elem_size = 64, .length = 64, .flags = MYCO_API_F_REQUIRED | MYCO_API_F_MIN_LEN,
	  .min_len = 1 },
	MYCO_API_STRFIELD(Note, body, MYCO_API_T_STRING, 0),
	MYCO_API_FIELD(Note, done, MYCO_API_T_BOOL, 0),
};
static const myco_api_msg_t note_msg = MYCO_API_MSG(Note, note_fields);

static const myco_api_field_t id_fields[] = {
	{ .name = "id", .type = MYCO_API_T_U64, .offset = 0, .size = 8, .elem_size = 8,
	  .flags = MYCO_API_F_REQUIRED | MYCO_API_F_MIN, .min_int = 1 },
};
static const myco_api_msg_t id_msg = MYCO_API_MSG(NoteId, id_fields);

static const myco_api_field_t list_fields[] = {
	{ .name = "limit", .type = MYCO_API_T_U32, .offset = offsetof(ListQuery, limit), .size = 4,
	  .elem_size = 4, .flags = MYCO_API_F_MIN | MYCO_API_F_MAX, .min_int = 1, .max_int = 100 },
};
static const myco_api_msg_t list_msg = MYCO_API_MSG(ListQuery, list_fields);

static const myco_api_field_t health_fields[] = {
	MYCO_API_STRFIELD(Health, status, MYCO_API_T_STRING, 0),
	MYCO_API_FIELD(Health, notes, MYCO_API_T_U32, 0),
};
static const myco_api_msg_t health_msg = MYCO_API_MSG(Health, health_fields);

/* ---- the store: shared by every loop (thread) of the server ---- */
#define MAX_NOTES 4096
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static Note notes[MAX_NOTES];
static size_t nnotes;
static uint64_t next_id = 1;

static Note *find(uint64_t id)
{
	for (size_t i = 0; i < nnotes; i++)
		if (notes[i].id == id)
			return &notes[i];
	return NULL;
}

/* ---- handlers ---- */
static int list_notes(const myco_api_req_t *req, myco_api_resp_t *resp)
{
	const ListQuery *q = req->query;
	uint32_t limit = q->limit ? q->limit : 20, n = 0;
	char *out;
	size_t cap = 64 + (size_t)limit * 420, o = 0;
	int rc;

	out = malloc(cap);
	if (!out)
		return -ENOMEM;
	o += (size_t)snprintf(out + o, cap - o, "[");
	pthread_mutex_lock(&mu);
	for (size_t i = 0; i < nnotes && n < limit; i++) {
		const Note *x = &notes[i];
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
		n++;
	}
	pthread_mutex_unlock(&mu);
	o += (size_t)snprintf(out + o, cap - o, "]\n");
	rc = myco_api_raw(resp, "application/json", out, o);
	free(out);
	return rc;
}

static int create_note(const myco_api_req_t *req, myco_api_resp_t *resp)
{
	const Note *in = req->body;
	Note *out = myco_api_body(resp);
	char loc[64];

	pthread_mutex_lock(&mu);
	if (nnotes == MAX_NOTES) {
		pthread_mutex_unlock(&mu);
		return myco_api_error(resp, 507, "the store is full (%d notes)", MAX_NOTES);
	}
	notes[nnotes] = *in;
	notes[nnotes].id = next_id++;
	*out = notes[nnotes++];
	pthread_mutex_unlock(&mu);
	snprintf(loc, sizeof(loc), "/notes/%llu", (unsigned long long)out->id);
	return myco_api_set_header(resp, "Location", loc);
}

static int get_note(const myco_api_req_t *req, myco_api_resp_t *resp)
{
	const NoteId *p = req->params;
	Note *x;
	int rc = 0;

	pthread_mutex_lock(&mu);
	x = find(p->id);
	if (x)
		*(Note *)myco_api_body(resp) = *x;
	else
		rc = myco_api_error(resp, 404, "note %llu does not exist", (unsigned long long)p->id);
	pthread_mutex_unlock(&mu);
	return rc;
}

static int put_note(const myco_api_req_t *req, myco_api_resp_t *resp)
{
	const NoteId *p = req->params;
	Note *x;
	int rc = 0;

	pthread_mutex_lock(&mu);
	x = find(p->id);
	if (x) {
		*x = *(const Note *)req->body;
		x->id = p->id;
		*(Note *)myco_api_body(resp) = *x;
	} else {
		rc = myco_api_error(resp, 404, "note %llu does not exist", (unsigned long long)p->id);
	}
	pthread_mutex_unlock(&mu);
	return rc;
}

static int delete_note(const myco_api_req_t *req, myco_api_resp_t *resp)
{
	const NoteId *p = req->params;
	Note *x;
	int rc;

	pthread_mutex_lock(&mu);
	x = find(p->id);
	if (x) {
		*x = notes[--nnotes];
		rc = myco_api_status(resp, 204);
	} else {
		rc = myco_api_error(resp, 404, "note %llu does not exist", (unsigned long long)p->id);
	}
	pthread_mutex_unlock(&mu);
	return rc;
}

static int health(const myco_api_req_t *req, myco_api_resp_t *resp)
{
	Health *h = myco_api_body(resp);

	(void)req;
	memcpy(h->status, "ok", 2);
	pthread_mutex_lock(&mu);
	h->notes = (uint32_t)nnotes;
	pthread_mutex_unlock(&mu);
	return 0;
}

/* ---- the route table (the shape `myco gen` emits) ---- */
static const myco_api_seg_t s_notes[] = { MYCO_API_LIT("notes") };
static const myco_api_seg_t s_note[] = { MYCO_API_LIT("notes"), MYCO_API_PARAM(0) };
static const myco_api_seg_t s_health[] = { MYCO_API_LIT("health") };

static const myco_api_route_t routes[] = {
	{ MYCO_API_GET, "/notes", 1, s_notes, NULL, &list_msg, NULL, NULL, list_notes,
	  "list_notes", 0 },
	{ MYCO_API_POST, "/notes", 1, s_notes, NULL, NULL, &note_msg, &note_msg, create_note,
	  "create_note", 201 },
	{ MYCO_API_GET, "/notes/{id}", 2, s_note, &id_msg, NULL, NULL, &note_msg, get_note,
	  "get_note", 0 },
	{ MYCO_API_PUT, "/notes/{id}", 2, s_note, &id_msg, NULL, &note_msg, &note_msg, put_note,
	  "put_note", 0 },
	{ MYCO_API_DELETE, "/notes/{id}", 2, s_note, &id_msg, NULL, NULL, NULL, delete_note,
	  "delete_note", 0 },
	{ MYCO_API_GET, "/health", 1, s_health, NULL, NULL, NULL, &health_msg, health,
	  "health", 0 },
};

static const char *const origins[] = { "*" };
static const myco_api_cors_t cors = { 1, origins, "content-type", false, 600 };

static const myco_api_service_t service = {
	.abi = MYCO_API_ABI, .name = "notes", .prefix = "",
	.nroutes = sizeof(routes) / sizeof(routes[0]), .routes = routes,
	.cors = &cors, .max_body = 64 * 1024,
};

int main(int argc, char **argv)
{
	myco_api_t *api;
	char err[256];
	int port = argc > 1 ? atoi(argv[1]) : 8081, rc;

	if (port <= 0 || port > 65535) {
		fprintf(stderr, "usage: %s [PORT]\n", argv[0]);
		return 2;
	}
	rc = myco_api_create(&api, &service, NULL, err, sizeof(err));
	if (rc < 0) {
		fprintf(stderr, "notes: route table: %s\n", err);
		return 1;
	}
	rc = myco_api_serve(api, "127.0.0.1", (uint16_t)port, 0);
	myco_api_destroy(api);
	return rc < 0 ? 1 : 0;
}
