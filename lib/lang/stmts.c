/*
 * stmts.c: the table of the language's statements, and the words of its
 * choices.  One row per statement: its word, the block it appears in, the
 * block it opens, whether it may repeat, its argument shape (the usage shown
 * in hints), the checker's handler and the other words people write for it.
 * The parser reads it to know the statement words of a block (a known word
 * at the start of a line after a missing `;`) and which block a word opens;
 * the checker dispatches every statement through it; the "did you mean"
 * hints search its words and aliases.  Adding a statement is adding a row
 * (and its handler).  Within a block, rows are in the order hints list them.
 * Not for: the productions themselves (the handlers in import.c, layout.c,
 * lower.c, lower_part.c read the arguments).
 */
#include <string.h>

#include "check.h"

#define Q MYCO__S_QUEUE
#define S MYCO__S_SAMPLE
#define C MYCO__S_CALL
#define R MYCO__S_REPEAT
#define B MYCO__S_EVEN_BAD

static const myco__stmt_def_t table[] = {
	/* the file level */
	{ "import", MYCO__B_FILE, MYCO__B_NONE, R, "import \"file.myco\";", 0,
	  myco__lower_import, { 0 } },
	{ "message", MYCO__B_FILE, MYCO__B_MESSAGE, R | B, "message Name { field: type = 1; ... }", 0,
	  myco__lower_message_decl, { 0 } },
	{ "enum", MYCO__B_FILE, MYCO__B_ENUM, R | B, "enum Name: u8 { first = 0; second = 1; }", 0,
	  myco__lower_enum_decl, { 0 } },
	{ "system", MYCO__B_FILE, MYCO__B_SYSTEM, R | B, "system name { ... }", 0,
	  myco__lower_system_decl, { 0 } },

	/* system */
	{ "machine", MYCO__B_SYSTEM, MYCO__B_MACHINE, R, "machine { cores 4; memory 8 GiB; }", 0,
	  myco__lower_machine, { 0 } },
	{ "message", MYCO__B_SYSTEM, MYCO__B_MESSAGE, R | B, "message Name { field: type = 1; ... }", 0,
	  myco__lower_message_decl, { 0 } },
	{ "enum", MYCO__B_SYSTEM, MYCO__B_ENUM, R | B, "enum Name: u8 { first = 0; second = 1; }", 0,
	  myco__lower_enum_decl, { 0 } },
	{ "channel", MYCO__B_SYSTEM, MYCO__B_CHANNEL, R | B, "channel name queue|sample|call { ... }", 0,
	  myco__lower_channel_decl, { 0 } },
	{ "partition", MYCO__B_SYSTEM, MYCO__B_PARTITION, R | B,
	  "partition name { program \"./x\"; ... }", 0, myco__lower_partition_decl, { 0 } },
	{ "group", MYCO__B_SYSTEM, MYCO__B_GROUP, R | B,
	  "group name { strategy one_for_one; members a, b; }", 0, myco__lower_group_decl, { 0 } },
	{ "schedule", MYCO__B_SYSTEM, MYCO__B_SCHEDULE, R | B,
	  "schedule { major_frame 20 ms; core 0 { window p at 0 ms for 5 ms; } }", 0,
	  myco__lower_schedule_decl, { 0 } },
	{ "metrics", MYCO__B_SYSTEM, MYCO__B_NONE, 0, "metrics 9100;  (or metrics \"0.0.0.0:9100\";)", 0,
	  myco__lower_metrics, { "prometheus", "monitoring" } },
	{ "dashboard", MYCO__B_SYSTEM, MYCO__B_NONE, 0, "dashboard 8080;  (or dashboard \"0.0.0.0:8080\"; then optionally actions kill, restart, stop, chaos)", 0,
	  myco__lower_dashboard, { "dash", "ui" } },
	{ "shield", MYCO__B_SYSTEM, MYCO__B_NONE, 0, "shield cores 2, 3;", 0, myco__lower_shield,
	  { "isolate", "isolcpus" } },
	{ "service", MYCO__B_SYSTEM, MYCO__B_SERVICE, R | B,
	  "service name { route GET \"/items/{id:u64}\" get_item; ... }", 0,
	  myco__lower_service_decl, { "api" } },
	{ "import", MYCO__B_SYSTEM, MYCO__B_NONE, R | B | MYCO__S_HIDDEN, "import \"file.myco\";", 0,
	  myco__lower_import_in_system, { 0 } },
	{ "chaos", MYCO__B_SYSTEM, MYCO__B_CHAOS, R | B,
	  "chaos name { kill any every 100 ms; delay numbers 2 ms jitter 1 ms; }", 0,
	  myco__lower_chaos_decl, { "experiment" } },

	/* chaos experiment (lower_chaos.c; docs/chaos.md) */
	{ "seed", MYCO__B_CHAOS, MYCO__B_NONE, 0, "seed 42;", 0, myco__lower_chaos_seed, { 0 } },
	{ "duration", MYCO__B_CHAOS, MYCO__B_NONE, 0, "duration 60 s;", 0,
	  myco__lower_chaos_duration, { 0 } },
	{ "kill", MYCO__B_CHAOS, MYCO__B_NONE, R, "kill PARTITION|any [every 100 ms] [at T] [for T];",
	  0, myco__lower_chaos_fault, { "crash" } },
	{ "hang", MYCO__B_CHAOS, MYCO__B_NONE, R, "hang PARTITION|any [500 ms] [every 2 s] [at T];",
	  0, myco__lower_chaos_fault, { "stop", "freeze" } },
	{ "drop", MYCO__B_CHAOS, MYCO__B_NONE, R, "drop CHANNEL [probability 1 %];", 0,
	  myco__lower_chaos_fault, { "loss" } },
	{ "delay", MYCO__B_CHAOS, MYCO__B_NONE, R, "delay CHANNEL 2 ms [jitter 1 ms];", 0,
	  myco__lower_chaos_fault, { "latency" } },
	{ "duplicate", MYCO__B_CHAOS, MYCO__B_NONE, R, "duplicate CHANNEL [probability 5 %];", 0,
	  myco__lower_chaos_fault, { "dup" } },
	{ "reorder", MYCO__B_CHAOS, MYCO__B_NONE, R, "reorder CHANNEL [probability 5 %];", 0,
	  myco__lower_chaos_fault, { 0 } },
	{ "corrupt", MYCO__B_CHAOS, MYCO__B_NONE, R, "corrupt CHANNEL [flip 3] [probability 1 %];", 0,
	  myco__lower_chaos_fault, { "bitflip" } },
	{ "bandwidth", MYCO__B_CHAOS, MYCO__B_NONE, R, "bandwidth CHANNEL 64 KiB;  (per second)", 0,
	  myco__lower_chaos_fault, { "rate" } },
	{ "stall", MYCO__B_CHAOS, MYCO__B_NONE, R, "stall CHANNEL at 5 s for 200 ms;", 0,
	  myco__lower_chaos_fault, { 0 } },
	{ "slow", MYCO__B_CHAOS, MYCO__B_NONE, R, "slow PARTITION 1 ms;", 0,
	  myco__lower_chaos_fault, { 0 } },
	{ "fdleak", MYCO__B_CHAOS, MYCO__B_NONE, R, "fdleak PARTITION 100;  (fds per second)", 0,
	  myco__lower_chaos_fault, { 0 } },
	{ "hog", MYCO__B_CHAOS, MYCO__B_NONE, R, "hog PARTITION 50 %;", 0,
	  myco__lower_chaos_fault, { "cpu" } },
	{ "leak", MYCO__B_CHAOS, MYCO__B_NONE, R, "leak PARTITION 10 MiB;  (per second)", 0,
	  myco__lower_chaos_fault, { 0 } },
	{ "skew", MYCO__B_CHAOS, MYCO__B_NONE, R, "skew PARTITION 500 ms [behind];", 0,
	  myco__lower_chaos_fault, { "clock" } },
	{ "starve", MYCO__B_CHAOS, MYCO__B_NONE, R, "starve PARTITION 10 %;", 0,
	  myco__lower_chaos_fault, { 0 } },
	{ "slowsys", MYCO__B_CHAOS, MYCO__B_NONE, R,
	  "slowsys PARTITION 5 ms calls read, write, nanosleep;", 0,
	  myco__lower_chaos_fault, { "slow_syscalls" } },

	/* machine */
	{ "cores", MYCO__B_MACHINE, MYCO__B_NONE, 0, "cores 4;", 0, myco__lower_machine_cores,
	  { "cpus" } },
	{ "memory", MYCO__B_MACHINE, MYCO__B_NONE, 0, "memory 8 GiB;", 0, myco__lower_machine_memory,
	  { "mem", "ram" } },

	/* channel */
	{ "type", MYCO__B_CHANNEL, MYCO__B_NONE, Q | S, "type MessageName;", 0,
	  myco__lower_chan_type, { 0 } },
	{ "depth", MYCO__B_CHANNEL, MYCO__B_NONE, Q, "depth 64;", 0, myco__lower_chan_depth,
	  { "capacity" } },
	{ "overflow", MYCO__B_CHANNEL, MYCO__B_NONE, Q, "overflow block;  (or reject, drop_oldest)", 0,
	  myco__lower_chan_overflow, { 0 } },
	{ "refresh", MYCO__B_CHANNEL, MYCO__B_NONE, S, "refresh 10 ms;", 0,
	  myco__lower_chan_refresh, { 0 } },
	{ "request", MYCO__B_CHANNEL, MYCO__B_NONE, C, "request MessageName;", 1,
	  myco__lower_chan_request, { 0 } },
	{ "reply", MYCO__B_CHANNEL, MYCO__B_NONE, C, "reply MessageName;", 0,
	  myco__lower_chan_request, { "response" } },
	{ "timeout", MYCO__B_CHANNEL, MYCO__B_NONE, C, "timeout 50 ms;", 0,
	  myco__lower_chan_timeout, { 0 } },
	{ "inflight", MYCO__B_CHANNEL, MYCO__B_NONE, C, "inflight retry;  (or fail)", 0,
	  myco__lower_chan_inflight, { "in_flight" } },

	/* partition */
	{ "program", MYCO__B_PARTITION, MYCO__B_NONE, 0, "program \"./path/to/binary\";", 0,
	  myco__lower_part_program, { "exec", "binary" } },
	{ "args", MYCO__B_PARTITION, MYCO__B_NONE, 0, "args \"--rate\", \"100\";", 0,
	  myco__lower_part_args, { "arguments", "argv" } },
	{ "env", MYCO__B_PARTITION, MYCO__B_NONE, R, "env NAME = \"value\";", 0,
	  myco__lower_part_env, { "environment" } },
	{ "cores", MYCO__B_PARTITION, MYCO__B_NONE, 0, "cores 0, 1;  (or cores 1..4 elastic;)", 0,
	  myco__lower_part_cores,
	  { "cpus" } },
	{ "budget", MYCO__B_PARTITION, MYCO__B_NONE, 0, "budget 2 ms per 10 ms;", 0,
	  myco__lower_part_budget, { 0 } },
	{ "frame", MYCO__B_PARTITION, MYCO__B_NONE, 0, "frame;", 0, myco__lower_part_frame, { 0 } },
	{ "memory", MYCO__B_PARTITION, MYCO__B_NONE, 0, "memory 64 MiB;", 0,
	  myco__lower_part_memory, { "mem", "ram" } },
	{ "scheduler", MYCO__B_PARTITION, MYCO__B_NONE, 0, "scheduler fifo;", 0,
	  myco__lower_part_scheduler, { "policy" } },
	{ "send", MYCO__B_PARTITION, MYCO__B_NONE, R, "send channel_name, ...;", MYCO_END_SEND,
	  myco__lower_part_end, { "publish", "write" } },
	{ "recv", MYCO__B_PARTITION, MYCO__B_NONE, R, "recv channel_name, ...;", MYCO_END_RECV,
	  myco__lower_part_end, { "receive", "subscribe", "read" } },
	{ "call", MYCO__B_PARTITION, MYCO__B_NONE, R, "call channel_name, ...;", MYCO_END_CALL,
	  myco__lower_part_end, { 0 } },
	{ "serve", MYCO__B_PARTITION, MYCO__B_NONE, R, "serve channel_name, ...;", MYCO_END_SERVE,
	  myco__lower_part_end, { "server" } },
	{ "listen", MYCO__B_PARTITION, MYCO__B_NONE, R, "listen 8080, 8443;", 0,
	  myco__lower_part_listen, { "port", "ports" } },
	{ "path", MYCO__B_PARTITION, MYCO__B_NONE, R, "path \"/var/lib/app\" rw;  (or ro)", 0,
	  myco__lower_part_path, { "mount" } },
	{ "net", MYCO__B_PARTITION, MYCO__B_NONE, 0, "net;", 0, myco__lower_part_net,
	  { "network" } },
	{ "restart", MYCO__B_PARTITION, MYCO__B_NONE, 0,
	  "restart permanent;  (or transient, temporary)", 0, myco__lower_part_restart, { 0 } },
	{ "heartbeat", MYCO__B_PARTITION, MYCO__B_NONE, 0, "heartbeat 100 ms;", 0,
	  myco__lower_part_heartbeat, { "watchdog" } },
	{ "misses", MYCO__B_PARTITION, MYCO__B_NONE, 0, "misses 3;", 0, myco__lower_part_misses,
	  { 0 } },
	{ "readiness", MYCO__B_PARTITION, MYCO__B_NONE, 0, "readiness required;  (or optional)", 0,
	  myco__lower_part_readiness, { "ready" } },
	{ "user", MYCO__B_PARTITION, MYCO__B_NONE, 0, "user nobody;  (or user 65534 group 65534;)", 0,
	  myco__lower_part_user, { "uid" } },
	{ "pids", MYCO__B_PARTITION, MYCO__B_NONE, 0, "pids 512;", 0, myco__lower_part_pids,
	  { "threads", "processes", "nproc" } },
	{ "cache", MYCO__B_PARTITION, MYCO__B_NONE, 0, "cache ways 4;", 0, myco__lower_part_cache,
	  { "llc", "l3" } },
	{ "slo", MYCO__B_PARTITION, MYCO__B_NONE, R, "slo latency p99 < 2 ms;  (or memory < 80 %, errors < 1 %, queue < 500, ...)", 0,
	  myco__lower_part_slo, { "objective", "sla" } },
	{ "bid", MYCO__B_PARTITION, MYCO__B_NONE, R,
	  "bid render 100 [income 200] [deadline 2 ms];  (with scheduler market)", 0,
	  myco__lower_part_bid, { "auction", "credits" } },
	{ "heal", MYCO__B_PARTITION, MYCO__B_NONE, 0,
	  "heal restart ahead 10 s limit 3 per 60 s;  (or quarantine, shed, escalate, observe)", 0,
	  myco__lower_part_heal, { "healing", "remedy" } },
	{ "record", MYCO__B_PARTITION, MYCO__B_NONE, 0,
	  "record always;  (or record on crash; optionally keep 64 MiB for 10 min)", 0,
	  myco__lower_part_record, { "replay", "recording" } },
	{ "gateway", MYCO__B_PARTITION, MYCO__B_GATEWAY, 0,
	  "gateway { listen 8080; upstream app { ... } route \"/\" { proxy app; } }", 0,
	  myco__lower_part_gateway, { "gate", "proxy" } },

	/* gateway (myco-gate's configuration, lower_gate.c) */
	{ "listen", MYCO__B_GATEWAY, MYCO__B_NONE, 0, "listen 8080;  (or listen \"127.0.0.1:8080\";)", 0,
	  myco__lower_gw_listen, { "port", "bind" } },
	{ "loops", MYCO__B_GATEWAY, MYCO__B_NONE, 0, "loops 2;", 0, myco__lower_gw_loops,
	  { "threads", "workers" } },
	{ "max_body", MYCO__B_GATEWAY, MYCO__B_NONE, 0, "max_body 8 MiB;", 0, myco__lower_gw_size,
	  { "body_limit" } },
	{ "splice", MYCO__B_GATEWAY, MYCO__B_NONE, 0, "splice 256 KiB;  (or splice off;)", 0,
	  myco__lower_gw_size, { 0 } },
	{ "timeout", MYCO__B_GATEWAY, MYCO__B_NONE, R, "timeout header 10 s;  (or body, idle)", 0,
	  myco__lower_gw_timeout, { 0 } },
	{ "cache", MYCO__B_GATEWAY, MYCO__B_NONE, 0, "cache 64 MiB hyperbolic;  (or lru)", 0,
	  myco__lower_gw_cache, { 0 } },
	{ "access_log", MYCO__B_GATEWAY, MYCO__B_NONE, 0, "access_log on;  (or off)", 0,
	  myco__lower_gw_onoff, { "log" } },
	{ "tls", MYCO__B_GATEWAY, MYCO__B_NONE, R,
	  "tls cert \"site.crt\" key \"site.key\";  (or tls sni \"name\" cert ... key ...;)", 0,
	  myco__lower_gw_tls, { "ssl", "https" } },
	{ "upstream", MYCO__B_GATEWAY, MYCO__B_GUPSTREAM, R,
	  "upstream app { server \"10.0.0.1:9000\"; }", 0, myco__lower_gw_upstream,
	  { "pool", "backend" } },
	{ "route", MYCO__B_GATEWAY, MYCO__B_GROUTE, R,
	  "route \"/api/\" { proxy app; }  (or route \"/\" host \"example.com\" { ... })", 0,
	  myco__lower_gw_route, { "location" } },

	/* gateway upstream */
	{ "server", MYCO__B_GUPSTREAM, MYCO__B_NONE, R, "server \"10.0.0.1:9000\" weight 3;", 0,
	  myco__lower_gu_server, { "host", "backend" } },
	{ "balance", MYCO__B_GUPSTREAM, MYCO__B_NONE, 0,
	  "balance round_robin;  (or least_conn, hash ip, hash path, hash header \"X-User\")", 0,
	  myco__lower_gu_balance, { "lb", "strategy" } },
	{ "keepalive", MYCO__B_GUPSTREAM, MYCO__B_NONE, 0, "keepalive 32 idle 60 s;", 0,
	  myco__lower_gu_keepalive, { "idle" } },
	{ "timeout", MYCO__B_GUPSTREAM, MYCO__B_NONE, R,
	  "timeout connect 1 s;  (or write, header, read)", 1, myco__lower_gw_timeout, { 0 } },
	{ "health", MYCO__B_GUPSTREAM, MYCO__B_NONE, 0,
	  "health \"/healthz\" interval 1 s timeout 1 s fails 2 passes 2;", 0,
	  myco__lower_gu_health, { "healthcheck", "check" } },
	{ "eject", MYCO__B_GUPSTREAM, MYCO__B_NONE, 0, "eject after 5 for 10 s;  (or eject off;)", 0,
	  myco__lower_gu_eject, { "outlier" } },
	{ "retries", MYCO__B_GUPSTREAM, MYCO__B_NONE, 0, "retries 1 budget 20 %;", 0,
	  myco__lower_gu_retries, { "retry" } },

	/* gateway route */
	{ "proxy", MYCO__B_GROUTE, MYCO__B_NONE, 0, "proxy upstream_name;", 0,
	  myco__lower_gr_proxy, { "proxy_pass", "upstream", "forward" } },
	{ "respond", MYCO__B_GROUTE, MYCO__B_NONE, 0,
	  "respond 200 \"body\" type \"application/json\";", 0, myco__lower_gr_respond,
	  { "return", "reply" } },
	{ "strip_prefix", MYCO__B_GROUTE, MYCO__B_NONE, 0, "strip_prefix;", 0,
	  myco__lower_gr_flag, { "strip" } },
	{ "websocket", MYCO__B_GROUTE, MYCO__B_NONE, 0, "websocket on;", 0, myco__lower_gw_onoff,
	  { "ws" } },
	{ "request_header", MYCO__B_GROUTE, MYCO__B_NONE, R,
	  "request_header set \"X-From\" \"gate\";  (or add, remove)", 0, myco__lower_gr_header,
	  { "header" } },
	{ "response_header", MYCO__B_GROUTE, MYCO__B_NONE, R,
	  "response_header add \"X-Served-By\" \"gate\";  (or set, remove)", 1,
	  myco__lower_gr_header, { 0 } },
	{ "rate_limit", MYCO__B_GROUTE, MYCO__B_NONE, 0,
	  "rate_limit 100 per s burst 200 key header \"X-Api-Key\";  (or key ip)", 0,
	  myco__lower_gr_rate, { "ratelimit", "limit" } },
	{ "cache", MYCO__B_GROUTE, MYCO__B_NONE, 0, "cache 30 s;", 1, myco__lower_gr_cache,
	  { 0 } },

	/* group */
	{ "strategy", MYCO__B_GROUP, MYCO__B_NONE, 0,
	  "strategy one_for_one;  (or one_for_all, rest_for_one)", 0, myco__lower_group_strategy,
	  { 0 } },
	{ "restarts", MYCO__B_GROUP, MYCO__B_NONE, 0, "restarts 5 within 10 s;", 0,
	  myco__lower_group_restarts, { "intensity" } },
	{ "members", MYCO__B_GROUP, MYCO__B_NONE, 0, "members sensor, filter, actuator;", 0,
	  myco__lower_group_members, { "children" } },

	/* service */
	{ "route", MYCO__B_SERVICE, MYCO__B_ROUTE, R,
	  "route GET \"/items/{id:u64}\" get_item { response Item; }", 0, myco__lower_svc_route,
	  { "endpoint", "get", "post" } },
	{ "prefix", MYCO__B_SERVICE, MYCO__B_NONE, 0, "prefix \"/api\";", 0,
	  myco__lower_svc_prefix, { "mount", "base" } },
	{ "cors", MYCO__B_SERVICE, MYCO__B_NONE, 0,
	  "cors \"*\";  (or cors \"https://a.example\", \"https://b.example\";)", 0,
	  myco__lower_svc_cors, { "origins", "origin" } },
	{ "max_body", MYCO__B_SERVICE, MYCO__B_NONE, 0, "max_body 64 KiB;", 0,
	  myco__lower_svc_max_body, { "body_limit", "max_size" } },

	/* route */
	{ "query", MYCO__B_ROUTE, MYCO__B_NONE, 0, "query MessageName;", 0, myco__lower_route_msg,
	  { "params", "args" } },
	{ "request", MYCO__B_ROUTE, MYCO__B_NONE, 0, "request MessageName;", 1,
	  myco__lower_route_msg, { "body", "input" } },
	{ "response", MYCO__B_ROUTE, MYCO__B_NONE, 0, "response MessageName;", 2,
	  myco__lower_route_msg, { "reply", "output", "returns" } },
	{ "status", MYCO__B_ROUTE, MYCO__B_NONE, 0, "status 201;", 0, myco__lower_route_status,
	  { "code" } },

	/* schedule */
	{ "major_frame", MYCO__B_SCHEDULE, MYCO__B_NONE, 0, "major_frame 20 ms;", 0,
	  myco__lower_sched_major, { "frame", "period" } },
	{ "core", MYCO__B_SCHEDULE, MYCO__B_CORE, R, "core 0 { window name at 0 ms for 5 ms; }", 0,
	  myco__lower_sched_core, { 0 } },
	{ "window", MYCO__B_CORE, MYCO__B_NONE, R, "window partition at 0 ms for 5 ms;", 0,
	  myco__lower_core_window, { "slot" } },
};

