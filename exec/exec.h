/*
 * exec.h: the executive's front door for the rest of the project (cmd/myco
 * and the tests): start a system and find the runtime directory the
 * control clients talk to.  Project-internal (never installed), so the
 * names are myco__.  The executive's own modules share exec_int.h.
 * Not for: the control protocol (exec/control.c; clients speak it over
 * control.sock), partitions (myco/part.h).
 */
#ifndef MYCO_EXEC_H
#define MYCO_EXEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Options of `myco run`.  Zero means the default for every field. */
struct myco__exec_opts {
	const char *file;               /* the system file (required) */
	const char *runtime_dir;        /* NULL: <base>/<system name> */
	uint64_t grace_ns;              /* graceful stop timeout */
	uint64_t ready_timeout_ns;      /* myco_ready() must come within */
	bool quiet;                     /* no start-up banner */
	bool no_standby;                /* restart by spawning (for comparison) */
};

/* Boot the system described by opt->file, supervise it and stop it in
 * reverse order on SIGINT/SIGTERM or `myco stop --all`.  Runs on the
 * calling thread until the system stops.  Returns the exit status: 0
 * stopped cleanly, 1 could not start, 3 escalated (too many restarts). */
int myco__exec_run(const struct myco__exec_opts *opt);

/* The base directory under which every system's runtime dir lives
 * (/run/myco for root, else $XDG_RUNTIME_DIR/myco, else /tmp/myco-UID)
 * into out.  Returns 0 or
 * -ENAMETOOLONG. */
int myco__exec_default_base(char *out, size_t cap);

#endif /* MYCO_EXEC_H */
