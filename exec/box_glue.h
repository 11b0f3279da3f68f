/*
 * box_glue.h: how the executive core uses exec/box: spawning boxed
 * instances (called by spawn.c; nothing here calls back into it), the
 * program's pid under the box's init, turning the box
 * report into `myco ps` lines, naming seccomp violations as health events,
 * telling OOM kills apart, the frame scheduler, and cgroup cleanup
 * (deferred for dead instances so it never sits on the restart path).
 * Not for: the isolation mechanisms themselves (exec/box/).
 */
#ifndef MYCO_EXEC_BOX_GLUE_H
#define MYCO_EXEC_BOX_GLUE_H

#include <signal.h>

#include "exec_int.h"

int myco__ex_box_spawn(struct ex_system *s, struct ex_part *p, struct ex_inst *in,
		       char **env, const int *keep, size_t nkeep);
/* The io_uring instances of one new process of p (exec/box/uring.c):
 * restricted to what p declared.  Fills fds (at most max, CLOEXEC, owned by
 * the caller), params (struct io_uring_params as the kernel returned it,
 * len bytes) and a line for `myco ps` in detail.  Returns how many rings,
 * or -errno when none could be made (detail says why). */
int myco__ex_box_urings(struct ex_part *p, int *fds, unsigned max, void *params,
			size_t len, char *detail, size_t dcap);
/* The program's pid (under the box's init, found through /proc once and
 * cached in in->prog_pid), or in->pid. */
pid_t myco__ex_box_prog(struct ex_inst *in);
/* Forget an instance: its cgroup is destroyed later (myco__ex_box_tick). */
void myco__ex_box_release(struct ex_system *s, struct ex_inst *in);
/* A standby became the active process (frame scheduler rebinding). */
void myco__ex_box_activated(struct ex_system *s, struct ex_part *p, struct ex_inst *in);
/* Refine the exit description (OOM kill, seccomp kill). */
void myco__ex_box_exit_cause(struct ex_system *s, struct ex_part *p, struct ex_inst *in,
			     const siginfo_t *si, char *how, size_t cap);
/* A seccomp listener fd is readable. */
void myco__ex_box_seccomp(struct ex_system *s, struct ex_part *p, struct ex_inst *in);
/* Frame scheduler and per-partition state; resolves `user`/`group` names.
 * 0, or <0 after printing a start-up error (e.g. an unknown user). */
int myco__ex_box_system_init(struct ex_system *s);
void myco__ex_box_tick(struct ex_system *s);
void myco__ex_box_stale_cleanup(struct ex_system *s);
void myco__ex_box_system_destroy(struct ex_system *s);
/* Frame-window figures of a frame-mode partition (timing.c); -ENOENT when
 * the partition is not under the frame scheduler. */
struct myco__box_frame_stats;
int myco__ex_box_frame_stats(struct ex_system *s, struct ex_part *p,
			     struct myco__box_frame_stats *st);

#endif