#undef Q
#undef S
#undef C
#undef R
#undef B

#define NTABLE (sizeof(table) / sizeof(table[0]))
_Static_assert(NTABLE < 256, "myco__lower_t.seen holds 256 bits");
_Static_assert(MYCO__S_QUEUE << MYCO_LANG_SAMPLE == MYCO__S_SAMPLE &&
	       MYCO__S_QUEUE << MYCO_LANG_CALL == MYCO__S_CALL,
	       "channel kind bits follow myco_lang_chan_kind_t");

const myco__stmt_def_t *myco__stmt_find(myco__blk_t in, const char *word)
{
	for (size_t i = 0; i < NTABLE; i++)
		if (table[i].in == in && table[i].word[0] == word[0] && !strcmp(table[i].word, word))
			return &table[i];
	return NULL;
}

size_t myco__stmt_index(const myco__stmt_def_t *def)
{
	return (size_t)(def - table);
}

myco__blk_t myco__stmt_opens_in(myco__blk_t in, const char *word)
{
	for (size_t i = 0; i < NTABLE; i++)
		if (table[i].in == in && table[i].opens != MYCO__B_NONE &&
		    !strcmp(table[i].word, word))
			return table[i].opens;
	return myco__stmt_opens(word);
}

myco__blk_t myco__stmt_opens(const char *word)
{
	for (size_t i = 0; i < NTABLE; i++)
		if (table[i].opens != MYCO__B_NONE && table[i].word[0] == word[0] &&
		    !strcmp(table[i].word, word))
			return table[i].opens;
	return MYCO__B_NONE;
}

