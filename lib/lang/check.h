/*
 * check.h: what the checker's files share (private to lib/lang).  The checker
 * turns statement trees into the model in four steps, one file each:
 *
 *     import.c   load the root file and its imports, walk the file level
 *     lower.c    system-level declarations, machine, channels, groups,
 *                schedule; lower_part.c: partition statements
 *     layout.c   message and enum bodies, message layout
 *     verify.c   whole-system checks (channel ends, call cycles, CPU and
 *                memory)
 *
 * check.c holds the entry points and the model's lifetime; cursor.c the
 * argument cursor every statement handler reads its arguments with, and the
 * block walker that dispatches a block's statements through the statement
 * table (stmts.c).  Not for: the parser (lang_int.h is what parse.c sees).
 */
#ifndef MYCO_LANG_CHECK_H
#define MYCO_LANG_CHECK_H

#include "lang_int.h"

/* --------------------------------------------------------------- builders */

typedef struct bmsg {
	myco_msgtype_t m;
	myco__stmt_t *st;
	myco_field_t *f;           /* malloc'd until finalised */
	size_t nf, fcap;
	int state;                 /* layout: 0 not yet, 1 in progress, 2 done, 3 bad */
	bool bad;
} bmsg_t;

typedef struct benum {
	myco_enum_t e;
	myco__stmt_t *st;
	myco_enum_value_t *v;      /* malloc'd until finalised */
	size_t nv, vcap;
	bool bad;
} benum_t;

typedef struct bchan {
	myco_channel_t c;
	myco__stmt_t *st;
	uint32_t *snd, *rcv, *cli;
	size_t nsnd, csnd, nrcv, crcv, ncli, ccli;
	uint32_t nserve;
	myco_pos_t serve_pos[2];
	myco_pos_t rcv_pos[2];
	myco_pos_t snd_pos[2];
	bool bad;
	bool unsure;               /* a misspelt reference may have meant it */
} bchan_t;

typedef struct bpart {
	myco_partition_t p;
	myco__stmt_t *st;
	myco_end_t *ends;
	size_t nends, cends;
	bool bad;
	bool has_window;
	myco_pos_t mode_pos, mem_pos, group_pos;
} bpart_t;

typedef struct bgroup {
	myco_group_t g;
	myco__stmt_t *st;
	bool bad;
} bgroup_t;

typedef struct broute {
	myco_route_t r;
	myco__arg_t *path_a;       /* the path string, for carets */
	bool bad;
} broute_t;

typedef struct bservice {
	myco_service_t s;
	myco__stmt_t *st;
	broute_t *routes;          /* malloc'd until finalised */
	size_t nroutes, croutes;
	const char **origins;      /* malloc'd until finalised */
	size_t norigins, corigins;
	uint32_t nserve;
	myco_pos_t serve_pos[2];
	bool bad;
} bservice_t;

typedef struct bchaos {
	myco_chaos_t x;
	myco__stmt_t *st;
	myco_chaos_fault_t *f;     /* malloc'd until finalised */
	size_t nf, cf;
	bool bad;
} bchaos_t;

typedef struct bfile {
	char *real;                /* realpath, malloc'd */
	const char *name;          /* model arena */
	bool done;
	myco__tree_t tree;
} bfile_t;

typedef struct ctx {
	myco__arena_t ma;          /* model: survives on success */
	myco__arena_t pa;          /* parse trees: freed at the end */
	myco_diags_t *d;
	unsigned flags;
	bfile_t *files;
	size_t nfiles, cfiles;
	size_t *stack;             /* import chain (indices into files) */
	size_t nstack, cstack;
	myco__stmt_t *system;      /* the system statement */
	bmsg_t *msgs;     size_t nmsgs, cmsgs;
	benum_t *enums;   size_t nenums, cenums;
	bchan_t *chans;   size_t nchans, cchans;
	bpart_t *parts;   size_t nparts, cparts;
	bgroup_t *groups; size_t ngroups, cgroups;
	bservice_t *svcs; size_t nsvcs, csvcs;
	bchaos_t *chaos;  size_t nchaos, cchaos;
	myco__htab_t hmsg, hchan, hpart, hgroup, henum, hsvc;
	const char **ntype;        /* message and enum names */
	const char **nmsg, **nchan, **npart, **ngroup;   /* names for "did you mean" */
	myco_system_t *sys;
	myco_schedule_t sched;
	myco__stmt_t *sched_st;
	uint32_t *port_owner;      /* port -> partition index + 1 (65536 entries) */
	myco__arg_t *metrics_arg;  /* the `metrics` argument, for the port check */
	myco__arg_t *dashboard_arg; /* the `dashboard` argument, likewise */
	struct shield_core { uint32_t core; myco__arg_t *a; } *shield;
	size_t nshield, cshield;   /* `shield cores`, in statement order */
	myco__stmt_t *shield_st;
	bool oom;
} ctx_t;

