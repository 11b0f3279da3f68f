/* test_parts.c: unit tests for myco-gate's configuration parser (every
 * setting, and errors naming their line), the same configuration written
 * as a partition's `gateway { }` section of a system file (lowered by
 * lib/lang, then parsed here: the same settings), the response cache (TTL, LRU
 * order, hyperbolic keeping popular entries, threads), and the token
 * bucket rate limiter. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "gate_int.h"
#include "myco/lang.h"

static const char good[] =
	"# a comment\n"
	"listen 127.0.0.1:9000;  // another\n"
	"loops 2; max_body 2MiB; timeout header 5s; timeout idle 30s; timeout body 1m;\n"
	"cache 16MiB lru; access_log off;\n"
	"upstream app {\n"
	"  server 127.0.0.1:9001 weight 3;\n"
	"  server [::1]:9002;\n"
	"  balance hash header X-User;\n"
	"  keepalive 16 idle 10s;\n"
	"  timeout connect 250ms; timeout read 2s; timeout write 1s; timeout header 3s;\n"
	"  health /healthz interval 500ms timeout 100ms fails 3 passes 2;\n"
	"  eject after 5 for 30s;\n"
	"  retries 2 budget 10%;\n"
	"}\n"
	"route /api/ host api.example {\n"
	"  proxy app; strip_prefix; websocket on; cache 5s;\n"
	"  request_header set X-From \"gate\"; request_header remove Cookie;\n"
	"  response_header add X-Served-By myco;\n"
	"  rate_limit 100/s burst 20 key header X-Key;\n"
	"}\n"
	"route /hello { respond 200 \"Hello, World!\" type text/plain; }\n"
	"tls cert \"/etc/c.pem\" key /etc/k.pem; tls sni a.example cert a.pem key a.key;\n";

static void test_conf_good(void **state)
{
	myco__gate_conf_t *cf;
	char err[256];
	(void)state;

	assert_int_equal(myco__conf_parse(good, sizeof(good) - 1, &cf, err, sizeof(err)), 0);
	assert_string_equal(cf->listen_host, "127.0.0.1");
	assert_int_equal(cf->listen_port, 9000);
	assert_int_equal(cf->loops, 2);
	assert_int_equal(cf->max_body, 2u << 20);
	assert_int_equal(cf->body_timeout_ns, 60000000000ull);
	assert_int_equal(cf->cache_policy, MYCO__CACHE_LRU);
	assert_int_equal(cf->npools, 1);
	assert_int_equal(cf->pools[0].nservers, 2);
	assert_string_equal(cf->pools[0].servers[1].host, "::1");
	assert_int_equal(cf->pools[0].servers[0].weight, 3);
	assert_int_equal(cf->pools[0].nwrr, 4);
	assert_int_equal(cf->pools[0].balance, MYCO__LB_HASH);
	assert_string_equal(cf->pools[0].hash_header, "X-User");
	assert_int_equal(cf->pools[0].connect_timeout_ns, 250000000u);
	assert_int_equal(cf->pools[0].health_fails, 3);
	assert_int_equal(cf->pools[0].eject_after, 5);
	assert_true(cf->pools[0].retry_budget > 0.09 && cf->pools[0].retry_budget < 0.11);
	assert_int_equal(cf->nroutes, 2);
	assert_ptr_equal(cf->routes[0].pool, &cf->pools[0]);
	assert_string_equal(cf->routes[0].host, "api.example");
	assert_true(cf->routes[0].strip_prefix && cf->routes[0].websocket);
	assert_int_equal(cf->routes[0].nreq_ops, 2);
	assert_string_equal(cf->routes[0].req_ops[0].value, "gate");
	assert_non_null(cf->routes[0].rl);
	assert_int_equal(cf->routes[1].fixed_status, 200);
	assert_int_equal(cf->routes[1].fixed_len, 13);
	assert_string_equal(cf->tls_cert, "/etc/c.pem");
	assert_string_equal(cf->tls_key, "/etc/k.pem");
	assert_int_equal(cf->nsni, 1);
	assert_string_equal(cf->sni[0].name, "a.example");
	/* weighted round robin is smooth: 0 1 0 0 or similar, 3:1 */
	{
		unsigned n0 = 0, i;
		for (i = 0; i < 4; i++)
			n0 += cf->pools[0].wrr[i] == 0;
		assert_int_equal(n0, 3);
	}
	myco__conf_put(cf);
}

