/*
 * chaos.h: the chaos toolkit's contract (docs/chaos.md): an experiment (a
 * list of seeded faults with target, start, duration and probability), its
 * JSON form on the control socket (`{"cmd":"chaos",...}`, parsed by
 * myco__chaos_from_json, the one parser of the executive side), and the
 * executive's engine that applies it (exec/chaos.c).  Channel faults and
 * the partition faults libmyco applies go through the fault table of each
 * partition's control region (lib/part/part_abi.h, struct myco__part_chaos);
 * the others (kill, hang, CPU hog, memory leak, clock skew, budget
 * starvation) the executive applies itself.
 * Users: exec/ (control.c, supervise.c, spawn.c), cmd/myco (`myco chaos`),
 * the fuzz harness tests/fuzz/exec/chaos_req.
 * Not for: the language's `chaos` block (lib/lang, the model in
 * myco/lang.h), the receive-path hook (lib/chan/chaos.c).
 */
#ifndef MYCO_EXEC_CHAOS_H
#define MYCO_EXEC_CHAOS_H

#include <stddef.h>
#include <stdint.h>

#include "part_abi.h"

struct json_t;
struct ex_system;
struct ex_part;
struct ex_inst;

#define MYCO__CHAOS_MAX_FAULTS 64u      /* per experiment */
#define MYCO__CHAOS_NAME_MAX   64u

/* Fault kinds: the table kinds of part_abi.h (1..9, applied in the
 * partition) and the executive's own. */
enum {
	MYCO__CHAOS_KILL   = 16,        /* SIGKILL the active process */
	MYCO__CHAOS_HANG   = 17,        /* SIGSTOP for the duration, then SIGCONT */
	MYCO__CHAOS_HOG    = 18,        /* a spinning process in the partition's
					 * cgroup: arg = percent of one core */
	MYCO__CHAOS_LEAK   = 19,        /* a process in the partition's cgroup that
					 * touches arg bytes more each second */
	MYCO__CHAOS_SKEW   = 20,        /* myco_now() in the partition is off by
					 * arg ns (signed, as int64) */
	MYCO__CHAOS_STARVE = 21,        /* the partition's CPU quota cut to arg
					 * percent of its budget (cgroup cpu.max) */
	MYCO__CHAOS_SLOWSYS = 22,       /* the partition's own system calls of
					 * the set arg2 (bit i =
					 * myco_chaos_syscall_name(i)) wait arg ns
					 * in the kernel: seccomp user
					 * notification, answered late */
};

/* One fault of an experiment.  Times are relative to the experiment's
 * start.  target: a partition name (partition faults), a channel name
 * (channel faults: applied at its receiving partition), or "*" = a
 * partition chosen at random (from the fault's seed) at each firing. */
struct myco__chaos_fault {
	uint32_t kind;
	char target[MYCO__CHAOS_NAME_MAX];
	uint64_t at_ns;                 /* start */
	uint64_t for_ns;                /* duration; 0 = until the experiment ends
					 * (KILL: 0 = once) */
	uint64_t every_ns;              /* KILL, HANG: fire every so often within
					 * [at, at + for); 0 = once at `at` */
	uint32_t prob;                  /* out of UINT32_MAX: per message, per
					 * call, or per firing */
	uint64_t seed;                  /* 0: derived from the experiment seed and
					 * the fault's index */
	int64_t arg;                    /* per kind (see the enums) */
	uint64_t arg2;                  /* DELAY: jitter ns; SLOWSYS: the calls */
	uint32_t flags;                 /* MYCO__CHAOS_F_* */
};

/* A call channel's replies, faulted at its clients (drop, delay, corrupt,
 * stall).  Without it a call channel is faulted at its server, a sample
 * channel (drop, corrupt, stall) at its readers. */
#define MYCO__CHAOS_F_REPLIES 0x1u

struct myco__chaos_exp {
	char name[MYCO__CHAOS_NAME_MAX];
	uint64_t duration_ns;           /* 0 = the longest fault's end */
	uint64_t seed;
	uint32_t nfaults;
	struct myco__chaos_fault f[MYCO__CHAOS_MAX_FAULTS];
};