#define ERR(c, code, pos, len, hint, ...) \
	myco__diag((c)->d, MYCO_SEV_ERROR, code, pos, len, hint, __VA_ARGS__)
#define WARN(c, code, pos, len, hint, ...) \
	myco__diag((c)->d, MYCO_SEV_WARNING, code, pos, len, hint, __VA_ARGS__)

/* A "did you mean `x`?" hint in the parse arena, or fallback. */
const char *myco__mean(ctx_t *c, const char *w, const char *const *cands, size_t n,
		       const char *fallback);
/* A copy of s in the model arena ("" and c->oom on failure). */
const char *myco__astr(ctx_t *c, const char *s);

/* ------------------------------------------------------------ arg cursor */
/* Reads a statement's arguments left to right.  Every want_* reports what
 * it expected (E011 with "write it as: <usage>"), sets failed and returns
 * false/NULL; once failed, the cursor reports nothing more. */

typedef struct cur {
	ctx_t *c;
	myco__stmt_t *s;
	size_t i;
	bool failed;
	const char *usage;         /* shape of the statement, for hints */
} cur_t;

cur_t myco__cur_of(ctx_t *c, myco__stmt_t *s, const char *usage);
void myco__expected(cur_t *k, const char *what);
myco__arg_t *myco__peek(cur_t *k);
bool myco__at_punct(cur_t *k, char ch);
bool myco__want_punct(cur_t *k, char ch);
myco__arg_t *myco__want_ident(cur_t *k, const char *what);
/* The keyword `word` (e.g. `per` in `budget 2 ms per 10 ms`). */
bool myco__want_word(cur_t *k, const char *word, const char *what);
myco__arg_t *myco__want_str(cur_t *k, const char *what);
/* A bare whole number in [lo, hi]. */
bool myco__want_uint(cur_t *k, const char *what, uint64_t lo, uint64_t hi, uint64_t *out);
/* A quantity with a time (is_time) or size unit, converted. */
bool myco__want_qty(cur_t *k, bool is_time, const char *what, uint64_t *out);
/* No arguments left (a block may follow). */
bool myco__args_done(cur_t *k);
/* No arguments left and no block: a simple statement is complete. */
bool myco__want_end(cur_t *k);
bool myco__want_block(ctx_t *c, myco__stmt_t *s, const char *usage);
/* An identifier from a fixed set; index or -1 (reported). */
int myco__want_choice(cur_t *k, const char *what, const char *const *set, size_t n);
/* Name of a declaration (args[1]); reports and returns NULL when missing. */
myco__arg_t *myco__decl_name(ctx_t *c, myco__stmt_t *s, const char *usage);
/* Register a name; 0, -EEXIST (reported as E021) or -ENOMEM. */
int myco__reg_name(ctx_t *c, myco__htab_t *h, size_t idx, myco__arg_t *a, const char *kind);
/* `word name ... { ... }` (channel, partition, group, service): the name,
 * the cursor left after it (NULL, reported, when missing); then
 * myco__decl_block(): no more arguments, and the block (false, reported). */
myco__arg_t *myco__decl_open(myco__lower_t *l);
bool myco__decl_block(myco__lower_t *l);

/* ------------------------------------------------------- statement walker */

typedef struct part_acc part_acc_t;     /* lower_part.c */
typedef struct sched_acc sched_acc_t;   /* lower.c */
typedef struct group_acc group_acc_t;   /* lower.c */

/* What a statement handler (myco__stmt_def_t.lower) gets: the statement,
 * its table entry, a cursor over its arguments (usage from the table) and
 * what the enclosing block builds. */
struct myco__lower {
	ctx_t *c;
	myco__stmt_t *x;
	const myco__stmt_def_t *def;
	cur_t k;
	size_t fi;                 /* file level: index into c->files */
	bool root;                 /* file level: the system file */
	bpart_t *bp;               /* partition */
	part_acc_t *pa;
	bchan_t *bc;               /* channel */
	bgroup_t *bg;              /* group */
	group_acc_t *ga;
	uint32_t gi;
	bservice_t *bs;            /* service */
	broute_t *br;              /* route */
	sched_acc_t *sa;           /* schedule and core */
	uint32_t core;             /* core block: its core */
	bchaos_t *bx;              /* chaos experiment */
	uint64_t seen[4];          /* statements already given (table index) */
	struct gw_acc *gw;         /* gateway and its upstream/route blocks */
};

