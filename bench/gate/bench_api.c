/*
 * bench_api.c: myco-bench-gate-api, the TechEmpower-style handlers of
 * myco-bench-gate on the API framework: GET /plaintext answers
 * "Hello, World!" (text/plain), GET /json encodes a response message
 * {"message":"Hello, World!"} through the framework's JSON encoder on
 * every request.  usage: myco-bench-gate-api PORT [LOOPS]
 */
#include "myco/api.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct Message { char message[32]; } Message;

static const myco_api_field_t msg_fields[] = {
	MYCO_API_STRFIELD(Message, message, MYCO_API_T_STRING, 0),
};
static const myco_api_msg_t msg_type = MYCO_API_MSG(Message, msg_fields);

static int plaintext(const myco_api_req_t *req, myco_api_resp_t *resp)
{
	(void)req;
	return myco_api_raw(resp, "text/plain", "Hello, World!", 13);
}

static int json(const myco_api_req_t *req, myco_api_resp_t *resp)
{
	Message *m = myco_api_body(resp);
	(void)req;
	memcpy(m->message, "Hello, World!", 13);
	return 0;
}

static const myco_api_seg_t s_plain[] = { MYCO_API_LIT("plaintext") };
static const myco_api_seg_t s_json[] = { MYCO_API_LIT("json") };
static const myco_api_route_t routes[] = {
	{ .method = MYCO_API_GET, .pattern = "/plaintext", .nsegs = 1, .segs = s_plain,
	  .handler = plaintext, .name = "plaintext" },
	{ .method = MYCO_API_GET, .pattern = "/json", .nsegs = 1, .segs = s_json,
	  .response = &msg_type, .handler = json, .name = "json" },
};
static const myco_api_service_t svc = {
	.abi = MYCO_API_ABI, .name = "bench", .nroutes = 2, .routes = routes,
};

int main(int argc, char **argv)
{
	myco_api_t *api;
	char err[200];

	if (argc < 2) {
		fprintf(stderr, "usage: %s PORT [LOOPS]\n", argv[0]);
		return 2;
	}
	if (myco_api_create(&api, &svc, NULL, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	return myco_api_serve(api, "127.0.0.1", (uint16_t)atoi(argv[1]),
			      argc > 2 ? (unsigned)atoi(argv[2]) : 1) < 0;
}
