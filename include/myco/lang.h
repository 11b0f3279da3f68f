/*
 * myco/lang.h: the .myco system language: load (parse + import + check) a
 * system file into a checked, read-only model, and the diagnostics produced
 * on the way.  Also the tools built on the model: JSON dump, canonical
 * formatter, C header generator, Graphviz graph.
 *
 * The model is plain C structs.  Everything is iterable by index; cross
 * references are indices into the system's arrays (uint32_t; -1 / UINT32_MAX
 * where "none" is possible, as documented per field).  All units are
 * normalised: times in nanoseconds (uint64_t), sizes in bytes (uint64_t).
 * Every pointer inside a myco_system_t stays valid until myco_system_free().
 * Consumers must treat the model as read-only.
 *
 * Not for: running anything (the executive does that from this model).
 * Grammar and semantics: docs/language.md; error codes: docs/lang-errors.md.
 */
#ifndef MYCO_LANG_H
#define MYCO_LANG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MYCO_LANG_NONE UINT32_MAX   /* "no index" in uint32_t index fields */

/* A partition's pids limit when its system file gives none, and the largest
 * one it may give (the kernel's PID_MAX_LIMIT). */
#define MYCO_LANG_PIDS_DEFAULT 256u
#define MYCO_LANG_PIDS_MAX     4194304u

/* Actions a dashboard may offer (myco_system_t.dashboard_actions). */
#define MYCO_DASH_ACT_KILL    0x1u   /* kill -9 a partition (a crash the system heals) */
#define MYCO_DASH_ACT_RESTART 0x2u   /* restart it from its standby */
#define MYCO_DASH_ACT_STOP    0x4u   /* stop it */
#define MYCO_DASH_ACT_CHAOS   0x8u   /* start a chaos experiment */
#define MYCO_DASH_ACT_ALL     0xfu

/* Where a named thing was declared.  file points into the model (or the
 * diagnostics object) and lives as long as it. line and col are 1-based. */
typedef struct myco_pos {
	const char *file;
	uint32_t line;
	uint32_t col;
} myco_pos_t;

/* ---------------------------------------------------------------- messages */

typedef enum myco_ftype {
	MYCO_FT_U8, MYCO_FT_U16, MYCO_FT_U32, MYCO_FT_U64,
	MYCO_FT_I8, MYCO_FT_I16, MYCO_FT_I32, MYCO_FT_I64,
	MYCO_FT_F32, MYCO_FT_F64,
	MYCO_FT_BOOL,      /* 1 byte, 0 or 1 */
	MYCO_FT_BYTES,     /* fixed-length raw bytes: bytes[N] */
	MYCO_FT_STRING,    /* fixed-capacity string: string[N], NUL-padded */
	MYCO_FT_MSG,       /* a nested message type (field.msg) */
	MYCO_FT_ENUM,      /* an enum (field.enum_type), stored as its base */
} myco_ftype_t;

/* One field of a message type.  The layout is fixed and little-endian:
 * fields are laid out in ordinal order, each at its natural alignment,
 * with explicit padding; the message size is rounded up to its alignment. */
typedef struct myco_field {
	const char *name;
	myco_pos_t pos;
	uint32_t ordinal;      /* >= 1, unique within the message */
	myco_ftype_t type;     /* element type */
	uint32_t offset;       /* byte offset in the message */
	uint32_t size;         /* total bytes (element size * max(1, array_len)) */
	uint32_t elem_size;    /* bytes of one element */
	uint32_t align;        /* alignment of the element */
	uint32_t array_len;    /* 0 = not an array, else number of elements */
	uint32_t length;       /* N of bytes[N] / string[N], else 0 */
	uint32_t msg;          /* MYCO_FT_MSG: index into system.msgs, else NONE */
	uint32_t enum_type;    /* MYCO_FT_ENUM: index into system.enums, else NONE */
	/* JSON constraints (`= 3 required min 1 max 100;`), checked by the API
	 * framework when the message is a route's input; channels ignore
	 * them.  Bits of MYCO_FIELD_*; the bounds are valid when their bit is. */
	uint32_t json;         /* MYCO_FIELD_REQUIRED | ... */
	double min, max;       /* numbers: bounds (integers: whole values) */
	uint32_t min_len;      /* string/bytes: bytes; arrays: elements */
	const char *pattern;   /* string: POSIX extended regex, anchored */
} myco_field_t;

