/*
 * test_lang.c: cmocka unit tests of lib/lang: units and number scaling, the
 * lexer, the parser's statement tree and its bounds, the checked model
 * (layout, channel ends, groups, schedule), diagnostics (codes, JSON,
 * recovery), fmt (canonical output, comments, idempotence), gen and the
 * explain table, plus deterministic robustness loops over mutated input.
 * Not for: the file corpus (tests/lang) or fuzzing (tests/fuzz/lang).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lang_int.h"

#ifndef MYCO_SANITIZED
#define MYCO_SANITIZED 0
#endif

static const char *good =
	"// header comment\n"
	"system plant {\n"
	"    machine { cores 2; memory 1 GiB; }\n"
	"    enum Mode: u16 { off = 0; on = 2; }\n"
	"    message Inner { a: u8 = 1; b: u32 = 2; m: Mode = 3; }\n"
	"    message Outer {\n"
	"        flag: bool = 3;\n"
	"        inner: Inner[2] = 2;\n"
	"        name: string[5] = 1;\n"
	"        big: f64 = 4;\n"
	"    }\n"
	"    channel data queue { type Outer; depth 8; overflow reject; }\n"
	"    channel cfg call { request Inner; reply Outer; timeout 1.5 ms; inflight fail; }\n"
	"    channel st sample { type Inner; refresh 100ms; }\n"
	"    partition src { program \"./src\"; args \"-v\", \"x y\"; env K = \"v\";\n"
	"        cores 1, 0; budget 1 ms per 4 ms; memory 10 MiB; scheduler edf;\n"
	"        send data, st; call cfg; listen 80; path \"/tmp\" ro; net;\n"
	"        restart transient; heartbeat 20 ms; misses 5; readiness required; }\n"
	"    partition dst { program \"./dst\"; frame; cores 1; recv data, st; }\n"
	"    partition srv { program \"./srv\"; serve cfg; }\n"
	"    group g { strategy rest_for_one; restarts 4 within 2 s; members dst, src; }\n"
	"    schedule { major_frame 10 ms;\n"
	"        core 1 { window dst at 5 ms for 1 ms; window dst at 0 ms for 2 ms; } }\n"
	"}\n";

static myco_system_t *load_ok(const char *src)
{
	myco_system_t *sys = NULL;
	myco_diags_t *d = NULL;
	int rc = myco_lang_load_buffer("t.myco", src, strlen(src), &sys, &d);
	if (rc)
		myco_diags_print(d, stderr, false);
	assert_int_equal(rc, 0);
	assert_non_null(sys);
	myco_diags_free(d);
	return sys;
}

/* Load src expecting errors; returns the codes joined by ','. */
static char *codes_of(const char *src, unsigned flags)
{
	myco_system_t *sys = NULL;
	myco_diags_t *d = NULL;
	static char buf[4096];
	int rc = myco_lang_load_buffer_flags("t.myco", src, strlen(src), flags, &sys, &d);
	buf[0] = 0;
	for (size_t i = 0; i < myco_diags_count(d); i++) {
		const myco_diag_t *g = myco_diags_get(d, i);
		strncat(buf, g->code, sizeof(buf) - strlen(buf) - 2);
		strcat(buf, ",");
	}
	if (myco_diags_errors(d))
		assert_int_equal(rc, -MYCO_ESYNTAX);
	assert_true(rc == 0 || sys == NULL);
	myco_system_free(sys);
	myco_diags_free(d);
	return buf;
}

static void test_units(void **state)
{
	(void)state;
	uint64_t v, m;
	assert_int_equal(myco__num_scale("12", 1000, &v), 0);
	assert_int_equal(v, 12000);
	assert_int_equal(myco__num_scale("1.5", 1000000, &v), 0);
	assert_int_equal(v, 1500000);
	assert_int_equal(myco__num_scale("1.5", 1, &v), -EDOM);
	assert_int_equal(myco__num_scale("18446744073709551615", 1, &v), 0);
	assert_int_equal(v, UINT64_MAX);
	assert_int_equal(myco__num_scale("18446744073709551616", 1, &v), -ERANGE);
	assert_int_equal(myco__num_scale("18446744074", 1000000000, &v), -ERANGE);
	assert_int_equal(myco__num_scale("0.000000001", 1000000000, &v), 0);
	assert_int_equal(v, 1);
	assert_true(myco__is_time_unit("us", &m) && m == 1000);
	assert_true(myco__is_size_unit("GiB", &m) && m == (1ull << 30));
	assert_false(myco__is_size_unit("GB", &m));
	assert_false(myco__is_time_unit("min", &m));
}

static void test_lexer(void **state)
{
	(void)state;
	const char *src = "a_1 42 3.25 \"x\\ty\\x41\" {};,:=[] // c\n/* b\n */ z";
	myco__arena_t a = { 0 };
	myco_diags_t *d = myco__diags_new();
	myco__lexer_t lx;
	myco__tok_t t;
	myco__lex_init(&lx, "t", src, strlen(src), &a, d);
	myco__lex_next(&lx, &t);
	assert_int_equal(t.kind, MYCO__T_IDENT);
	assert_string_equal(t.text, "a_1");
	myco__lex_next(&lx, &t);
	assert_int_equal(t.kind, MYCO__T_NUM);
	assert_string_equal(t.text, "42");
	myco__lex_next(&lx, &t);
	assert_string_equal(t.text, "3.25");
	myco__lex_next(&lx, &t);
	assert_int_equal(t.kind, MYCO__T_STR);
	assert_string_equal(t.text, "x\tyA");
	const char *p = "{};,:=[]";
	for (; *p; p++) {
		myco__lex_next(&lx, &t);
		assert_int_equal(t.kind, MYCO__T_PUNCT);
		assert_int_equal(t.punct, *p);
	}
	myco__lex_next(&lx, &t);
	assert_int_equal(t.kind, MYCO__T_IDENT);
	assert_int_equal(t.line, 3);
	myco__lex_next(&lx, &t);
	assert_int_equal(t.kind, MYCO__T_EOF);
	assert_int_equal(lx.ncoms, 2);
	assert_true(lx.coms[0].trailing);
	assert_string_equal(lx.coms[1].text, "/* b\n */");
	assert_int_equal(myco_diags_count(d), 0);
	myco__lex_free(&lx);
	myco__arena_free(&a);
	myco_diags_free(d);
}