size_t myco__stmt_words(myco__blk_t in, const char **out, size_t max)
{
	size_t n = 0;
	for (size_t i = 0; i < NTABLE; i++) {
		if (table[i].in != in || (table[i].flags & MYCO__S_HIDDEN))
			continue;
		if (n < max)
			out[n] = table[i].word;
		n++;
	}
	return n;
}

const char *myco__stmt_suggest(myco__blk_t in, const char *word)
{
	/* words first, so that a tie goes to a real word */
	const char *cand[2 * NTABLE], *to[2 * NTABLE];
	size_t n = 0;
	for (size_t i = 0; i < NTABLE; i++) {
		if (table[i].in != in || (table[i].flags & MYCO__S_HIDDEN))
			continue;
		cand[n] = to[n] = table[i].word;
		n++;
	}
	for (size_t i = 0; i < NTABLE; i++) {
		if (table[i].in != in || (table[i].flags & MYCO__S_HIDDEN))
			continue;
		for (size_t j = 0; j < 3 && table[i].alias[j]; j++) {
			if (!strcmp(table[i].alias[j], word))
				return table[i].word;
			if (n < 2 * NTABLE) {
				cand[n] = table[i].alias[j];
				to[n] = table[i].word;
				n++;
			}
		}
	}
	const char *best = myco__closest(word, cand, n);
	for (size_t i = 0; best && i < n; i++)
		if (cand[i] == best)
			return to[i];
	return NULL;
}