/* Bits of myco_field_t.json (the same meaning as MYCO_API_F_* of api.h). */
#define MYCO_FIELD_REQUIRED 0x01u   /* must be present in the JSON object */
#define MYCO_FIELD_MIN      0x02u   /* value >= min */
#define MYCO_FIELD_MAX      0x04u   /* value <= max */
#define MYCO_FIELD_MIN_LEN  0x08u   /* length >= min_len */
#define MYCO_FIELD_PATTERN  0x10u   /* string matches pattern */
#define MYCO_FIELD_NULLABLE 0x20u   /* JSON null accepted (stored as zero) */

/* An enum: named values stored as an unsigned integer of the base type. */
typedef struct myco_enum_value {
	const char *name;
	uint64_t value;
	myco_pos_t pos;
} myco_enum_value_t;

typedef struct myco_enum {
	const char *name;
	myco_pos_t pos;
	myco_ftype_t base;     /* MYCO_FT_U8, MYCO_FT_U16 or MYCO_FT_U32 */
	uint32_t size;         /* bytes of the base type */
	size_t nvalues;
	const myco_enum_value_t *values;   /* in declaration order */
} myco_enum_t;

typedef struct myco_msgtype {
	const char *name;
	myco_pos_t pos;
	uint32_t size;         /* bytes, multiple of align */
	uint32_t align;        /* 1, 2, 4 or 8 */
	size_t nfields;
	const myco_field_t *fields;   /* in layout (= ordinal) order */
} myco_msgtype_t;

/* ---------------------------------------------------------------- channels */

typedef enum myco_lang_chan_kind {
	MYCO_LANG_QUEUE,       /* FIFO of messages, exactly one receiver */
	MYCO_LANG_SAMPLE,      /* latest value, one writer, many readers */
	MYCO_LANG_CALL,        /* request/reply, one server, many clients */
} myco_lang_chan_kind_t;

typedef enum myco_overflow {
	MYCO_OVERFLOW_BLOCK,
	MYCO_OVERFLOW_REJECT,
	MYCO_OVERFLOW_DROP_OLDEST,
} myco_overflow_t;

/* call: what becomes of the calls a server instance held when it is
 * replaced (docs/immune.md) */
typedef enum myco_inflight {
	MYCO_INFLIGHT_RETRY,   /* handed to the replacement (at least once) */
	MYCO_INFLIGHT_FAIL,    /* answered -ECONNRESET by the executive */
} myco_inflight_t;

typedef struct myco_channel {
	const char *name;
	myco_pos_t pos;
	myco_lang_chan_kind_t kind;
	/* queue and sample */
	uint32_t msg;          /* message type index (NONE for call) */
	uint32_t msg_size;     /* its size in bytes */
	uint32_t depth;        /* queue: slots (>= 1) */
	myco_overflow_t overflow;     /* queue */
	uint64_t refresh_ns;   /* sample: expected refresh period, 0 = none */
	/* call */
	uint32_t request;      /* message type index of the request (call) */
	uint32_t request_size;
	uint32_t reply;        /* message type index of the reply (call) */
	uint32_t reply_size;
	uint64_t timeout_ns;   /* call: 0 = none */
	myco_inflight_t inflight;     /* call */
	/* ends, partition indices in declaration order */
	size_t nsenders;   const uint32_t *senders;    /* queue/sample writers */
	size_t nreceivers; const uint32_t *receivers;  /* queue: exactly 1 */
	uint32_t receiver;     /* queue: the receiver; else NONE */
	uint32_t server;       /* call: the server partition; else NONE */
	size_t nclients;   const uint32_t *clients;    /* call */
} myco_channel_t;