static void test_parser_tree(void **state)
{
	(void)state;
	const char *src = "system s { machine { cores 2; } partition p { budget 10ms per 1 s; } }";
	myco__arena_t a = { 0 };
	myco_diags_t *d = myco__diags_new();
	myco__tree_t t;
	assert_int_equal(myco__parse("t", src, strlen(src), &a, d, &t), 0);
	assert_int_equal(myco_diags_count(d), 0);
	assert_int_equal(t.ntop, 1);
	myco__stmt_t *s = t.top[0];
	assert_true(s->block);
	assert_int_equal(s->nkids, 2);
	myco__stmt_t *b = s->kids[1]->kids[0];
	assert_int_equal(b->nargs, 4);
	assert_int_equal(b->args[1].kind, MYCO__A_QTY);
	assert_string_equal(b->args[1].unit, "ms");
	assert_int_equal(b->args[3].kind, MYCO__A_QTY);
	myco__tree_free(&t);
	myco__arena_free(&a);
	myco_diags_free(d);
}

static void test_depth_bound(void **state)
{
	(void)state;
	size_t n = 200000;
	char *src = malloc(n * 4 + 16);
	size_t k = 0;
	k += (size_t)sprintf(src, "system s ");
	for (size_t i = 0; i < n; i++) {
		memcpy(src + k, "a { ", 4);
		k += 4;
	}
	src[k] = 0;
	char *codes = codes_of(src, 0);
	assert_non_null(strstr(codes, "E008"));
	/* also unbalanced closing braces and long runs of junk */
	memset(src, '}', n);
	src[n] = 0;
	codes = codes_of(src, 0);
	assert_non_null(strstr(codes, "E009"));
	free(src);
}

static void test_model(void **state)
{
	(void)state;
	myco_system_t *sys = load_ok(good);
	assert_string_equal(sys->name, "plant");
	assert_int_equal(sys->machine_cores, 2);
	assert_int_equal(sys->machine_memory, 1ull << 30);
	/* enum */
	uint32_t ei = myco_system_find_enum(sys, "Mode");
	assert_int_equal(ei, 0);
	assert_int_equal(sys->nenums, 1);
	assert_int_equal(sys->enums[0].base, MYCO_FT_U16);
	assert_int_equal(sys->enums[0].nvalues, 2);
	assert_string_equal(sys->enums[0].values[1].name, "on");
	assert_int_equal(sys->enums[0].values[1].value, 2);
	/* layout: Inner {a u8 @0, b u32 @4, m u16 @8} size 12 align 4 */
	uint32_t ii = myco_system_find_msg(sys, "Inner");
	uint32_t oi = myco_system_find_msg(sys, "Outer");
	assert_int_not_equal(ii, MYCO_LANG_NONE);
	assert_int_equal(sys->msgs[ii].size, 12);
	assert_int_equal(sys->msgs[ii].align, 4);
	assert_int_equal(sys->msgs[ii].fields[2].type, MYCO_FT_ENUM);
	assert_int_equal(sys->msgs[ii].fields[2].enum_type, ei);
	assert_int_equal(sys->msgs[ii].fields[2].offset, 8);
	assert_int_equal(sys->msgs[ii].fields[0].enum_type, MYCO_LANG_NONE);
	/* Outer in ordinal order: name string[5] @0, inner Inner[2] @8 (24 B),
	 * flag bool @32, big f64 @40; size 48 align 8 */
	const myco_msgtype_t *o = &sys->msgs[oi];
	assert_int_equal(o->nfields, 4);
	assert_string_equal(o->fields[0].name, "name");
	assert_int_equal(o->fields[0].offset, 0);
	assert_int_equal(o->fields[0].length, 5);
	assert_string_equal(o->fields[1].name, "inner");
	assert_int_equal(o->fields[1].offset, 8);
	assert_int_equal(o->fields[1].size, 24);
	assert_int_equal(o->fields[1].array_len, 2);
	assert_int_equal(o->fields[1].msg, ii);
	assert_int_equal(o->fields[2].offset, 32);
	assert_int_equal(o->fields[3].offset, 40);
	assert_int_equal(o->size, 48);
	assert_int_equal(o->align, 8);
	/* channels */
	const myco_channel_t *data = &sys->channels[myco_system_find_channel(sys, "data")];
	uint32_t src = myco_system_find_partition(sys, "src");
	uint32_t dst = myco_system_find_partition(sys, "dst");
	uint32_t srv = myco_system_find_partition(sys, "srv");
	assert_int_equal(data->kind, MYCO_LANG_QUEUE);
	assert_int_equal(data->depth, 8);
	assert_int_equal(data->overflow, MYCO_OVERFLOW_REJECT);
	assert_int_equal(data->msg_size, 48);
	assert_int_equal(data->receiver, dst);
	assert_int_equal(data->nsenders, 1);
	assert_int_equal(data->senders[0], src);
	const myco_channel_t *cfg = &sys->channels[myco_system_find_channel(sys, "cfg")];
	assert_int_equal(cfg->timeout_ns, 1500000);
	assert_int_equal(cfg->inflight, MYCO_INFLIGHT_FAIL);
	assert_string_equal(myco_inflight_name(cfg->inflight), "fail");
	assert_int_equal(cfg->server, srv);
	assert_int_equal(cfg->nclients, 1);
	assert_int_equal(cfg->request_size, 12);
	assert_int_equal(cfg->reply_size, 48);
	const myco_channel_t *st = &sys->channels[myco_system_find_channel(sys, "st")];
	assert_int_equal(st->refresh_ns, 100000000);
	/* partition */
	const myco_partition_t *p = &sys->partitions[src];
	assert_string_equal(p->program, "./src");
	assert_int_equal(p->argc, 3);
	assert_string_equal(p->argv[0], "./src");
	assert_string_equal(p->argv[2], "x y");
	assert_null(p->argv[3]);
	assert_int_equal(p->nenv, 1);
	assert_string_equal(p->env[0], "K=v");
	assert_null(p->env[1]);
	assert_int_equal(p->ncores, 2);
	assert_int_equal(p->cores[0], 0);
	assert_int_equal(p->core_mask, 3);
	assert_int_equal(p->mode, MYCO_MODE_BUDGET);
	assert_int_equal(p->runtime_ns, 1000000);
	assert_int_equal(p->period_ns, 4000000);
	assert_int_equal(p->memory_bytes, 10ull << 20);
	assert_string_equal(p->scheduler, "edf");
	assert_int_equal(p->nends, 3);
	assert_int_equal(p->ends[2].role, MYCO_END_CALL);
	assert_int_equal(p->nports, 1);
	assert_int_equal(p->ports[0], 80);
	assert_false(p->paths[0].rw);
	assert_true(p->net);
	assert_int_equal(p->restart, MYCO_RESTART_TRANSIENT);
	assert_int_equal(p->heartbeat_ns, 20000000);
	assert_int_equal(p->misses, 5);
	assert_true(p->ready);
	assert_int_equal(p->pos.line, 15);
	/* group: declared order */
	const myco_group_t *g = &sys->groups[0];
	assert_int_equal(g->strategy, MYCO_REST_FOR_ONE);
	assert_int_equal(g->max_restarts, 4);
	assert_int_equal(g->within_ns, 2000000000ull);
	assert_int_equal(g->nmembers, 2);
	assert_int_equal(g->members[0], dst);
	assert_int_equal(g->members[1], src);
	assert_int_equal(sys->partitions[dst].group, 0);
	assert_int_equal(sys->partitions[srv].group, MYCO_LANG_NONE);
	/* schedule sorted by offset */
	assert_int_equal(sys->schedule.major_ns, 10000000);
	assert_int_equal(sys->schedule.ncores, 1);
	assert_int_equal(sys->schedule.cores[0].core, 1);
	assert_int_equal(sys->schedule.cores[0].nwindows, 2);
	assert_int_equal(sys->schedule.cores[0].windows[0].offset_ns, 0);
	assert_int_equal(sys->schedule.cores[0].windows[1].offset_ns, 5000000);
	assert_int_equal(myco_system_find_partition(sys, "nope"), MYCO_LANG_NONE);
	/* JSON dump and graph run */
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	assert_int_equal(myco_lang_dump_json(sys, f), 0);
	assert_int_equal(myco_lang_graph_dot(sys, f), 0);
	assert_int_equal(myco_lang_gen_header(sys, f), 0);
	fclose(f);
	assert_non_null(strstr(buf, "\"runtime_ns\":1000000"));
	assert_non_null(strstr(buf, "\"src\" -> \"dst\""));
	assert_non_null(strstr(buf, "_Static_assert(offsetof(Outer, big) == 40"));
	assert_non_null(strstr(buf, "#define Mode_on ((Mode)2u)"));
	assert_non_null(strstr(buf, "\"enums\":["));
	assert_non_null(strstr(buf, "#define PLANT_CHAN_DATA \"data\""));
	free(buf);
	myco_system_free(sys);
}

