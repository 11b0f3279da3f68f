/*
 * exec_int.h: what the executive core's modules share (the exec/ core files): the
 * running system, its partitions, instances (one process each: the active
 * one and a parked standby), groups, channels, the event and log rings and
 * the control-socket plumbing.  The executive is single-threaded: every
 * function here runs on the main loop thread, so nothing below is locked.
 * Not for: isolation mechanisms (exec/box/), the partition library
 * (lib/part/), the CLI (cmd/myco/exec_cmds.c).
 */
#ifndef MYCO_EXEC_INT_H
#define MYCO_EXEC_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "myco/chan.h"
#include "myco/lang.h"
#include "exec.h"
#include "myco_int.h"
#include "part_abi.h"

struct ex_collect;
struct ex_health;
struct json_t;

#define EX_NAME_MAX   64
#define EX_MAX_ISO    24        /* isolation mechanisms reported per process */
#define EX_LOG_RING   (64u * 1024u)
#define EX_EVENT_RING 2048u
#define EX_PART_EVENTS 128u      /* each partition's own last events, kept
				 * whatever the others do */
#define EX_MAX_FDS    256       /* capability fds per partition */
#define EX_MAX_PORTS  64        /* listening ports per partition (= box's) */
#define EX_MAX_CONNS  64        /* control connections at once; more are
				 * accepted, told so in one line, closed */
/* Restart backoff: the first restart after a stable run is immediate; each
 * further quick crash in a row doubles the delay from MIN up to MAX. */
#define EX_BACKOFF_MIN_NS    (10ull * 1000000ull)
#define EX_BACKOFF_MAX_NS    (1000ull * 1000000ull)
#define EX_BACKOFF_STABLE_NS (1000ull * 1000000ull)
#define EX_CONN_IDLE_NS (5ull * 1000000000ull)  /* a request line (or the
				 * rest of a reply) must come within this */

/* Partition supervision states (shown by `myco ps`). */
enum ex_state {
	EX_WAITING,      /* not started yet (its dependencies are not ready) */
	EX_STARTING,     /* spawned, waiting for myco_ready() */
	EX_RUNNING,
	EX_RESTARTING,   /* crashed, replacement being brought in */
	EX_STOPPING,     /* SIGTERM sent, waiting for exit */
	EX_STOPPED,      /* stopped by the operator or the system stop */
	EX_EXITED,       /* exited and not restarted (transient/temporary) */
	EX_FAILED,       /* could not be started */
};
const char *myco__ex_state_name(enum ex_state s);

/* One isolation mechanism as reported for `myco ps` (copied from the box
 * report so the rest of the executive does not depend on its layout). */
struct ex_iso {
	char name[24];
	char status[16];      /* applied | degraded | not-requested */
	char reason[96];
};

/* One process of a partition. */
struct ex_inst {
	pid_t pid;                      /* 0 = no process (the box's init when has_init) */
	pid_t prog_pid;                 /* the program under the init, 0 = not known yet */
	bool has_init;                  /* pid is a tiny init, the program its child */
	int pidfd;                      /* -1 = none; owned */
	int ctl_fd;                     /* control region memfd; owned */
	int notify_fd;                  /* eventfd partition -> executive; owned */
	struct myco__part_ctl *ctl;     /* mapping of ctl_fd; owned */
	int seccomp_fd;                 /* box violation listener or -1; owned */
	int alive_fd;                   /* write end of the "executive alive" pipe
					 * or -1; owned.  The process holds the read
					 * end with O_ASYNC: when the executive dies
					 * libmyco's signal handler ends it. */
	int death_fd;                   /* read end of the death pipe or -1; owned:
					 * hangs up when the process released its
					 * files, i.e. after its memory is gone */
	uint64_t t_spawn_ns;
	bool standby;                   /* parked, not yet activated */
	bool first_seen, ready_seen;
	size_t niso;
	struct ex_iso iso[EX_MAX_ISO];
	void *box;                      /* box handle (exec/box) or NULL; owned */
	char uring_detail[96];          /* the "io-uring" line of `myco ps` */
	bool uring_ok;                  /* rings were handed over */
	bool dl_checked;                /* budget: the whole-partition check is
					 * done (reservation dropped, or reported
					 * that it cannot be) */
};

struct ex_system;