/* -------------------------------------------------------------- partitions */

typedef enum myco_mode {
	MYCO_MODE_NONE,        /* best effort: no CPU reservation */
	MYCO_MODE_BUDGET,      /* runtime_ns every period_ns */
	MYCO_MODE_FRAME,       /* windows of system.schedule */
} myco_mode_t;

typedef enum myco_end_role {
	MYCO_END_SEND,
	MYCO_END_RECV,
	MYCO_END_CALL,
	MYCO_END_SERVE,
} myco_end_role_t;

typedef struct myco_end {
	uint32_t channel;      /* index into system.channels */
	myco_end_role_t role;
	myco_pos_t pos;
} myco_end_t;

typedef struct myco_pathres {
	const char *path;
	bool rw;               /* false = read-only */
	myco_pos_t pos;
} myco_pathres_t;

typedef enum myco_restart {
	MYCO_RESTART_PERMANENT,   /* always restarted */
	MYCO_RESTART_TRANSIENT,   /* restarted only after abnormal exit */
	MYCO_RESTART_TEMPORARY,   /* never restarted */
} myco_restart_t;

/* What the executive records of a partition's inputs (`record`). */
typedef enum myco_record {
	MYCO_RECORD_OFF,          /* not recorded (the control socket can turn it on) */
	MYCO_RECORD_ALWAYS,       /* recorded, the log kept */
	MYCO_RECORD_CRASH,        /* recorded, the log kept only when it crashes */
} myco_record_t;

#define MYCO_LANG_RECORD_BYTES (64ull << 20)   /* default `keep` */
#define MYCO_LANG_RECORD_MIN   (1ull << 20)
#define MYCO_LANG_RECORD_MAX   (64ull << 30)

/* ------------------------------------------------------------------ health */

/* The signals of the executive's health model (exec/health.h), the ones
 * an `slo` names.  Units: times in ns; memory in bytes or % of the
 * partition's `memory`; cpu % of its budget (of one core without one);
 * errors % of the messages handled; queue and restarts counts. */
typedef enum myco_signal {
	MYCO_SIG_HEARTBEAT,   /* heartbeat lateness */
	MYCO_SIG_LATENCY,     /* per-message processing latency (a quantile) */
	MYCO_SIG_QUEUE,       /* messages waiting in its input channels */
	MYCO_SIG_STALL,       /* input waiting without progress */
	MYCO_SIG_MEMORY,      /* resident memory */
	MYCO_SIG_CPU,         /* CPU against the budget */
	MYCO_SIG_ERRORS,      /* error rate */
	MYCO_SIG_RESTARTS,    /* restarts within the last minute */
} myco_signal_t;
#define MYCO_SIG_COUNT 8u

/* `slo latency p99 < 2 ms;`, `slo memory < 80 %;` ... */
typedef struct myco_slo {
	myco_signal_t signal;
	uint32_t quantile;     /* latency: per mille (500 = p50, 990 = p99,
				* 999 = p999); 0 for the other signals */
	double limit;          /* must stay below; unit as myco_signal_t */
	bool percent;          /* memory: limit is % of memory_bytes */
	myco_pos_t pos;
} myco_slo_t;

/* `heal ACTION [ahead T] [limit N per T];`: what the executive does with
 * a partition its health model finds sick. */
typedef enum myco_heal {
	MYCO_HEAL_RESTART,     /* replace it by its standby (default) */
	MYCO_HEAL_QUARANTINE,  /* freeze it, take it out of routing, replace it */
	MYCO_HEAL_SHED,        /* tell it to shed load (myco_shedding()) */
	MYCO_HEAL_ESCALATE,    /* hand it to its supervision group */
	MYCO_HEAL_OBSERVE,     /* report only */
} myco_heal_t;