static void test_diagnostics(void **state)
{
	(void)state;
	const char *src = "system s {\n  partition a { program \"./a\"; memroy 1 MiB; }\n"
			  "  partition a { program \"./b\"; }\n  group g { members b; }\n}\n";
	myco_system_t *sys = NULL;
	myco_diags_t *d = NULL;
	assert_int_equal(myco_lang_load_buffer("t.myco", src, strlen(src), &sys, &d), -MYCO_ESYNTAX);
	assert_null(sys);
	assert_int_equal(myco_diags_errors(d), 3);
	const myco_diag_t *g0 = myco_diags_get(d, 0);
	assert_string_equal(g0->code, "E010");
	assert_int_equal(g0->pos.line, 2);
	assert_int_equal(g0->pos.col, 32);
	assert_int_equal(g0->len, 6);
	assert_string_equal(g0->hint, "did you mean `memory`?");
	assert_string_equal(myco_diags_get(d, 1)->code, "E021");
	assert_string_equal(myco_diags_get(d, 2)->code, "E020");
	assert_null(myco_diags_get(d, 3));
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	myco_diags_print(d, f, false);
	myco_diags_print_json(d, f);
	fclose(f);
	assert_non_null(strstr(buf, "t.myco:2:32: error[E010]: unknown statement `memroy` in a partition\n"
				    " 2 |   partition a { program \"./a\"; memroy 1 MiB; }\n"
				    "   |                                ^~~~~~\n"
				    "  = hint: did you mean `memory`?\n"));
	assert_non_null(strstr(buf, "{\"severity\":\"error\",\"code\":\"E010\""));
	assert_non_null(strstr(buf, "3 errors, 0 warnings"));
	free(buf);
	myco_diags_free(d);
}

