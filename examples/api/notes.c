/*
 * notes.c: a small REST service on the API framework (myco/api.h): notes
 * with a title, a body and a done flag, kept in memory.  The messages and
 * the route table come from notes.myco through `myco gen` (notes.h, made at
 * build time); this file holds the handlers it names.  Every input reaches
 * them typed and validated (the framework answers 400/404/405/415 itself).
 * Run:
 *     build/examples/api/myco-example-notes [PORT]
 * and see README.md for requests to try.
 */
#include "myco/api.h"

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
int list_notes(const myco_api_req_t *req, myco_api_resp_t *resp)
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

int create_note(const myco_api_req_t *req, myco_api_resp_t *resp)
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

int get_note(const myco_api_req_t *req, myco_api_resp_t *resp)
{
	const notes_get_note_params *p = req->params;
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

int put_note(const myco_api_req_t *req, myco_api_resp_t *resp)
{
	const notes_put_note_params *p = req->params;
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

int delete_note(const myco_api_req_t *req, myco_api_resp_t *resp)
{
	const notes_delete_note_params *p = req->params;
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

int health(const myco_api_req_t *req, myco_api_resp_t *resp)
{
	Health *h = myco_api_body(resp);

	(void)req;
	memcpy(h->status, "ok", 2);
	pthread_mutex_lock(&mu);
	h->notes = (uint32_t)nnotes;
	pthread_mutex_unlock(&mu);
	return 0;
}

int main(int argc, char **argv)
{
	myco_api_t *api;
	char err[256];
	int port = argc > 1 ? atoi(argv[1]) : 8081, rc;

	if (port <= 0 || port > 65535) {
		fprintf(stderr, "usage: %s [PORT]\n", argv[0]);
		return 2;
	}
	rc = myco_api_create(&api, &notes_service, NULL, err, sizeof(err));
	if (rc < 0) {
		fprintf(stderr, "notes: route table: %s\n", err);
		return 1;
	}
	rc = myco_api_serve(api, "127.0.0.1", (uint16_t)port, 0);
	myco_api_destroy(api);
	return rc < 0 ? 1 : 0;
}