/* One `bid` of a market partition. */
#define MYCO_LANG_BIDS_MAX 16
typedef struct myco_bid_decl {
	const char *task_class;       /* coroutine name, 1..31 bytes */
	uint64_t bid;                 /* base bid per period, 1 .. 1e9 */
	uint64_t income;              /* credits per period (default: bid) */
	uint64_t deadline_ns;         /* relative deadline; 0 = best effort */
	myco_pos_t pos;
} myco_bid_decl_t;

typedef struct myco_partition {
	const char *name;
	myco_pos_t pos;
	const char *program;          /* path as written (relative to the file's dir) */
	size_t argc;
	const char *const *argv;      /* argc entries + NULL; argv[0] = program */
	size_t nenv;
	const char *const *env;       /* "NAME=value" entries + NULL */
	size_t ncores;
	const uint32_t *cores;        /* ascending, unique; empty = any core */
	uint64_t core_mask;           /* bit i = core i (cores < 64) */
	myco_mode_t mode;
	uint64_t runtime_ns;          /* budget mode */
	uint64_t period_ns;           /* budget mode */
	uint64_t memory_bytes;        /* 0 = unspecified */
	const char *scheduler;        /* policy name, e.g. "fifo", "edf"; NULL = default */
	size_t nends;
	const myco_end_t *ends;
	size_t nports;
	const uint16_t *ports;        /* listening TCP/UDP ports */
	size_t npaths;
	const myco_pathres_t *paths;
	bool net;                     /* may use the network */
	myco_restart_t restart;
	uint64_t heartbeat_ns;        /* 0 = no heartbeat monitoring */
	uint32_t misses;              /* heartbeats missed before "hung" */
	bool ready;                   /* must report readiness after start */
	uint32_t group;               /* index into system.groups, or NONE */
	/* Run as (`user NAME|UID [group NAME|GID];`).  Names are resolved by
	 * the executive when it starts (getpwnam/getgrnam), not by the
	 * checker; numbers are range-checked (0 .. 4294967294). */
	bool run_as;                  /* `user` given; false = the executive's uid */
	const char *user_name;        /* NULL = numeric, see uid */
	uint32_t uid;                 /* valid when run_as and !user_name */
	bool run_group;               /* `group` given; false = the user's primary group */
	const char *group_name;       /* NULL = numeric, see gid */
	uint32_t gid;                 /* valid when run_group and !group_name */
	myco_pos_t user_pos;          /* of the `user` statement */
	/* `pids N;`: at most N processes and threads in the partition's cgroup
	 * (pids.max), counting every thread; 0 = not given, the executive
	 * applies MYCO_LANG_PIDS_DEFAULT.  1 .. MYCO_LANG_PIDS_MAX. */
	uint32_t pids_max;
	/* `cache ways N;`: N ways of the last-level cache reserved for the
	 * partition through resctrl (Intel RDT / AMD PQoS) where the hardware
	 * has it; 0 = not given (shares the cache).  1 .. 64. */
	uint32_t cache_ways;
	/* Health (docs/immune.md): the SLOs, in statement order, one per
	 * signal, and the healing policy.  heal_ahead_ns: act when a trend
	 * predicts an SLO (or the memory limit) is reached within it (default
	 * 10 s); at most heal_max heals within heal_within_ns (default 3 per
	 * 60 s), then the next sick verdict escalates to the group. */
	size_t nslos;
	const myco_slo_t *slos;
	myco_heal_t heal;
	uint64_t heal_ahead_ns;
	uint32_t heal_max;
	uint64_t heal_within_ns;
	myco_pos_t heal_pos;          /* of the `heal` statement (line 0: none) */
	/* `gateway { ... }`: the partition's HTTP gateway section, lowered to
	 * myco-gate's configuration text (docs/gate.md), which myco-gate reads
	 * with `--system FILE`; NULL when the partition has none. */
	const char *gateway;
	myco_pos_t gateway_pos;
	/* Record and replay (docs/replay.md): `record always;` keeps the log,
	 * `record on crash;` keeps it only when the partition crashes;
	 * `keep SIZE` and `for TIME` cap the log (last SIZE bytes / TIME). */
	myco_record_t record;         /* MYCO_RECORD_OFF when not given */
	uint64_t record_bytes;        /* 0 = the default, MYCO_LANG_RECORD_BYTES */
	uint64_t record_ns;           /* 0 = no age cap */
	/* `bid CLASS N [income N] [deadline TIME];` (scheduler market,
	 * docs/scheduling.md): in statement order, unique classes, at most
	 * MYCO_LANG_BIDS_MAX. */
	size_t nbids;
	const myco_bid_decl_t *bids;
	/* `cores MIN..MAX elastic;` (docs/scheduling.md): the partition's
	 * runtime has MAX loops; MIN always run, the executive's arbiter lends
	 * it up to MAX - MIN more cores from the pool the reservations leave.
	 * 1 <= MIN <= MAX <= MYCO_LANG_ELASTIC_MAX; both 0 = not elastic (and
	 * then ncores/cores list the cores it may run on). */
	uint32_t elastic_min, elastic_max;
	myco_pos_t elastic_pos;       /* of the `cores` statement */
} myco_partition_t;
#define MYCO_LANG_ELASTIC_MAX 64