struct ex_part {
	uint32_t idx;
	const myco_partition_t *m;      /* model entry (owned by the system) */
	char name[EX_NAME_MAX];
	char program[4096];             /* resolved absolute path */
	enum ex_state state;
	uint32_t group;                 /* index in sys->groups (always valid) */
	struct ex_inst act;             /* the running process */
	struct ex_inst sb;              /* the parked standby */
	struct ex_inst dying;           /* dead (files released), not yet reaped */
	struct ex_inst quar;            /* quarantined by heal.c: frozen, out of
					 * routing, kept for inspection, killed
					 * after a hold time or at the stop */
	bool want_standby;              /* spawn a standby at the next tick */
	int out_r, out_w;               /* stdout/stderr pipe; owned */
	int fds[EX_MAX_FDS];            /* capability fds (owned by channels) */
	size_t nfds;
	uint16_t lports[EX_MAX_PORTS];  /* declared listening ports ... */
	int lfds[EX_MAX_PORTS];         /* ... and their sockets (owned, kept
					 * for the system's life: ports.c) */
	size_t nlfds;
	char caps[4096];                /* MYCO_CAPS manifest (part_abi.h) */
	/* supervision */
	uint32_t restarts;
	uint64_t t_crash_ns;            /* pending restart: when it died */
	bool restart_pending_times;     /* waiting for t_first of the replacement */
	bool operator_restart;          /* `myco restart`: not counted, always restarted */
	bool kill_injected;             /* `myco kill`: t_crash is the kill time */
	bool stop_requested;            /* `myco stop NAME` */
	bool group_victim;              /* killed by its group's strategy */
	uint64_t stop_deadline_ns;
	uint64_t hb_last, hb_seen_ns;   /* last heartbeat value, when it changed */
	uint64_t ready_deadline_ns;
	uint64_t last_c2r_ns, last_c2f_ns;   /* last restart's times, 0 = none */
	uint64_t last_exit_real_ns;
	char last_exit[96];
	/* crash-loop backoff (supervise.c) */
	uint64_t t_run_ns;              /* the current instance took over at */
	uint32_t quick_crashes;         /* counted deaths in a row, each after a
					 * run shorter than EX_BACKOFF_STABLE_NS */
	uint64_t backoff_ns;            /* delay of the last restart decision */
	uint64_t restart_at_ns;         /* a delayed restart is due at; 0 = none */
	bool kill_operator;             /* `myco kill`: fault injection, no backoff */
	/* logs */
	char *log;                      /* EX_LOG_RING bytes, allocated on first
					 * output; owned */
	uint64_t log_total;             /* bytes ever written */
	/* this partition's last EX_PART_EVENTS events (copies of the global
	 * ring's), allocated on its first event; owned */
	struct ex_event *pev;
	uint64_t pev_n;
	/* start ordering */
	uint32_t *deps;                 /* partitions that must be ready first */
	size_t ndeps;
	uint32_t start_rank;            /* position in start order */
};

struct ex_group {
	const myco_group_t *m;          /* NULL for the implicit default group */
	char name[EX_NAME_MAX];
	myco_strategy_t strategy;
	uint32_t max_restarts;
	uint64_t within_ns;
	uint32_t *members;              /* owned */
	size_t nmembers;
	uint64_t *hist;                 /* restart times, ring of max_restarts+1 */
	size_t nhist, hist_pos;
};

/* The evidence of a health, SLO, heal or switch event (exec/health.h has
 * the format); set = false for every other event. */
struct ex_evidence {
	bool set, has_base, has_predict, has_value;
	char signal[16], unit[8], verdict[12], action[16], slo[48];
	double value, baseline, threshold, predict_s;
};

struct ex_event {
	uint64_t seq;
	uint64_t t_real_ns, t_mono_ns;
	char part[EX_NAME_MAX];
	char kind[24];
	char detail[240];
	int64_t c2r_ns, c2f_ns;         /* -1 unless a restart record */
	int64_t c2a_ns;                 /* restart record: crash to standby activation */
	struct ex_evidence evd;         /* health events (health.h) */
};

struct ex_conn {
	int fd;
	enum { EXC_REQ, EXC_EVENTS, EXC_LOGS, EXC_WAIT } mode;
	uint32_t part;                  /* EXC_LOGS */
	uint64_t pos;                   /* next event seq / log byte to send */
	char buf[4096];
	size_t len;
	uint64_t t_open_ns;             /* accepted at (the idle timeout) */
	char *out;                      /* reply bytes the socket did not take
					 * yet (sent on EPOLLOUT); owned */
	size_t out_len, out_off;
	bool close_after;               /* close once out is sent */
	struct ex_conn *next;
};