/* The word of a kind ("drop", "delay", ..., "kill", "hang", "hog", "leak",
 * "skew", "starve") and back (-EINVAL for an unknown word). */
const char *myco__chaos_kind_name(uint32_t kind);
int myco__chaos_kind_parse(const char *word);
/* 1 for a channel fault (target is a channel), 0 otherwise. */
int myco__chaos_kind_is_chan(uint32_t kind);

/* The control request's experiment:
 *   {"cmd":"chaos","action":"run","experiment":S,"seed":N,"duration_ns":N,
 *    "faults":[{"kind":S,"target":S,"at_ns":N,"for_ns":N,"every_ns":N,
 *               "prob":N (0..1 as a number),"seed":N,"arg":N,"arg2":N}]}
 * into *e (zeroed first).  Returns 0, or -EINVAL with a one-line reason in
 * err (cap bytes).  Untrusted input: every field is checked.  (Without
 * "faults", control.c runs the system file's experiment named S.) */
int myco__chaos_from_json(const struct json_t *req, struct myco__chaos_exp *e,
			  char *err, size_t cap);
/* An experiment of the checked model (`chaos NAME { ... }`, myco/lang.h)
 * into *e.  0, or -EINVAL with the reason in err (too many faults). */
struct myco_chaos;
int myco__chaos_from_model(const struct myco_chaos *m, struct myco__chaos_exp *e,
			   char *err, size_t cap);
/* The same object (without "cmd"/"action"); a new reference, NULL on OOM. */
struct json_t *myco__chaos_to_json(const struct myco__chaos_exp *e);

/* ---- executive (exec/chaos.c); main loop thread only ---------------- */

/* Start experiment e now (one at a time: -EBUSY while one runs).  Checks
 * every target against the system (-ENOENT, reason in err).  Events:
 * `chaos-start`, then `chaos` for every fault applied, `chaos-end`. */
int myco__ex_chaos_start(struct ex_system *s, const struct myco__chaos_exp *e,
			 char *err, size_t cap);
/* Stop the running experiment (every fault undone); 0 or -ENOENT. */
int myco__ex_chaos_stop(struct ex_system *s, const char *why);
/* From the 10 ms tick: fire due faults, end expired ones, keep every live
 * instance's fault table current (replacements and standbys included). */
void myco__ex_chaos_tick(struct ex_system *s, uint64_t now);
/* A new instance of p: write the current fault table into its control
 * region before it runs. */
void myco__ex_chaos_inst(struct ex_system *s, struct ex_part *p,
			 struct ex_inst *in);
/* The experiment's status for the control reply (`{"running":B,...}`,
 * with per partition the counters libmyco applied, and "seq": the sums
 * of the gauges seq_lost and seq_duplicated that receiving partitions
 * export, or null when none does); a new reference. */
struct json_t *myco__ex_chaos_json(struct ex_system *s);
/* The system calls partition p's processes are spawned with trapped
 * (box trap_syscalls): those of every `slowsys` fault on p in the system
 * file's `chaos` blocks.  Writes up to max names, returns how many. */
size_t myco__ex_chaos_traps(struct ex_system *s, const struct ex_part *p,
			    const char **names, size_t max);
/* A seccomp notification of p's instance `in` (read by box_glue.c): 1 when
 * it is a trapped system call, which this answers (let run at once, or
 * after the delay of a `slowsys` fault in effect); 0 when it is a
 * violation (the caller denies it). */
struct myco__box_violation;
int myco__ex_chaos_syscall(struct ex_system *s, struct ex_part *p, struct ex_inst *in,
			   const struct myco__box_violation *v);
/* The timer of held system calls fired (EXT_CHAOS): answer the due ones. */
void myco__ex_chaos_due(struct ex_system *s);
/* At system stop: undo everything, free. */
void myco__ex_chaos_free(struct ex_system *s);

#endif /* MYCO_EXEC_CHAOS_H */