/* ---------------------------------------------------------------- services */

/* HTTP methods of routes (a GET route also answers HEAD). */
typedef enum myco_http_method {
	MYCO_HTTP_GET,
	MYCO_HTTP_HEAD,
	MYCO_HTTP_POST,
	MYCO_HTTP_PUT,
	MYCO_HTTP_PATCH,
	MYCO_HTTP_DELETE,
	MYCO_HTTP_OPTIONS,
} myco_http_method_t;

/* A typed path parameter `{name:type}`. */
typedef struct myco_route_param {
	const char *name;
	myco_ftype_t type;     /* a scalar, MYCO_FT_STRING or MYCO_FT_ENUM */
	uint32_t length;       /* MYCO_FT_STRING: capacity in bytes (string[N], default 64) */
	uint32_t enum_type;    /* MYCO_FT_ENUM: index into system.enums, else NONE */
	bool rest;             /* `{name:path}`: the rest of the path (last segment) */
} myco_route_param_t;

/* One segment of a route's path, between slashes. */
typedef struct myco_route_seg {
	const char *literal;   /* literal text, or NULL for a parameter */
	uint32_t param;        /* parameter: index into the route's params */
} myco_route_seg_t;

/* `route METHOD "/path/{id:u64}" handler { query Q; request R; response S;
 * status 201; }` */
typedef struct myco_route {
	const char *handler;   /* the C handler's name (also the route's name) */
	myco_pos_t pos;
	myco_http_method_t method;
	const char *path;      /* as written, e.g. "/users/{id:u64}" */
	size_t nsegs;          /* 0 = the root path "/" */
	const myco_route_seg_t *segs;
	size_t nparams;
	const myco_route_param_t *params;  /* in path order */
	uint32_t query;        /* message type of the query string, or NONE */
	uint32_t request;      /* message type of the JSON body, or NONE */
	uint32_t response;     /* message type of the JSON answer, or NONE */
	uint32_t status;       /* success status, 0 = 200 */
} myco_route_t;

/* `service NAME { prefix "/api"; cors "*"; max_body 64 KiB; route ...; }`,
 * served by the partition that declares `serve NAME;`. */
typedef struct myco_service {
	const char *name;
	myco_pos_t pos;
	uint32_t server;       /* index into system.partitions */
	const char *prefix;    /* mount point, e.g. "/api"; NULL = "/" */
	size_t norigins;
	const char *const *origins;   /* CORS origins ("*" = any); empty = no CORS */
	uint64_t max_body;     /* bytes, 0 = the framework's default (1 MiB) */
	size_t nroutes;
	const myco_route_t *routes;   /* declaration order */
} myco_service_t;

/* --------------------------------------------------------------- supervision */

typedef enum myco_strategy {
	MYCO_ONE_FOR_ONE,
	MYCO_ONE_FOR_ALL,
	MYCO_REST_FOR_ONE,
} myco_strategy_t;