static void expect_bad(const char *text, const char *msg)
{
	myco__gate_conf_t *cf = NULL;
	char err[256];

	assert_int_equal(myco__conf_parse(text, strlen(text), &cf, err, sizeof(err)), -MYCO_ESYNTAX);
	assert_null(cf);
	if (strcmp(err, msg) != 0)
		fail_msg("%s\n  got  %s\n  want %s", text, err, msg);
}

/* `good` above as a gateway section: statement by statement the same,
 * in .myco syntax (quoted strings, units after a space, `per s`), routes
 * before the upstream they use, TLS last. */
static const char good_sys[] =
	"system s {\n"
	"  partition edge {\n"
	"    program \"./myco-gate\";\n"
	"    gateway {\n"
	"      listen \"127.0.0.1:9000\";\n"
	"      loops 2; max_body 2 MiB; timeout header 5 s; timeout idle 30 s; timeout body 60 s;\n"
	"      cache 16 MiB lru; access_log off;\n"
	"      route \"/api/\" host \"api.example\" {\n"
	"        proxy app; strip_prefix; websocket on; cache 5 s;\n"
	"        request_header set \"X-From\" \"gate\"; request_header remove \"Cookie\";\n"
	"        response_header add \"X-Served-By\" \"myco\";\n"
	"        rate_limit 100 per s burst 20 key header \"X-Key\";\n"
	"      }\n"
	"      route \"/hello\" { respond 200 \"Hello, World!\" type \"text/plain\"; }\n"
	"      upstream app {\n"
	"        server \"127.0.0.1:9001\" weight 3;\n"
	"        server \"[::1]:9002\";\n"
	"        balance hash header \"X-User\";\n"
	"        keepalive 16 idle 10 s;\n"
	"        timeout connect 250 ms; timeout read 2 s; timeout write 1 s; timeout header 3 s;\n"
	"        health \"/healthz\" interval 500 ms timeout 100 ms fails 3 passes 2;\n"
	"        eject after 5 for 30 s;\n"
	"        retries 2 budget 10 %;\n"
	"      }\n"
	"      tls cert \"/etc/c.pem\" key \"/etc/k.pem\"; tls sni \"a.example\" cert \"a.pem\" key \"a.key\";\n"
	"    }\n"
	"  }\n"
	"}\n";