static void test_checks(void **state)
{
	(void)state;
	/* size limits */
	{
		size_t big = (16u << 20) + 1;
		char *b = malloc(big + 1);
		assert_non_null(b);
		memset(b, ' ', big);
		b[big] = 0;
		assert_string_equal(codes_of(b, 0), "E015,");
		free(b);
	}
	/* imports disabled */
	assert_string_equal(codes_of("import \"x.myco\";\nsystem s {}\n", MYCO_LANG_NO_IMPORTS), "E093,");
	/* utilisation exactly 1.0 is fine, above is not */
	assert_string_equal(codes_of("system s { partition a { program \"a\"; cores 0; budget 5 ms per 10 ms; }\n"
				     "partition b { program \"b\"; cores 0; budget 500 us per 1 ms; } }", 0), "");
	assert_string_equal(codes_of("system s { partition a { program \"a\"; cores 0; budget 5 ms per 10 ms; }\n"
				     "partition b { program \"b\"; cores 0; budget 501 us per 1 ms; } }", 0), "E061,");
	/* unpinned budgets against the machine's cores */
	assert_string_equal(codes_of("system s { machine { cores 1; } partition a { program \"a\"; budget 6 ms per 10 ms; }\n"
				     "partition b { program \"b\"; budget 6 ms per 10 ms; } }", 0), "E061,");
	/* touching windows do not overlap */
	assert_string_equal(codes_of("system s { partition a { program \"a\"; frame; }\n"
				     "schedule { major_frame 10 ms; core 0 { window a at 0 ms for 5 ms; window a at 5 ms for 5 ms; } } }", 0), "");
	/* self call is a cycle */
	assert_string_equal(codes_of("system s { message M { a: u8 = 1; } channel c call { request M; reply M; }\n"
				     "partition a { program \"a\"; call c; serve c; } }", 0), "E070,");
	/* the in-flight call policy: call channels only, retry by default */
	{
		myco_system_t *sys = load_ok("system s { message M { a: u8 = 1; }\n"
					     "channel c call { request M; reply M; }\n"
					     "partition a { program \"a\"; call c; }\n"
					     "partition b { program \"b\"; serve c; } }");
		assert_int_equal(sys->channels[0].inflight, MYCO_INFLIGHT_RETRY);
		myco_system_free(sys);
	}
	assert_string_equal(codes_of("system s { message M { a: u8 = 1; } channel q queue { type M; inflight fail; }\n"
				     "partition a { program \"a\"; send q; } partition b { program \"b\"; recv q; } }", 0), "E050,");
	assert_string_not_equal(codes_of("system s { message M { a: u8 = 1; } channel c call { request M; reply M; inflight drop; }\n"
					 "partition a { program \"a\"; call c; } partition b { program \"b\"; serve c; } }", 0), "");
	/* one missing semicolon is one error, not a cascade */
	assert_string_equal(codes_of("system s {\n partition a {\n  program \"a\"\n  memory 1 MiB;\n }\n}\n", 0), "E005,");
	/* nested message arrays and strings arrays */
	assert_string_equal(codes_of("system s { message M { a: string[4][3] = 1; b: bytes[2] = 2; c: i64[0] = 3; } }", 0), "E032,");
}

static void test_fmt(void **state)
{
	(void)state;
	const char *src =
		"// top\n"
		"system   s{machine{cores 2;memory 1GiB;}   // trailing\n"
		"\n\n\n"
		"  /* block\n     comment */\n"
		"message M{a:u8[4]=1;s:string[8] = 2;}\n"
		"partition p{program \"./p\\x01\";args \"a\",\"b\";budget 1.5ms per 10 ms;send c;}\n"
		"channel c queue{type M;} // after\n"
		"}\n"
		"// end\n";
	const char *want =
		"// top\n"
		"system s {\n"
		"    machine {\n"
		"        cores 2;\n"
		"        memory 1 GiB;\n"
		"    } // trailing\n"
		"\n"
		"    /* block\n     comment */\n"
		"    message M {\n"
		"        a: u8[4] = 1;\n"
		"        s: string[8] = 2;\n"
		"    }\n"
		"\n"
		"    partition p {\n"
		"        program \"./p\\x01\";\n"
		"        args \"a\", \"b\";\n"
		"        budget 1.5 ms per 10 ms;\n"
		"        send c;\n"
		"    }\n"
		"\n"
		"    channel c queue {\n"
		"        type M;\n"
		"    } // after\n"
		"}\n"
		"// end\n";
	char *out = NULL, *out2 = NULL;
	size_t n = 0, n2 = 0;
	assert_int_equal(myco_lang_fmt("t", src, strlen(src), &out, &n, NULL), 0);
	assert_string_equal(out, want);
	assert_int_equal(myco_lang_fmt("t", out, n, &out2, &n2, NULL), 0);
	assert_string_equal(out, out2);
	free(out);
	free(out2);
	myco_diags_t *d = NULL;
	assert_int_equal(myco_lang_fmt("t", "system s {", 10, &out, &n, &d), -MYCO_ESYNTAX);
	assert_null(out);
	assert_int_equal(myco_diags_errors(d), 1);
	myco_diags_free(d);
}

/* `user NAME|UID [group NAME|GID];`: the model, the range checks, names
 * left to the executive, fmt and the JSON dump. */
/* The JSON dump of a model, malloc'd (caller frees). */
static char *json_of(const myco_system_t *sys)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	assert_non_null(f);
	assert_int_equal(myco_lang_dump_json(sys, f), 0);
	assert_int_equal(fclose(f), 0);
	return buf;
}