typedef struct myco_group {
	const char *name;
	myco_pos_t pos;
	myco_strategy_t strategy;
	uint32_t max_restarts;        /* restarts allowed ... */
	uint64_t within_ns;           /* ... within this period, then escalate */
	size_t nmembers;
	const uint32_t *members;      /* partition indices, declared (= start) order */
} myco_group_t;

/* ------------------------------------------------------------ frame schedule */

typedef struct myco_window {
	uint64_t offset_ns;           /* from the start of the major frame */
	uint64_t duration_ns;
	uint32_t partition;           /* index into system.partitions */
	myco_pos_t pos;
} myco_window_t;

typedef struct myco_core_sched {
	uint32_t core;
	size_t nwindows;
	const myco_window_t *windows; /* sorted by offset, non-overlapping */
} myco_core_sched_t;

typedef struct myco_schedule {
	uint64_t major_ns;            /* 0 = the system has no frame schedule */
	myco_pos_t pos;
	size_t ncores;
	const myco_core_sched_t *cores;   /* sorted by core */
} myco_schedule_t;

/* -------------------------------------------------------------------- chaos */

/* One fault of a chaos experiment (docs/chaos.md).  kind is the statement
 * word: drop, delay, duplicate, reorder, corrupt, bandwidth, stall (target:
 * a queue or call channel, faulted at its receiver), slow, fdleak, kill,
 * hang, hog, leak, skew, starve, slowsys (target: a partition; "*" = a random
 * running one at each firing, written `any`).  Times relative to the
 * experiment's start; for_ns 0 = until it ends; every_ns 0 = once. */
typedef struct myco_chaos_fault {
	const char *kind;
	const char *target;
	myco_pos_t pos;
	uint64_t at_ns, for_ns, every_ns;
	double probability;    /* 0..1 (1 when not given) */
	uint64_t seed;         /* 0 = derived from the experiment's seed */
	int64_t arg;           /* delay, slow: ns; hang: its length in ns (0 =
				* half of every, else for); corrupt: bits;
				* bandwidth, leak: bytes a second; fdleak: fds a
				* second; hog, starve: percent; skew: signed ns */
	uint64_t arg2;         /* delay: jitter ns; slowsys: the system calls,
				* bit i = myco_chaos_syscall_name(i) */
	bool replies;          /* a call channel's replies, faulted at its
				* clients (`delay svc replies 2 ms;`); a sample
				* channel's faults act at its readers */
} myco_chaos_fault_t;

/* The i-th system call a `slowsys` fault can slow, NULL past the last. */
const char *myco_chaos_syscall_name(unsigned i);

typedef struct myco_chaos {
	const char *name;
	myco_pos_t pos;
	uint64_t seed;         /* `seed N;`, 0 = not given */
	uint64_t duration_ns;  /* `duration T;`, 0 = the longest fault's end */
	size_t nfaults;
	const myco_chaos_fault_t *faults;
} myco_chaos_t;

/* ------------------------------------------------------------------- system */