static void test_conf_system(void **state)
{
	myco__gate_conf_t *a, *b;
	myco_system_t *sys = NULL;
	myco_diags_t *d = NULL;
	char err[256];
	(void)state;

	assert_int_equal(myco_lang_load_buffer("gate.myco", good_sys, sizeof(good_sys) - 1, &sys, &d), 0);
	myco_diags_free(d);
	assert_int_equal(sys->npartitions, 1);
	assert_non_null(sys->partitions[0].gateway);
	assert_int_equal(myco__conf_parse(sys->partitions[0].gateway, strlen(sys->partitions[0].gateway),
					  &b, err, sizeof(err)), 0);
	assert_int_equal(myco__conf_parse(good, sizeof(good) - 1, &a, err, sizeof(err)), 0);
	assert_string_equal(a->listen_host, b->listen_host);
	assert_int_equal(a->listen_port, b->listen_port);
	assert_int_equal(a->loops, b->loops);
	assert_int_equal(a->max_body, b->max_body);
	assert_int_equal(a->splice_min, b->splice_min);
	assert_int_equal(a->header_timeout_ns, b->header_timeout_ns);
	assert_int_equal(a->body_timeout_ns, b->body_timeout_ns);
	assert_int_equal(a->idle_timeout_ns, b->idle_timeout_ns);
	assert_int_equal(a->cache_bytes, b->cache_bytes);
	assert_int_equal(a->cache_policy, b->cache_policy);
	assert_int_equal(a->access_log, b->access_log);
	assert_string_equal(a->tls_cert, b->tls_cert);
	assert_string_equal(a->tls_key, b->tls_key);
	assert_int_equal(a->nsni, b->nsni);
	assert_string_equal(a->sni[0].name, b->sni[0].name);
	assert_int_equal(a->npools, 1);
	assert_int_equal(b->npools, 1);
	{
		myco__pool_t *x = &a->pools[0], *y = &b->pools[0];
		assert_string_equal(x->name, y->name);
		assert_int_equal(x->nservers, y->nservers);
		for (size_t i = 0; i < x->nservers; i++) {
			assert_string_equal(x->servers[i].host, y->servers[i].host);
			assert_int_equal(x->servers[i].port, y->servers[i].port);
			assert_int_equal(x->servers[i].weight, y->servers[i].weight);
		}
		assert_int_equal(x->balance, y->balance);
		assert_int_equal(x->hash_on, y->hash_on);
		assert_string_equal(x->hash_header, y->hash_header);
		assert_int_equal(x->keepalive, y->keepalive);
		assert_int_equal(x->idle_timeout_ns, y->idle_timeout_ns);
		assert_int_equal(x->connect_timeout_ns, y->connect_timeout_ns);
		assert_int_equal(x->write_timeout_ns, y->write_timeout_ns);
		assert_int_equal(x->header_timeout_ns, y->header_timeout_ns);
		assert_int_equal(x->read_timeout_ns, y->read_timeout_ns);
		assert_string_equal(x->health_path, y->health_path);
		assert_int_equal(x->health_interval_ns, y->health_interval_ns);
		assert_int_equal(x->health_timeout_ns, y->health_timeout_ns);
		assert_int_equal(x->health_fails, y->health_fails);
		assert_int_equal(x->health_passes, y->health_passes);
		assert_int_equal(x->eject_after, y->eject_after);
		assert_int_equal(x->eject_ns, y->eject_ns);
		assert_int_equal(x->retries, y->retries);
		assert_true(x->retry_budget == y->retry_budget);
	}
	assert_int_equal(a->nroutes, 2);
	assert_int_equal(b->nroutes, 2);
	for (size_t i = 0; i < 2; i++) {
		myco__route_t *x = &a->routes[i], *y = &b->routes[i];
		assert_string_equal(x->prefix, y->prefix);
		assert_string_equal(x->host, y->host);
		assert_int_equal(!!x->pool, !!y->pool);
		assert_int_equal(x->strip_prefix, y->strip_prefix);
		assert_int_equal(x->fixed_status, y->fixed_status);
		assert_string_equal(x->fixed_type, y->fixed_type);
		assert_int_equal(x->fixed_len, y->fixed_len);
		if (x->fixed_len)
			assert_memory_equal(x->fixed_body, y->fixed_body, x->fixed_len);
		assert_int_equal(x->nreq_ops, y->nreq_ops);
		assert_int_equal(x->nresp_ops, y->nresp_ops);
		for (size_t j = 0; j < x->nreq_ops; j++) {
			assert_int_equal(x->req_ops[j].op, y->req_ops[j].op);
			assert_string_equal(x->req_ops[j].name, y->req_ops[j].name);
			assert_string_equal(x->req_ops[j].value, y->req_ops[j].value);
		}
		assert_int_equal(!!x->rl, !!y->rl);
		assert_int_equal(x->rl_key, y->rl_key);
		assert_string_equal(x->rl_header, y->rl_header);
		assert_int_equal(x->cache_ttl_ns, y->cache_ttl_ns);
		assert_int_equal(x->websocket, y->websocket);
	}
	myco__conf_put(a);
	myco__conf_put(b);
	myco_system_free(sys);
	/* errors come back from the checker, with their code */
	{
		static const char bad[] =
			"system s { partition p { program \"./g\"; gateway {\n"
			"  route \"/\" { proxy nope; }\n} } }\n";
		assert_int_equal(myco_lang_load_buffer("bad.myco", bad, sizeof(bad) - 1, &sys, &d),
				 -MYCO_ESYNTAX);
		assert_null(sys);
		assert_int_equal(myco_diags_errors(d), 1);
		assert_string_equal(myco_diags_get(d, 0)->code, "E120");
		myco_diags_free(d);
	}
}