static void test_user(void **state)
{
	(void)state;
	myco_system_t *sys = load_ok(
		"system s {\n"
		" partition a { program \"a\"; user nobody; }\n"
		" partition b { program \"b\"; user 4294967294 group 0; }\n"
		" partition c { program \"c\"; user \"www-data\" group \"no.group_x\"; }\n"
		" partition d { program \"d\"; user 0 group staff; }\n"
		" partition e { program \"e\"; }\n"
		"}\n");
	const myco_partition_t *p = sys->partitions;
	assert_true(p[0].run_as);
	assert_string_equal(p[0].user_name, "nobody");
	assert_false(p[0].run_group);
	assert_null(p[0].group_name);
	assert_int_equal(p[0].user_pos.line, 2);
	assert_true(p[1].run_as);
	assert_null(p[1].user_name);
	assert_int_equal(p[1].uid, 4294967294u);
	assert_true(p[1].run_group);
	assert_null(p[1].group_name);
	assert_int_equal(p[1].gid, 0);
	assert_string_equal(p[2].user_name, "www-data");
	assert_string_equal(p[2].group_name, "no.group_x");
	assert_null(p[3].user_name);
	assert_int_equal(p[3].uid, 0);
	assert_string_equal(p[3].group_name, "staff");
	assert_false(p[4].run_as);
	assert_false(p[4].run_group);
	/* the JSON dump */
	char *buf = json_of(sys);
	assert_non_null(strstr(buf, "\"run_as\":{\"user\":\"nobody\",\"group\":null}"));
	assert_non_null(strstr(buf, "\"run_as\":{\"user\":4294967294,\"group\":0}"));
	assert_non_null(strstr(buf, "\"run_as\":{\"user\":\"www-data\",\"group\":\"no.group_x\"}"));
	assert_non_null(strstr(buf, "\"run_as\":null"));
	free(buf);
	myco_system_free(sys);

	/* errors */
	const char *pre = "system s { partition a { program \"a\"; ";
	static const struct { const char *stmt, *codes; } bad[] = {
		{ "user 4294967295; } }", "E032," },
		{ "user 1 group 4294967295; } }", "E032," },
		{ "user -1; } }", "E001," },   /* `-` is not a character of the language */
		{ "user 1.5; } }", "E032," },
		{ "user 10 ms; } }", "E030," },
		{ "user \"\"; } }", "E072," },
		{ "user \"-x\"; } }", "E072," },
		{ "user \"a b\"; } }", "E072," },
		{ "user \"123\"; } }", "E072," },
		{ "user \"abcdefghijabcdefghijabcdefghijabc\"; } }", "E072," },
		{ "user x group \"a/b\"; } }", "E072," },
		{ "user; } }", "E011," },
		{ "user x group; } }", "E011," },
		{ "user x y; } }", "E012," },
		{ "user x group y z; } }", "E012," },
		{ "user x; user y; } }", "E022," },
		{ "usr x; } }", "E010," },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char src[256];
		snprintf(src, sizeof(src), "%s%s", pre, bad[i].stmt);
		const char *got = codes_of(src, 0);
		if (strcmp(got, bad[i].codes))
			fprintf(stderr, "case %zu `%s`: got %s\n", i, bad[i].stmt, got);
		assert_string_equal(got, bad[i].codes);
	}
	/* 32 bytes is the longest name */
	assert_string_equal(codes_of("system s { partition a { program \"a\"; "
				     "user abcdefghijabcdefghijabcdefghijab; } }", 0), "");

	/* fmt: canonical spacing, idempotent */
	const char *src = "system s{partition a{program \"a\";user   nobody   group\"x-y\";}}\n";
	const char *want = "system s {\n    partition a {\n        program \"a\";\n"
			   "        user nobody group \"x-y\";\n    }\n}\n";
	char *out = NULL, *out2 = NULL;
	size_t n = 0, n2 = 0;
	assert_int_equal(myco_lang_fmt("t", src, strlen(src), &out, &n, NULL), 0);
	assert_string_equal(out, want);
	assert_int_equal(myco_lang_fmt("t", out, n, &out2, &n2, NULL), 0);
	assert_string_equal(out, out2);
	free(out);
	free(out2);
}

static void test_explain(void **state)
{
	(void)state;
	assert_non_null(myco_lang_explain("E020"));
	assert_ptr_equal(myco_lang_explain("e20"), myco_lang_explain("E020"));
	assert_non_null(myco_lang_explain("W001"));
	assert_null(myco_lang_explain("E999"));
	assert_null(myco_lang_explain("X1"));
	assert_null(myco_lang_explain("E1234567"));
	size_t n = 0;
	const char *text;
	for (; myco_lang_code_at(n, &text); n++)
		assert_non_null(text);
	assert_true(n >= 50);
}

/* Every mutation of a valid file must load or fail cleanly (never crash or
 * leak), and whatever formats must format idempotently. */
static void test_mutations(void **state)
{
	(void)state;
	size_t len = strlen(good);
	char *buf = malloc(len + 64);
	uint64_t x = 88172645463325252ull;
	int iters = MYCO_SANITIZED ? 4000 : 20000;
	for (int it = 0; it < iters; it++) {
		memcpy(buf, good, len);
		size_t l = len;
		int edits = 1 + it % 4;
		for (int e = 0; e < edits && l > 1; e++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			size_t pos = x % l;
			switch ((x >> 32) % 4) {
			case 0: buf[pos] = (char)(x >> 40); break;               /* replace */
			case 1: memmove(buf + pos, buf + pos + 1, l - pos - 1); l--; break;
			case 2: buf[pos] = "{};,:=[]\"/*0a \n"[(x >> 44) % 15]; break;
			default: l = pos + 1; break;                              /* truncate */
			}
		}
		myco_system_t *sys = NULL;
		myco_diags_t *d = NULL;
		int rc = myco_lang_load_buffer_flags("m.myco", buf, l, MYCO_LANG_NO_IMPORTS, &sys, &d);
		assert_true(rc == 0 || rc == -MYCO_ESYNTAX);
		assert_true((rc == 0) == (sys != NULL));
		if (rc)
			assert_true(myco_diags_errors(d) > 0);
		myco_system_free(sys);
		myco_diags_free(d);
		char *o1 = NULL, *o2 = NULL;
		size_t n1 = 0, n2 = 0;
		if (myco_lang_fmt("m", buf, l, &o1, &n1, NULL) == 0) {
			assert_int_equal(myco_lang_fmt("m", o1, n1, &o2, &n2, NULL), 0);
			assert_int_equal(n1, n2);
			assert_memory_equal(o1, o2, n1);
		}
		free(o1);
		free(o2);
	}
	free(buf);
}

/* The statement table (stmts.c): every listed word has a handler and is
 * found in its block, no block lists a word twice, the blocks words open,
 * and the hints it gives (aliases reach past edit distance). */