typedef struct myco_system {
	const char *name;
	myco_pos_t pos;
	const char *path;             /* file it was loaded from (as given) */
	uint32_t machine_cores;       /* 0 = unspecified */
	uint64_t machine_memory;      /* bytes, 0 = unspecified */
	size_t nmsgs;       const myco_msgtype_t *msgs;   /* incl. imported */
	size_t nchannels;   const myco_channel_t *channels;
	size_t npartitions; const myco_partition_t *partitions;
	size_t ngroups;     const myco_group_t *groups;
	myco_schedule_t schedule;
	void *internal_;              /* private: arena and name tables */
	size_t nenums;      const myco_enum_t *enums;      /* incl. imported */
	/* `metrics PORT;` or `metrics "ADDR:PORT";`: where the executive
	 * serves Prometheus /metrics.  metrics_port 0 = not declared (no
	 * endpoint).  metrics_addr is a numeric IPv4 or IPv6 address without
	 * brackets ("127.0.0.1" for a bare port: loopback by default); NULL
	 * when not declared. */
	uint16_t metrics_port;
	const char *metrics_addr;
	myco_pos_t metrics_pos;       /* of the `metrics` statement */
	/* `dashboard PORT;` or `dashboard "ADDR:PORT";`: where the executive's
	 * dashboard (`myco dash`, docs/dashboard.md) serves the live system
	 * map.  dashboard_port 0 = not declared; dashboard_addr as metrics_addr. */
	uint16_t dashboard_port;
	const char *dashboard_addr;
	myco_pos_t dashboard_pos;     /* of the `dashboard` statement */
	/* `dashboard 8080 actions kill, restart;`: what the page may do, behind
	 * its token (MYCO_DASH_ACT_* bits; 0 = read-only, the default). */
	uint32_t dashboard_actions;
	/* `shield cores N, M;`: cores the executive keeps other tasks, IRQs
	 * and (where the kernel allows) RCU callbacks and timers off while the
	 * system runs.  Empty = none. */
	size_t nshield;
	const uint32_t *shield_cores; /* ascending, unique, < 64 (and < machine_cores) */
	uint64_t shield_mask;         /* bit i = core i */
	myco_pos_t shield_pos;        /* of the `shield` statement */
	size_t nservices;   const myco_service_t *services;
	/* `chaos NAME { ... }`: experiments for `myco chaos run NAME`
	 * (docs/chaos.md), in declaration order. */
	size_t nchaos;      const struct myco_chaos *chaos;
} myco_system_t;

/* ------------------------------------------------------------- diagnostics */

typedef enum myco_severity {
	MYCO_SEV_ERROR,
	MYCO_SEV_WARNING,
	MYCO_SEV_NOTE,
} myco_severity_t;

typedef struct myco_diag {
	myco_severity_t severity;
	const char *code;       /* "E012"; stable, see docs/lang-errors.md */
	const char *message;
	const char *hint;       /* may be NULL */
	myco_pos_t pos;         /* file may be "<input>" */
	uint32_t len;           /* span length in columns on that line (>= 1) */
} myco_diag_t;

typedef struct myco_diags myco_diags_t;   /* opaque */

size_t myco_diags_count(const myco_diags_t *d);
size_t myco_diags_errors(const myco_diags_t *d);   /* errors only */
/* i-th diagnostic in source order (file, then line, then column); valid
 * until myco_diags_free(). NULL when out of range. */
const myco_diag_t *myco_diags_get(const myco_diags_t *d, size_t i);
/* Human format: "file:line:col: error[E012]: message", the source line, a
 * caret/tilde span, "hint: ..." lines; then a summary line. color: ANSI. */
void myco_diags_print(const myco_diags_t *d, FILE *f, bool color);
/* JSON: one array of objects {severity, code, message, hint, file, line,
 * col, len}. */
void myco_diags_print_json(const myco_diags_t *d, FILE *f);
void myco_diags_free(myco_diags_t *d);

/* -------------------------------------------------------------------- load */

/* Flags for myco_lang_load_buffer_flags(). */
#define MYCO_LANG_NO_IMPORTS 0x1u   /* `import` is an error (fuzzing, sandboxes) */

/* Parse, import and check a system file.  On success returns 0 and *out is
 * the checked model (free with myco_system_free()).  On invalid input returns
 * -MYCO_ESYNTAX and *out is NULL.  Other failures: -ENOMEM, -errno of
 * reading the file (then *diags is NULL: nothing was parsed).  Otherwise,
 * if diags is not NULL, *diags receives the diagnostics object (possibly
 * empty, possibly with warnings on success); free it with myco_diags_free().  It keeps copies of the source lines it
 * refers to, so it outlives the input buffer. */
int myco_lang_load_file(const char *path, myco_system_t **out,
			myco_diags_t **diags);

/* The same from memory.  name is used in messages and to resolve imports
 * (relative to its directory); buf need not be NUL-terminated. */