static void test_conf_bad(void **state)
{
	(void)state;
	expect_bad("listen 1.2.3.4;", "line 1: expected HOST:PORT, found '1.2.3.4'");
	expect_bad("listen 1.2.3.4:70000;", "line 1: bad number '70000' (0..65535)");
	expect_bad("\n\nbogus 1;", "line 3: unknown setting 'bogus'");
	expect_bad("upstream a { }", "line 1: upstream a has no server");
	expect_bad("upstream a { server x:1 weight 0; }", "line 1: weight must be 1..100");
	expect_bad("upstream a { server x:1; balance random; }",
		   "line 1: unknown balancing method 'random' (round_robin, least_conn, hash)");
	expect_bad("upstream a { server x:1; }\nupstream a { server y:1; }",
		   "line 2: upstream a defined twice");
	expect_bad("route /x { proxy nope; }",
		   "line 1: unknown upstream 'nope' (declare upstreams before routes)");
	expect_bad("route x { respond 200; }", "line 1: a route prefix starts with '/'");
	expect_bad("route /x { }", "line 1: route /x has no action (proxy NAME or respond STATUS)");
	expect_bad("route /x { respond 200 \"a\"; respond 200 \"b\"; }",
		   "line 1: a route has one action (proxy or respond)");
	expect_bad("route /x { respond 200 \"unterminated; }", "line 1: unterminated string");
	expect_bad("route /x { respond 200; request_header set Bad:Name v; }",
		   "line 1: 'Bad:Name' is not a valid header name");
	expect_bad("route /x { respond 200; rate_limit 10; }", "line 1: rate is N/s");
	expect_bad("timeout header 5;", "line 1: duration '5' needs a unit (us, ms, s, m)");
	expect_bad("max_body 5TB;", "line 1: size '5TB': unit must be B, KiB, MiB or GiB");
	expect_bad("route /x { respond 200; cache 1s; }",
		   "line 0: route /x caches but no 'cache SIZE;' is set");
	expect_bad("loops 2", "line 1: expected ';', found end of file");
	expect_bad("tls sni a.example cert c.pem key k.pem;",
		   "line 1: tls sni needs a default 'tls cert FILE key FILE;' too");
	expect_bad("tls cert c.pem;", "line 1: expected 'key', found ;");
	expect_bad("upstream a { server x:1; retries 2 budget 20; }",
		   "line 1: budget is a percentage like 20%");
}

static void test_cache_ttl_and_lru(void **state)
{
	myco__cache_t *c;
	char *v;
	size_t vl;
	char key[16];
	int i;
	(void)state;

	assert_int_equal(myco__cache_create(&c, 10 * (100 + 128), MYCO__CACHE_LRU, 0), 0);
	assert_int_equal(myco__cache_put(c, "a", 1, "value", 5, 1000, 100), 0);
	assert_int_equal(myco__cache_get(c, "a", 1, &v, &vl, 1050), 0);
	assert_int_equal(vl, 5);
	assert_memory_equal(v, "value", 5);
	free(v);
	assert_int_equal(myco__cache_get(c, "a", 1, NULL, NULL, 1100), -ENOENT);   /* expired */
	/* LRU: touch k0 repeatedly; inserting many more evicts others first */
	for (i = 0; i < 9; i++) {
		char val[100] = { 0 };
		snprintf(key, sizeof(key), "k%d", i);
		assert_int_equal(myco__cache_put(c, key, strlen(key), val, sizeof(val), 2000 + i, 1000000), 0);
		assert_int_equal(myco__cache_get(c, "k0", 2, NULL, NULL, 2000 + i), 0);
	}
	for (i = 9; i < 20; i++) {
		char val[100] = { 0 };
		snprintf(key, sizeof(key), "k%d", i);
		assert_int_equal(myco__cache_put(c, key, strlen(key), val, sizeof(val), 2000 + i, 1000000), 0);
		assert_int_equal(myco__cache_get(c, "k0", 2, NULL, NULL, 2000 + i), 0);
	}
	assert_int_equal(myco__cache_get(c, "k1", 2, NULL, NULL, 3000), -ENOENT);
	assert_int_equal(myco__cache_put(c, "big", 3, key, 100000, 3000, 10), -E2BIG);
	myco__cache_destroy(c);
}