const char *myco__blk_name(myco__blk_t b)
{
	static const char *const names[MYCO__B_COUNT] = {
		[MYCO__B_NONE] = "a block",
		[MYCO__B_FILE] = "a file",
		[MYCO__B_SYSTEM] = "a system",
		[MYCO__B_MACHINE] = "a machine block",
		[MYCO__B_CHANNEL] = "a channel",
		[MYCO__B_PARTITION] = "a partition",
		[MYCO__B_GROUP] = "a group",
		[MYCO__B_SCHEDULE] = "the schedule",
		[MYCO__B_CORE] = "a core block",
		[MYCO__B_SERVICE] = "a service",
		[MYCO__B_ROUTE] = "a route",
		[MYCO__B_MESSAGE] = "a message",
		[MYCO__B_ENUM] = "an enum",
		[MYCO__B_GATEWAY] = "a gateway",
		[MYCO__B_GUPSTREAM] = "a gateway upstream",
		[MYCO__B_GROUTE] = "a gateway route",
		[MYCO__B_CHAOS] = "a chaos experiment",
	};
	return (unsigned)b < MYCO__B_COUNT && names[b] ? names[b] : "a block";
}

/* ---------------------------------------------------------------- choices */

const char *const myco__kind_names[3] = { "queue", "sample", "call" };
const char *const myco__overflow_names[3] = { "block", "reject", "drop_oldest" };
const char *const myco__inflight_names[2] = { "retry", "fail" };
const char *const myco__restart_names[3] = { "permanent", "transient", "temporary" };
const char *const myco__role_names[4] = { "send", "recv", "call", "serve" };
const char *const myco__strategy_names[3] = { "one_for_one", "one_for_all", "rest_for_one" };
const char *const myco__ftype_names[13] = { "u8", "u16", "u32", "u64", "i8", "i16", "i32",
	"i64", "f32", "f64", "bool", "bytes", "string" };
const uint32_t myco__ftype_size[13] = { 1, 2, 4, 8, 1, 2, 4, 8, 4, 8, 1, 1, 1 };