/* Walk the statements of block s (its kids) as statements of blk: a
 * statement with a syntax error is skipped (unless its entry says
 * MYCO__S_EVEN_BAD), an unknown word is E010 with a "did you mean", a
 * statement given twice is E022 (unless MYCO__S_REPEAT); admit (may be NULL)
 * may refuse an entry (reported by it); then the entry's handler runs with a
 * copy of *proto.  *bad (may be NULL) is set for skipped, unknown and
 * refused statements. */
void myco__lower_block(myco__lower_t *proto, myco__stmt_t *s, myco__blk_t blk,
		       bool (*admit)(myco__lower_t *l), bool *bad);
/* E010 for an unknown statement word in blk. */
void myco__unknown_stmt(ctx_t *c, myco__stmt_t *s, myco__blk_t blk);

/* ------------------------------------------------------ statement handlers */
/* Named in the statement table (stmts.c); each reads l->x through l->k. */

/* import.c: the file level */
void myco__lower_import(myco__lower_t *l);
void myco__lower_system_decl(myco__lower_t *l);
/* layout.c: message and enum declarations (file and system level) */
void myco__lower_message_decl(myco__lower_t *l);
void myco__lower_enum_decl(myco__lower_t *l);
/* lower.c: system level */
void myco__lower_machine(myco__lower_t *l);
void myco__lower_channel_decl(myco__lower_t *l);
void myco__lower_partition_decl(myco__lower_t *l);
void myco__lower_group_decl(myco__lower_t *l);
void myco__lower_schedule_decl(myco__lower_t *l);
void myco__lower_import_in_system(myco__lower_t *l);
void myco__lower_metrics(myco__lower_t *l);
void myco__lower_dashboard(myco__lower_t *l);
void myco__lower_shield(myco__lower_t *l);
void myco__lower_machine_cores(myco__lower_t *l);
void myco__lower_machine_memory(myco__lower_t *l);
void myco__lower_chan_type(myco__lower_t *l);
void myco__lower_chan_depth(myco__lower_t *l);
void myco__lower_chan_overflow(myco__lower_t *l);
void myco__lower_chan_refresh(myco__lower_t *l);
void myco__lower_chan_request(myco__lower_t *l);
void myco__lower_chan_timeout(myco__lower_t *l);
void myco__lower_chan_inflight(myco__lower_t *l);
void myco__lower_group_strategy(myco__lower_t *l);
void myco__lower_group_restarts(myco__lower_t *l);
void myco__lower_group_members(myco__lower_t *l);
void myco__lower_sched_major(myco__lower_t *l);
void myco__lower_sched_core(myco__lower_t *l);
void myco__lower_core_window(myco__lower_t *l);
/* lower_svc.c: services and routes */
void myco__lower_service_decl(myco__lower_t *l);
void myco__lower_svc_route(myco__lower_t *l);
void myco__lower_svc_prefix(myco__lower_t *l);
void myco__lower_svc_cors(myco__lower_t *l);
void myco__lower_svc_max_body(myco__lower_t *l);
void myco__lower_route_msg(myco__lower_t *l);
void myco__lower_route_status(myco__lower_t *l);
/* lower_part.c: partition statements */
/* lower_gate.c: a partition's gateway section */
void myco__lower_part_gateway(myco__lower_t *l);
void myco__lower_gw_listen(myco__lower_t *l);
void myco__lower_gw_loops(myco__lower_t *l);
void myco__lower_gw_size(myco__lower_t *l);
void myco__lower_gw_timeout(myco__lower_t *l);
void myco__lower_gw_cache(myco__lower_t *l);
void myco__lower_gw_onoff(myco__lower_t *l);
void myco__lower_gw_tls(myco__lower_t *l);
void myco__lower_gw_upstream(myco__lower_t *l);
void myco__lower_gw_route(myco__lower_t *l);
void myco__lower_gu_server(myco__lower_t *l);
void myco__lower_gu_balance(myco__lower_t *l);
void myco__lower_gu_keepalive(myco__lower_t *l);
void myco__lower_gu_health(myco__lower_t *l);
void myco__lower_gu_eject(myco__lower_t *l);
void myco__lower_gu_retries(myco__lower_t *l);
void myco__lower_gr_proxy(myco__lower_t *l);
void myco__lower_gr_respond(myco__lower_t *l);
void myco__lower_gr_flag(myco__lower_t *l);
void myco__lower_gr_header(myco__lower_t *l);
void myco__lower_gr_rate(myco__lower_t *l);
void myco__lower_gr_cache(myco__lower_t *l);