static void test_stmt_table(void **state)
{
	(void)state;
	for (int b = MYCO__B_FILE; b < MYCO__B_COUNT; b++) {
		const char *w[64];
		size_t n = myco__stmt_words((myco__blk_t)b, w, 64);
		assert_true(n <= 64);
		if (b == MYCO__B_MESSAGE || b == MYCO__B_ENUM) {
			assert_int_equal(n, 0);   /* fields and values, no keywords */
			continue;
		}
		assert_true(n > 0);
		for (size_t i = 0; i < n; i++) {
			const myco__stmt_def_t *d = myco__stmt_find((myco__blk_t)b, w[i]);
			assert_non_null(d);
			assert_non_null(d->lower);
			assert_non_null(d->usage);
			assert_int_equal(d->in, b);
			assert_true(myco__stmt_index(d) < 256);
			for (size_t j = 0; j < i; j++)
				assert_string_not_equal(w[i], w[j]);
			/* an alias is never a word of the same block */
			for (size_t a = 0; a < 3 && d->alias[a]; a++)
				assert_null(myco__stmt_find((myco__blk_t)b, d->alias[a]));
		}
	}
	assert_int_equal(myco__stmt_opens("system"), MYCO__B_SYSTEM);
	assert_int_equal(myco__stmt_opens("partition"), MYCO__B_PARTITION);
	assert_int_equal(myco__stmt_opens("core"), MYCO__B_CORE);
	assert_int_equal(myco__stmt_opens("message"), MYCO__B_MESSAGE);
	assert_int_equal(myco__stmt_opens("cores"), MYCO__B_NONE);
	assert_int_equal(myco__stmt_opens("nonsense"), MYCO__B_NONE);
	assert_string_equal(myco__stmt_suggest(MYCO__B_PARTITION, "recieve"), "recv");
	assert_string_equal(myco__stmt_suggest(MYCO__B_PARTITION, "receive"), "recv");
	assert_string_equal(myco__stmt_suggest(MYCO__B_PARTITION, "memmory"), "memory");
	assert_string_equal(myco__stmt_suggest(MYCO__B_MACHINE, "cpus"), "cores");
	assert_null(myco__stmt_suggest(MYCO__B_PARTITION, "zzzzzzzz"));
	/* hidden: `import` in a system is found (to explain it) but never offered */
	assert_non_null(myco__stmt_find(MYCO__B_SYSTEM, "import"));
	assert_null(myco__stmt_suggest(MYCO__B_SYSTEM, "imprt"));
	const char *w[64];
	size_t n = myco__stmt_words(MYCO__B_SYSTEM, w, 64);
	for (size_t i = 0; i < n; i++)
		assert_string_not_equal(w[i], "import");
	/* a statement word of the block after a missing `;` ends the statement */
	myco_system_t *sys = NULL;
	myco_diags_t *d = NULL;
	const char *src = "system s {\n    partition p {\n        program \"./p\"\n"
			  "        recv q;\n    }\n}\n";
	assert_int_equal(myco_lang_load_buffer("t.myco", src, strlen(src), &sys, &d), -MYCO_ESYNTAX);
	assert_string_equal(myco_diags_get(d, 0)->code, "E005");
	assert_int_equal(myco_diags_get(d, 0)->pos.line, 3);
	myco_diags_free(d);
}

/* Statements other components read from the model: `pids`, `metrics`,
 * `shield cores`, `cache ways`. */