int myco_lang_load_buffer(const char *name, const char *buf, size_t len,
			  myco_system_t **out, myco_diags_t **diags);
int myco_lang_load_buffer_flags(const char *name, const char *buf, size_t len,
				unsigned flags, myco_system_t **out,
				myco_diags_t **diags);

/* As myco_lang_load_file(), with extra statements of the system block
 * from outside the file (e.g. `chaos cli { kill any every 100 ms; }` from
 * `myco chaos run --fault`), checked as if they closed the system block;
 * extra_name names them in diagnostics (NULL: "<extra>"). */
int myco_lang_load_file_extra(const char *path, const char *extra_name,
			      const char *extra, size_t extra_len,
			      myco_system_t **out, myco_diags_t **diags);

void myco_system_free(myco_system_t *sys);

/* Name lookups in O(1) (hash tables).  Return the index or MYCO_LANG_NONE. */
uint32_t myco_system_find_msg(const myco_system_t *sys, const char *name);
uint32_t myco_system_find_channel(const myco_system_t *sys, const char *name);
uint32_t myco_system_find_partition(const myco_system_t *sys, const char *name);
uint32_t myco_system_find_group(const myco_system_t *sys, const char *name);
uint32_t myco_system_find_enum(const myco_system_t *sys, const char *name);
uint32_t myco_system_find_service(const myco_system_t *sys, const char *name);

/* Names of enum values as written in the language ("queue", "drop_oldest",
 * "rest_for_one", ...).  Static strings. */
const char *myco_lang_chan_kind_name(myco_lang_chan_kind_t k);
const char *myco_overflow_name(myco_overflow_t o);
const char *myco_inflight_name(myco_inflight_t o);
const char *myco_mode_name(myco_mode_t m);
const char *myco_end_role_name(myco_end_role_t r);
const char *myco_restart_name(myco_restart_t r);
const char *myco_record_name(myco_record_t r);        /* "off", "always", "on crash" */
const char *myco_strategy_name(myco_strategy_t s);
const char *myco_ftype_name(myco_ftype_t t);
const char *myco_http_method_name(myco_http_method_t m);   /* "GET" ... */
/* Cores the budget and frame partitions of sys reserve (docs/scheduling.md):
 * the union of their listed cores and of the cores holding frame windows,
 * plus the unpinned budgets' utilisation rounded up.  The rest of the
 * machine, less the elastic partitions' minimums, is the loan pool. */
unsigned myco_lang_reserved_cores(const myco_system_t *sys);

/* ------------------------------------------------------------------- tools */

/* The checked model as one JSON document (for tools).  0 or -errno. */
int myco_lang_dump_json(const myco_system_t *sys, FILE *f);

/* Canonical form of a source buffer (comments kept; idempotent).  On success
 * 0 and *out is a malloc'd NUL-terminated string (caller frees) of *outlen
 * bytes.  A buffer that does not parse gives -MYCO_ESYNTAX and diagnostics
 * (if diags != NULL, as for load). */
int myco_lang_fmt(const char *name, const char *buf, size_t len,
		  char **out, size_t *outlen, myco_diags_t **diags);

/* A C header for the system's message types and channel names (fixed
 * little-endian layout, explicit padding, _Static_assert on sizes and
 * offsets, <type>_validate() helpers).  0 or -errno. */
int myco_lang_gen_header(const myco_system_t *sys, FILE *f);

/* Graphviz dot of partitions (nodes), channels (edges) and groups
 * (clusters).  0 or -errno. */
int myco_lang_graph_dot(const myco_system_t *sys, FILE *f);

/* Long explanation of an error code ("E012" or "e12"); static string, or NULL
 * if the code is unknown. */
const char *myco_lang_explain(const char *code);
/* i-th known code ("E001", ...) with its explanation in *text; NULL past the
 * end.  For listing all codes (docs/lang-errors.md). */
const char *myco_lang_code_at(size_t i, const char **text);

#ifdef __cplusplus
}
#endif
#endif /* MYCO_LANG_H */