void myco__lower_part_program(myco__lower_t *l);
void myco__lower_part_args(myco__lower_t *l);
void myco__lower_part_env(myco__lower_t *l);
void myco__lower_part_cores(myco__lower_t *l);
void myco__lower_part_budget(myco__lower_t *l);
void myco__lower_part_frame(myco__lower_t *l);
void myco__lower_part_memory(myco__lower_t *l);
void myco__lower_part_scheduler(myco__lower_t *l);
void myco__lower_part_end(myco__lower_t *l);
void myco__lower_part_listen(myco__lower_t *l);
void myco__lower_part_path(myco__lower_t *l);
void myco__lower_part_net(myco__lower_t *l);
void myco__lower_part_restart(myco__lower_t *l);
void myco__lower_part_heartbeat(myco__lower_t *l);
void myco__lower_part_misses(myco__lower_t *l);
void myco__lower_part_readiness(myco__lower_t *l);
void myco__lower_part_user(myco__lower_t *l);
void myco__lower_part_pids(myco__lower_t *l);
void myco__lower_part_cache(myco__lower_t *l);
void myco__lower_part_record(myco__lower_t *l);
/* lower_health.c: `slo`, `heal`, and the defaults and cross-statement
 * checks after the partition's block */
void myco__lower_part_slo(myco__lower_t *l);
void myco__lower_part_heal(myco__lower_t *l);
void myco__lower_part_health_done(ctx_t *c, myco_partition_t *p);
/* lower_sched.c: `bid` and its check after the partition's block */
void myco__lower_part_bid(myco__lower_t *l);
void myco__lower_part_sched_done(ctx_t *c, myco_partition_t *p);
/* `cores MIN..MAX elastic;` (called by the `cores` handler at a range) and
 * the system's admission with loans (E133-E135, W003) */
void myco__lower_part_elastic(myco__lower_t *l);
void myco__check_elastic(ctx_t *c);

/* lower_chaos.c: `chaos NAME { ... }` experiments (docs/chaos.md): the
 * declaration (pass 1), its statements, and the walk of every experiment
 * after the partitions and channels are known (pass 2) */
void myco__lower_chaos_decl(myco__lower_t *l);
void myco__lower_chaos_seed(myco__lower_t *l);
void myco__lower_chaos_duration(myco__lower_t *l);
void myco__lower_chaos_fault(myco__lower_t *l);
void myco__lower_chaos_all(ctx_t *c);
/* A plain number (whole or decimal); the arg or NULL (reported E011). */
myco__arg_t *myco__want_number(cur_t *k, const char *what, double *out);

/* ------------------------------------------------------------- the steps */

/* import.c: parse one file's text into c->files[fi].tree and walk its file
 * level (imports, message types, the system statement).  root: the system
 * file.  0 or -ENOMEM. */
int myco__load_text(ctx_t *c, size_t fi, const char *buf, size_t len, bool root);
/* Read a whole regular file (at most MYCO__MAX_FILE bytes) into malloc'd
 * *buf (NUL-terminated, caller frees).  0, -EFBIG, -EISDIR, -EINVAL, -EIO
 * (it shrank while read) or -errno. */
int myco__read_file(const char *path, char **buf, size_t *len);

/* layout.c */
void myco__lower_enum(ctx_t *c, benum_t *e);
void myco__lower_fields(ctx_t *c, bmsg_t *m);
bool myco__layout(ctx_t *c, uint32_t mi, unsigned depth);

/* lower.c: the system statement, pass 1 (names) then pass 2 (bodies), then
 * the verify.c checks.  0 or -ENOMEM. */
int myco__lower_system(ctx_t *c);
/* lower_svc.c: a service's body (after the partitions: their `serve`); the
 * service checks (servers, conflicting routes). */
void myco__lower_service(ctx_t *c, bservice_t *b);
void myco__check_services(ctx_t *c);
/* lower.c: a message type by name for `type`, `request`, ... (E020). */
uint32_t myco__want_msg(cur_t *k, const char *what);
/* lower_part.c: a partition's body. */
void myco__lower_partition(ctx_t *c, bpart_t *b);
/* check.c: name lists for "did you mean".  0 or -ENOMEM. */
int myco__name_lists(ctx_t *c);

/* verify.c */
void myco__check_channels(ctx_t *c);
void myco__check_call_cycles(ctx_t *c);
void myco__check_time_and_memory(ctx_t *c, const myco_system_t *sys);
/* The metrics port against the partitions' ports; shielded cores against
 * the machine. */
void myco__check_host(ctx_t *c);

#endif /* MYCO_LANG_CHECK_H */