struct ex_system {
	myco_system_t *model;           /* owned */
	struct myco__exec_opts opt;
	char name[EX_NAME_MAX];
	char box_name[EX_NAME_MAX];     /* the system level of its cgroups:
					 * name, or name-<hash of the runtime
					 * dir> under --runtime-dir (runtime.c) */
	char dir[4096];                 /* runtime dir */
	char base_dir[4096];            /* the file's directory */
	struct ex_part *parts; size_t nparts;
	struct ex_group *groups; size_t ngroups;
	myco_chan_owner_t **chan_owners;/* per model channel (model->channels[i]):
					 * the region's owner (lib/chan); owned,
					 * NULL until created */
	size_t nchans;
	uint32_t *order; size_t norder; /* start order */
	int epfd, sigfd, tfd, lfd;
	struct ex_conn *conns;
	size_t nconns, max_conns;       /* max: EX_MAX_CONNS, or an eighth of
					 * RLIMIT_NOFILE when that is less */
	int spare_fd;                   /* /dev/null, given up to accept-and-close
					 * a connection when fds run out */
	bool listen_paused;             /* out of fds and no spare: listening
					 * socket off the epoll set until the tick */
	bool stopping, escalated, done;
	int stop_idx;                   /* reverse-order stop position */
	int exit_code;
	char final_report[1024];
	/* events */
	struct ex_event *ev; uint64_t ev_seq;
	bool have_box;
	uint64_t t_start_ns;
	struct ex_collect *collect;     /* trace and metrics (collect.c); owned */
	struct ex_health *health;       /* health model, healing, service
					 * registry (health.c, heal.c,
					 * registry.c); owned */
	struct ex_chaos *chaos;         /* the chaos experiment (chaos.c); owned */
	struct ex_record *record;       /* record rings and logs (record.c); owned */
	struct ex_loans *loans;         /* core loans (loans.c); owned, NULL
					 * without elastic partitions */
};

/* time */
uint64_t myco__ex_real(void);       /* CLOCK_REALTIME ns */

/* events.c: event ring + logs */
struct ex_event *myco__ex_event(struct ex_system *s, struct ex_part *p,
		    const char *kind, int64_t c2r, int64_t c2f,
		    const char *fmt, ...) __attribute__((format(printf, 6, 7)));
/* After changing event e (from myco__ex_event for p) in place: update p's
 * own copy of it. */
void myco__ex_event_sync(struct ex_part *p, const struct ex_event *e);
/* The events `myco events` shows: the global ring plus, for every
 * partition, its own events the global ring no longer holds, by seq;
 * *n entries (caller frees the array, not the events). */
const struct ex_event **myco__ex_events_all(struct ex_system *s, size_t *n);
void myco__ex_log_append(struct ex_part *p, const char *buf, size_t n);
/* Copy log bytes from position pos (clamped to what the ring still holds)
 * into out (at most cap); returns bytes copied and sets *next. */
size_t myco__ex_log_read(const struct ex_part *p, uint64_t pos, char *out,
			 size_t cap, uint64_t *next);
struct json_t *myco__ex_event_json(const struct ex_event *e);

/* spawn.c: process instances */
int myco__ex_inst_spawn(struct ex_system *s, struct ex_part *p,
			struct ex_inst *in, bool standby);
void myco__ex_inst_activate(struct ex_inst *in, uint64_t now);
void myco__ex_inst_init(struct ex_inst *in);   /* empty, every fd -1 */
void myco__ex_inst_signal(struct ex_inst *in, int sig);
/* SIGKILL the program itself (a crash: its init then exits by itself). */
void myco__ex_inst_crash(struct ex_inst *in);
/* Release everything of an instance whose process is gone (or kill it
 * first when kill is true and reap it). */
void myco__ex_inst_release(struct ex_system *s, struct ex_inst *in, bool kill);

/* supervise.c */
void myco__ex_on_exit(struct ex_system *s, struct ex_part *p,
		      struct ex_inst *in);
/* The death pipe of in hung up: if the process is exiting, handle its
 * death now (from /proc exit code) without waiting for the zombie. */
void myco__ex_on_death(struct ex_system *s, struct ex_part *p,
		       struct ex_inst *in);
void myco__ex_on_notify(struct ex_system *s, struct ex_part *p,
			struct ex_inst *in);
void myco__ex_tick(struct ex_system *s);
/* Record a restart of group g at time now (ns); true when this makes more
 * than g->max_restarts restarts within g->within_ns (escalate).  g->hist
 * must hold max_restarts + 1 entries. */
bool myco__ex_intensity_record(struct ex_group *g, uint64_t now);
void myco__ex_start_ready(struct ex_system *s);
void myco__ex_stop_all(struct ex_system *s, const char *why);
int myco__ex_kill(struct ex_system *s, struct ex_part *p);
/* Bring in p's replacement now (its process already gone or moved away,
 * p->act empty) by its group's strategy: heal.c's quarantine. */
void myco__ex_replace(struct ex_system *s, struct ex_part *p, uint64_t t_crash);
int myco__ex_restart(struct ex_system *s, struct ex_part *p);
int myco__ex_stop_one(struct ex_system *s, struct ex_part *p);
struct ex_part *myco__ex_find(struct ex_system *s, const char *name);

/* control.c */
int myco__ex_control_open(struct ex_system *s);
void myco__ex_control_accept(struct ex_system *s);
void myco__ex_control_io(struct ex_system *s, struct ex_conn *c, uint32_t events);
void myco__ex_control_flush(struct ex_system *s);
/* From the 10 ms tick: close connections idle past EX_CONN_IDLE_NS, and
 * resume listening after running out of fds. */