static void test_cache_hyperbolic(void **state)
{
	myco__cache_t *c;
	uint64_t now = 1000000;
	char key[16], val[100] = { 0 };
	int i, j;
	(void)state;

	/* room for ~10 entries; "hot" gets many hits, then 100 one-hit
	 * entries stream through: hyperbolic keeps "hot" */
	assert_int_equal(myco__cache_create(&c, 10 * (100 + 128), MYCO__CACHE_HYPERBOLIC, 64), 0);
	assert_int_equal(myco__cache_put(c, "hot", 3, val, sizeof(val), now, 1ull << 40), 0);
	for (j = 0; j < 50; j++)
		assert_int_equal(myco__cache_get(c, "hot", 3, NULL, NULL, now + (uint64_t)j), 0);
	for (i = 0; i < 100; i++) {
		snprintf(key, sizeof(key), "s%d", i);
		now += 10;
		assert_int_equal(myco__cache_put(c, key, strlen(key), val, sizeof(val), now, 1ull << 40), 0);
	}
	assert_int_equal(myco__cache_get(c, "hot", 3, NULL, NULL, now), 0);
	{
		uint64_t ev;
		size_t n;
		myco__cache_stats(c, NULL, NULL, &ev, NULL, &n);
		assert_true(ev >= 85);
		assert_true(n <= 13);
	}
	myco__cache_destroy(c);
}

static void *cache_thread(void *arg)
{
	myco__cache_t *c = arg;
	char key[16], *v;
	size_t vl;
	int i;

	for (i = 0; i < 20000; i++) {
		snprintf(key, sizeof(key), "k%d", i % 500);
		if (myco__cache_get(c, key, strlen(key), &v, &vl, (uint64_t)i) == 0)
			free(v);
		else
			myco__cache_put(c, key, strlen(key), key, strlen(key), (uint64_t)i, 1000000);
	}
	return NULL;
}

static void test_cache_threads(void **state)
{
	myco__cache_t *c;
	pthread_t t[4];
	int i;
	(void)state;

	assert_int_equal(myco__cache_create(&c, 32u << 20, MYCO__CACHE_HYPERBOLIC, 16), 0);
	for (i = 0; i < 4; i++)
		pthread_create(&t[i], NULL, cache_thread, c);
	for (i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	{
		uint64_t h, m;
		size_t n;
		myco__cache_stats(c, &h, &m, NULL, NULL, &n);
		assert_int_equal(h + m, 80000);
		assert_int_equal(n, 500);
	}
	myco__cache_destroy(c);
}

static void test_rate_limit(void **state)
{
	myco__rl_t *rl;
	uint64_t t = 1000000000ull, wait = 0;
	int i;
	(void)state;

	assert_int_equal(myco__rl_create(&rl, 10, 5, 100), 0);
	for (i = 0; i < 5; i++)
		assert_true(myco__rl_take(rl, "a", 1, t, &wait));
	assert_false(myco__rl_take(rl, "a", 1, t, &wait));
	assert_true(wait > 99000000 && wait <= 100000001);    /* 1 token at 10/s */
	assert_true(myco__rl_take(rl, "b", 1, t, &wait));     /* other key */
	assert_false(myco__rl_take(rl, "a", 1, t + 50000000, &wait));
	assert_true(myco__rl_take(rl, "a", 1, t + 100000000, &wait));
	/* bounded keys */
	for (i = 0; i < 1000; i++) {
		char k[16];
		snprintf(k, sizeof(k), "key%d", i);
		assert_true(myco__rl_take(rl, k, strlen(k), t + 200000000, &wait));
	}
	myco__rl_destroy(rl);
	assert_int_equal(myco__rl_create(&rl, 0, 5, 100), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_conf_good),
		cmocka_unit_test(test_conf_bad),
		cmocka_unit_test(test_conf_system),
		cmocka_unit_test(test_cache_ttl_and_lru),
		cmocka_unit_test(test_cache_hyperbolic),
		cmocka_unit_test(test_cache_threads),
		cmocka_unit_test(test_rate_limit),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