static void test_resources(void **state)
{
	(void)state;
	myco_system_t *sys = load_ok(
		"system s {\n"
		" partition a { program \"a\"; pids 64; }\n"
		" partition b { program \"b\"; }\n"
		" partition c { program \"c\"; pids 4194304; }\n"
		"}\n");
	assert_int_equal(sys->partitions[0].pids_max, 64);
	assert_int_equal(sys->partitions[1].pids_max, 0);   /* the default applies */
	assert_int_equal(sys->partitions[2].pids_max, MYCO_LANG_PIDS_MAX);
	char *j = json_of(sys);
	assert_non_null(strstr(j, "\"pids_max\":64,"));
	assert_non_null(strstr(j, "\"pids_max\":0,"));
	free(j);
	myco_system_free(sys);
	assert_string_equal(codes_of("system s { partition a { program \"a\"; pids 0; } }", 0), "E032,");
	assert_string_equal(codes_of("system s { partition a { program \"a\"; pids 4194305; } }", 0), "E032,");
	assert_string_equal(codes_of("system s { partition a { program \"a\"; pids 1.5; } }", 0), "E032,");
	assert_string_equal(codes_of("system s { partition a { program \"a\"; pids 8 ms; } }", 0), "E030,");
	assert_string_equal(codes_of("system s { partition a { program \"a\"; pids many; } }", 0), "E011,");
	assert_string_equal(codes_of("system s { partition a { program \"a\"; pids 1; pids 2; } }", 0), "E022,");

	/* metrics, shield, cache ways */
	sys = load_ok("system s {\n"
		      " machine { cores 4; }\n"
		      " partition a { program \"a\"; cores 3; cache ways 6; listen 8080; }\n"
		      " shield cores 3, 1;\n"
		      " metrics 9100;\n"
		      "}\n");
	assert_int_equal(sys->metrics_port, 9100);
	assert_string_equal(sys->metrics_addr, "127.0.0.1");
	assert_int_equal(sys->metrics_pos.line, 5);
	assert_int_equal(sys->nshield, 2);
	assert_int_equal(sys->shield_cores[0], 1);
	assert_int_equal(sys->shield_cores[1], 3);
	assert_int_equal(sys->shield_mask, 0xa);
	assert_int_equal(sys->shield_pos.line, 4);
	assert_int_equal(sys->partitions[0].cache_ways, 6);
	j = json_of(sys);
	assert_non_null(strstr(j, "\"metrics\":{\"addr\":\"127.0.0.1\",\"port\":9100},\"dashboard\":null,\"shield\":[1,3],"));
	assert_non_null(strstr(j, "\"cache_ways\":6,"));
	free(j);
	myco_system_t *sys2 = load_ok("system s { metrics \"[fe80::1]:65535\"; }");
	assert_string_equal(sys2->metrics_addr, "fe80::1");
	assert_int_equal(sys2->metrics_port, 65535);
	assert_int_equal(sys2->nshield, 0);
	j = json_of(sys2);
	assert_non_null(strstr(j, "\"shield\":[],"));
	free(j);
	myco_system_free(sys2);
	/* dashboard: as metrics, and not on a taken port */
	sys2 = load_ok("system s {\n dashboard 8080;\n}\n");
	assert_int_equal(sys2->dashboard_port, 8080);
	assert_string_equal(sys2->dashboard_addr, "127.0.0.1");
	assert_int_equal(sys2->dashboard_pos.line, 2);
	j = json_of(sys2);
	assert_non_null(strstr(j, "\"dashboard\":{\"addr\":\"127.0.0.1\",\"port\":8080,\"actions\":[]},"));
	assert_int_equal(sys2->dashboard_actions, 0);
	free(j);
	myco_system_free(sys2);
	/* actions behind the token */
	sys2 = load_ok("system s { dashboard 8080 actions kill, stop; }");
	assert_int_equal(sys2->dashboard_actions, MYCO_DASH_ACT_KILL | MYCO_DASH_ACT_STOP);
	j = json_of(sys2);
	assert_non_null(strstr(j, "\"actions\":[\"kill\",\"stop\"]}"));
	free(j);
	myco_system_free(sys2);
	sys2 = load_ok("system s { dashboard \"0.0.0.0:8080\" actions all; }");
	assert_int_equal(sys2->dashboard_actions, MYCO_DASH_ACT_ALL);
	myco_system_free(sys2);
	assert_string_equal(codes_of("system s { dashboard 8080 actions reboot; }", 0), "E099,");
	assert_string_equal(codes_of("system s { dashboard 8080 actions; }", 0), "E099,");
	assert_string_equal(codes_of("system s { dashboard 8080 kill; }", 0), "E012,");
	sys2 = load_ok("system s { dashboard \"[::1]:9\"; }");
	assert_string_equal(sys2->dashboard_addr, "::1");
	assert_int_equal(sys2->dashboard_port, 9);
	myco_system_free(sys2);
	assert_string_equal(codes_of("system s { dashboard \"host:80\"; }", 0), "E073,");
	assert_string_equal(codes_of("system s { dashboard 70000; }", 0), "E032,");
	assert_string_equal(codes_of("system s { dashboard 1; dashboard 2; }", 0), "E022,");
	assert_string_equal(codes_of("system s { metrics 9; dashboard 9; }", 0), "E071,");
	assert_string_equal(codes_of("system s { dashboard 80; partition a { program \"a\"; listen 80; } }", 0),
			    "E071,");
	sys2 = load_ok("system s { metrics \"0.0.0.0:1\"; partition a { program \"a\"; } }");
	assert_string_equal(sys2->metrics_addr, "0.0.0.0");
	assert_int_equal(sys2->metrics_port, 1);
	assert_int_equal(sys2->partitions[0].cache_ways, 0);
	myco_system_free(sys2);
	sys2 = load_ok("system s { partition a { program \"a\"; } }");
	assert_int_equal(sys2->metrics_port, 0);
	assert_null(sys2->metrics_addr);
	j = json_of(sys2);
	assert_non_null(strstr(j, "\"metrics\":null,"));
	free(j);
	myco_system_free(sys2);
	myco_system_free(sys);
	static const char *const bad_addr[] = {
		"\"[::1]\"", "\"[]:1\"", "\"1.2.3.4:\"", "\"1.2.3.4:0\"", "\"1.2.3.4:99999999999999999999\"",
		"\"1.2.3:80\"", "\":80\"", "\"[::1:80\"", "\"[1.2.3.4]:80\"", "\"1.2.3.4:8a\"", "\"\"",
		"\"::1:80\"", "\"host.example:80\"",
	};
	for (size_t i = 0; i < sizeof(bad_addr) / sizeof(bad_addr[0]); i++) {
		char src[128];
		snprintf(src, sizeof(src), "system s { metrics %s; }", bad_addr[i]);
		assert_string_equal(codes_of(src, 0), "E073,");
	}
	assert_string_equal(codes_of("system s { metrics 65536; }", 0), "E032,");
	assert_string_equal(codes_of("system s { metrics 9 ms; }", 0), "E030,");
	assert_string_equal(codes_of("system s { metrics port; }", 0), "E011,");
	assert_string_equal(codes_of("system s { metrics 1, 2; }", 0), "E012,");
	assert_string_equal(codes_of("system s { metrics 80; partition a { program \"a\"; listen 80; } }", 0), "E071,");
	assert_string_equal(codes_of("system s { shield cores 64; }", 0), "E032,");
	assert_string_equal(codes_of("system s { shield cores 1, 1; }", 0), "E021,");
	assert_string_equal(codes_of("system s { shield cores 1; shield cores 2; }", 0), "E022,");
	assert_string_equal(codes_of("system s { shield cores 5; machine { cores 4; } }", 0), "E066,");
	assert_string_equal(codes_of("system s { machine { cores 1; } shield cores 0; }", 0), "E069,");
	assert_string_equal(codes_of("system s { shield 1; }", 0), "E011,");
	assert_string_equal(codes_of("system s { partition a { program \"a\"; cache ways 65; } }", 0), "E032,");
	assert_string_equal(codes_of("system s { partition a { program \"a\"; cache 4; } }", 0), "E011,");
	assert_string_equal(codes_of("system s { partition a { program \"a\"; cache ways 1; cache ways 2; } }", 0), "E022,");
}

/* Services and JSON constraints in the model: routes, segments, typed
 * parameters, message indices, the server, lookups, the JSON dump. */
