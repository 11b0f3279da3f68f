/*
 * kv_hiredis.c: a small hiredis client driven by kv_test.py (scenario
 * hiredis): synchronous commands with binary-safe arguments, a pipeline,
 * MULTI/EXEC, error replies (RESP2: Debian's hiredis 0.14).  Exits
 * non-zero with a message at the first reply that is not what Redis gives.
 * Not for: load (bench/kv uses redis-benchmark).
 */
#include <hiredis/hiredis.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failures;

static void check(int ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "hiredis check failed: %s\n", what);
		failures++;
	}
}

static redisReply *cmd(redisContext *c, const char *fmt, ...)
{
	va_list ap;
	redisReply *r;
	va_start(ap, fmt);
	r = redisvCommand(c, fmt, ap);
	va_end(ap);
	if (!r) {
		fprintf(stderr, "hiredis: connection error: %s\n", c->errstr);
		exit(1);
	}
	return r;
}

int main(int argc, char **argv)
{
	redisContext *c;
	redisReply *r;
	const char bin[] = { 'a', 0, 'b', '\r', '\n' };
	int i;

	if (argc != 3) {
		fprintf(stderr, "usage: kv_hiredis HOST PORT\n");
		return 2;
	}
	c = redisConnect(argv[1], atoi(argv[2]));
	if (!c || c->err) {
		fprintf(stderr, "connect: %s\n", c ? c->errstr : "oom");
		return 1;
	}
	r = cmd(c, "SET %b %b", "bin", (size_t)3, bin, sizeof(bin));
	check(r->type == REDIS_REPLY_STATUS && !strcmp(r->str, "OK"), "SET binary");
	freeReplyObject(r);
	r = cmd(c, "GET bin");
	check(r->type == REDIS_REPLY_STRING && r->len == sizeof(bin) &&
	      !memcmp(r->str, bin, sizeof(bin)), "GET binary");
	freeReplyObject(r);
	r = cmd(c, "INCRBY n %d", 41);
	check(r->type == REDIS_REPLY_INTEGER && r->integer == 41, "INCRBY");
	freeReplyObject(r);
	r = cmd(c, "GET nosuch");
	check(r->type == REDIS_REPLY_NIL, "GET missing is nil");
	freeReplyObject(r);
	r = cmd(c, "LPUSH bin x");
	check(r->type == REDIS_REPLY_ERROR && !strncmp(r->str, "WRONGTYPE ", 10), "WRONGTYPE");
	freeReplyObject(r);
	/* pipeline of 1000 */
	for (i = 0; i < 1000; i++)
		redisAppendCommand(c, "RPUSH pl %d", i);
	for (i = 0; i < 1000; i++) {
		if (redisGetReply(c, (void **)&r) != REDIS_OK) {
			fprintf(stderr, "pipeline: %s\n", c->errstr);
			return 1;
		}
		check(r->type == REDIS_REPLY_INTEGER && r->integer == i + 1, "pipelined RPUSH");
		freeReplyObject(r);
	}
	/* MULTI/EXEC */
	freeReplyObject(cmd(c, "MULTI"));
	r = cmd(c, "INCR n");
	check(r->type == REDIS_REPLY_STATUS && !strcmp(r->str, "QUEUED"), "QUEUED");
	freeReplyObject(r);
	freeReplyObject(cmd(c, "LLEN pl"));
	r = cmd(c, "EXEC");
	check(r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
	      r->element[0]->integer == 42 && r->element[1]->integer == 1000, "EXEC");
	freeReplyObject(r);
	/* Debian's hiredis 0.14 speaks RESP2 only: RESP3 is covered by
	 * redis-cli -3 and kv_test.py's own reader. */
	freeReplyObject(cmd(c, "ZADD z 2.5 m"));
	r = cmd(c, "ZSCORE z m");
	check(r->type == REDIS_REPLY_STRING && !strcmp(r->str, "2.5"), "ZSCORE");
	freeReplyObject(r);
	freeReplyObject(cmd(c, "HSET h f v"));
	r = cmd(c, "HGETALL h");
	check(r->type == REDIS_REPLY_ARRAY && r->elements == 2, "HGETALL");
	freeReplyObject(r);
	r = cmd(c, "NOSUCH x");
	check(r->type == REDIS_REPLY_ERROR &&
	      !strcmp(r->str, "ERR unknown command 'NOSUCH', with args beginning with: 'x' "),
	      "unknown command text");
	freeReplyObject(r);
	redisFree(c);
	if (failures)
		return 1;
	printf("hiredis: all checks passed\n");
	return 0;
}