void myco__ex_control_tick(struct ex_system *s);
/* Parse and carry out one request line (the protocol in control.c) for
 * connection c; returns the reply (caller frees with json_decref) and
 * whether c becomes a follower.  Exposed for the fuzz harness. */
struct json_t *myco__ex_control_dispatch(struct ex_system *s, struct ex_conn *c,
					 const char *line, bool *keep);
void myco__ex_control_close(struct ex_system *s);

/* exec.c: the main loop's epoll set (tags: EX_TAG below) */
int myco__ex_epoll_add(struct ex_system *s, int fd, uint64_t tag);
void myco__ex_epoll_del(struct ex_system *s, int fd);

/* runtime.c: runtime dir, pid file, stale cleanup (and
 * myco__exec_default_base, exec.h) */
int myco__ex_runtime_prepare(struct ex_system *s);
void myco__ex_runtime_remove(struct ex_system *s);

/* chans.c: channel regions (through lib/chan) */
int myco__ex_chans_create(struct ex_system *s);
int myco__ex_chans_recover(struct ex_system *s, struct ex_part *p);
void myco__ex_chans_check(struct ex_system *s);   /* faulty endpoints: event + kill */
void myco__ex_chans_destroy(struct ex_system *s);

/* ports.c: one listening socket per declared port, created once (after
 * myco__ex_chans_create, whose manifest it extends) and kept until
 * myco__ex_ports_close at system stop.  A port that cannot be bound is
 * reported on stderr naming the partition and port; returns 0 or -errno. */
int myco__ex_ports_open(struct ex_system *s);
void myco__ex_ports_close(struct ex_system *s);

/* timing.c: the partition's deadline misses for `myco ps`, the runtime's
 * view (control region) and the executive's (quota, frame windows); a new
 * JSON object reference. */
struct json_t;
struct json_t *myco__ex_timing_json(struct ex_system *s, struct ex_part *p);
/* Before anything starts: the system's SCHED_DEADLINE reservations against
 * what the kernel admits; 0, or -MYCO_EADMISSION with the arithmetic
 * printed on stderr. */
int myco__ex_admit(struct ex_system *s);
/* Shielded cores (`shield cores`): restore a shield a killed executive
 * left, apply the system's (degrading loudly); restore at stop; the ps
 * JSON of what was done (null without shield). */
int myco__ex_shield_start(struct ex_system *s);
void myco__ex_shield_stop(struct ex_system *s);
struct json_t *myco__ex_shield_json(struct ex_system *s);
/* `cache ways N`: resctrl for the instance, an isolation line either way. */
void myco__ex_cache_apply(struct ex_system *s, struct ex_part *p, struct ex_inst *in);


/* loans.c: core loans of elastic partitions (`cores MIN..MAX elastic;`).
 * open: admission (the minimums must fit; -MYCO_EADMISSION printed on
 * stderr), a region per elastic partition in its manifest, the arbiter
 * thread; before any spawn.  tick: `loan` events for grant changes.
 * stat: a partition's figures (-ENOENT when it is not elastic). */
struct ex_loan_stat {
	unsigned min, max, granted, running, pool, lent;
	uint64_t grants, revokes;       /* the arbiter's decisions */
	uint64_t loop_grants;           /* grants the loops acted on */
	uint64_t migrated;              /* spawns taken from revoked loops */
	double util;                    /* busy fraction of granted cores */
};
int myco__ex_loans_open(struct ex_system *s);
void myco__ex_loans_tick(struct ex_system *s);
void myco__ex_loans_close(struct ex_system *s);
int myco__ex_loans_stat(struct ex_system *s, const struct ex_part *p,
			struct ex_loan_stat *st);

/* epoll tags: data.u64 = kind << 56 | partition index << 32 | fd; the
 * handler finds the instance or connection by fd (instances move from
 * standby to active, so the tag must not point at one). */
enum ex_tag_kind { EXT_SIG = 1, EXT_TIMER, EXT_LISTEN, EXT_CONN, EXT_PIDFD,
		   EXT_NOTIFY, EXT_LOG, EXT_SECCOMP, EXT_DEATH, EXT_METRICS, EXT_HTTP,
		   EXT_CHAOS };
#define EX_TAG(kind, part, fd) (((uint64_t)(kind) << 56) | \
	((uint64_t)((part) & 0xffffffu) << 32) | (uint32_t)(fd))
#define EX_TAG_KIND(t) ((unsigned)((t) >> 56))
#define EX_TAG_PART(t) ((uint32_t)(((t) >> 32) & 0xffffffu))
#define EX_TAG_FD(t)   ((int)(uint32_t)(t))

#endif /* MYCO_EXEC_INT_H */