static void test_services(void **state)
{
	(void)state;
	myco_system_t *sys = load_ok(
		"system s {\n"
		" enum K: u16 { a = 1; b = 2; }\n"
		" message M { n: u32 = 1 required min 1 max 9; s: string[8] = 2 min_len 2 pattern \"[a-z]+\"; f: f64 = 3 nullable min 0.5; }\n"
		" service api {\n"
		"  prefix \"/v1\"; cors \"*\", \"https://a.example:8443\"; max_body 2 KiB;\n"
		"  route GET \"/\" root;\n"
		"  route POST \"/m/{id:u64}/k/{k:K}\" put_m { request M; response M; status 201; }\n"
		"  route GET \"/m\" list { query M; }\n"
		"  route GET \"/f/{p:path}\" file;\n"
		"  route GET \"/s/{name:string[12]}\" byname;\n"
		" }\n"
		" partition w { program \"w\"; serve api; }\n"
		"}\n");
	assert_int_equal(sys->nservices, 1);
	assert_int_equal(myco_system_find_service(sys, "api"), 0);
	assert_int_equal(myco_system_find_service(sys, "nope"), MYCO_LANG_NONE);
	const myco_service_t *s = &sys->services[0];
	assert_string_equal(s->name, "api");
	assert_int_equal(s->server, 0);
	assert_string_equal(s->prefix, "/v1");
	assert_int_equal(s->norigins, 2);
	assert_string_equal(s->origins[1], "https://a.example:8443");
	assert_int_equal(s->max_body, 2048);
	assert_int_equal(s->nroutes, 5);
	const myco_route_t *r = &s->routes[0];
	assert_int_equal(r->method, MYCO_HTTP_GET);
	assert_int_equal(r->nsegs, 0);
	assert_int_equal(r->status, 0);
	assert_int_equal(r->query, MYCO_LANG_NONE);
	r = &s->routes[1];
	assert_int_equal(r->method, MYCO_HTTP_POST);
	assert_string_equal(r->path, "/m/{id:u64}/k/{k:K}");
	assert_string_equal(r->handler, "put_m");
	assert_int_equal(r->nsegs, 4);
	assert_string_equal(r->segs[0].literal, "m");
	assert_null(r->segs[1].literal);
	assert_int_equal(r->segs[1].param, 0);
	assert_string_equal(r->segs[2].literal, "k");
	assert_int_equal(r->segs[3].param, 1);
	assert_int_equal(r->nparams, 2);
	assert_string_equal(r->params[0].name, "id");
	assert_int_equal(r->params[0].type, MYCO_FT_U64);
	assert_int_equal(r->params[1].type, MYCO_FT_ENUM);
	assert_int_equal(r->params[1].enum_type, 0);
	assert_int_equal(r->request, 0);
	assert_int_equal(r->response, 0);
	assert_int_equal(r->status, 201);
	assert_int_equal(s->routes[2].query, 0);
	assert_true(s->routes[3].params[0].rest);
	assert_int_equal(s->routes[3].params[0].type, MYCO_FT_STRING);
	assert_int_equal(s->routes[4].params[0].length, 12);
	assert_string_equal(myco_http_method_name(MYCO_HTTP_DELETE), "DELETE");
	/* constraints on the fields (layout order = ordinal order) */
	const myco_field_t *f = sys->msgs[0].fields;
	assert_int_equal(f[0].json, MYCO_FIELD_REQUIRED | MYCO_FIELD_MIN | MYCO_FIELD_MAX);
	assert_true(f[0].min == 1 && f[0].max == 9);
	assert_int_equal(f[1].json, MYCO_FIELD_MIN_LEN | MYCO_FIELD_PATTERN);
	assert_int_equal(f[1].min_len, 2);
	assert_string_equal(f[1].pattern, "[a-z]+");
	assert_int_equal(f[2].json, MYCO_FIELD_NULLABLE | MYCO_FIELD_MIN);
	assert_true(f[2].min == 0.5);
	char *j = json_of(sys);
	assert_non_null(strstr(j, "\"constraints\":{\"required\":true,\"min\":1,\"max\":9}"));
	assert_non_null(strstr(j, "\"services\":["));
	assert_non_null(strstr(j, "\"method\":\"POST\",\"path\":\"/m/{id:u64}/k/{k:K}\",\"handler\":\"put_m\""));
	assert_non_null(strstr(j, "{\"name\":\"p\",\"type\":\"path\""));
	free(j);
	/* the generated header declares the tables */
	char *buf = NULL;
	size_t len = 0;
	FILE *g = open_memstream(&buf, &len);
	assert_non_null(g);
	assert_int_equal(myco_lang_gen_header(sys, g), 0);
	fclose(g);
	assert_non_null(strstr(buf, "extern const myco_api_service_t api_service;"));
	assert_non_null(strstr(buf, "typedef struct api_put_m_params {"));
	assert_non_null(strstr(buf, "#ifdef MYCO_GEN_S_API"));
	free(buf);
	myco_system_free(sys);
	/* a system without services: no api.h in its header */
	sys = load_ok("system s { partition w { program \"w\"; } }");
	assert_int_equal(sys->nservices, 0);
	g = open_memstream(&buf, &len);
	assert_non_null(g);
	assert_int_equal(myco_lang_gen_header(sys, g), 0);
	fclose(g);
	assert_null(strstr(buf, "myco/api.h"));
	free(buf);
	myco_system_free(sys);
	/* errors */
	assert_string_equal(codes_of("system s { service a { route GET \"/\" r; route GET \"/\" q; }"
				     " partition w { program \"w\"; serve a; } }", 0), "E074,");
	assert_string_equal(codes_of("system s { service a { route GET \"/\" r; } }", 0), "E076,");
	assert_string_equal(codes_of("system s { service a { route GET \"/x\" for; }"
				     " partition w { program \"w\"; serve a; } }", 0), "E045,");
	assert_string_equal(codes_of("system s { service a { route GET \"/{int:u8}\" r; }"
				     " partition w { program \"w\"; serve a; } }", 0), "E075,");
	assert_string_equal(codes_of("system s { service a { route GET \"/x\" r { request Nope; } }"
				     " partition w { program \"w\"; serve a; } }", 0), "E020,");
	assert_string_equal(codes_of("system s { service a { route GET \"/x\" r; }"
				     " partition w { program \"w\"; serve a, a; } }", 0), "E021,");
	assert_string_equal(codes_of("system s { service a { } partition w { program \"w\"; serve a; } }", 0), "");
	assert_string_equal(codes_of("system s { service a; }", 0), "E013,");
	assert_string_equal(codes_of("system s { message M { a: u8 = 1 min 3 max 2; } }", 0), "E077,");
	assert_string_equal(codes_of("system s { message M { a: u8 = 1 bogus; } }", 0), "E012,");
	assert_string_equal(codes_of("system s { message M { a: u8 = 1; } service a { route GET \"/\" M; }"
				     " partition w { program \"w\"; serve a; } }", 0), "E021,");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_units),
		cmocka_unit_test(test_lexer),
		cmocka_unit_test(test_parser_tree),
		cmocka_unit_test(test_depth_bound),
		cmocka_unit_test(test_model),
		cmocka_unit_test(test_diagnostics),
		cmocka_unit_test(test_checks),
		cmocka_unit_test(test_fmt),
		cmocka_unit_test(test_user),
		cmocka_unit_test(test_explain),
		cmocka_unit_test(test_mutations),
		cmocka_unit_test(test_stmt_table),
		cmocka_unit_test(test_resources),
		cmocka_unit_test(test_services),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
