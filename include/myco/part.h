/*
 * myco/part.h: the partition side of libmyco.  A program started by
 * `myco run` calls myco_init() first, then opens the channels it declared
 * with myco_chan_open(), says myco_ready() when it can serve, and calls
 * myco_heartbeat() from its main loop (at least once per declared heartbeat
 * period, and ideally after each message it handled).
 *
 * The executive <-> libmyco ABI (control region, capability manifest) is
 * private to the project: lib/part/part_abi.h, docs/part-abi.md.
 * Not for: channel operations (myco/chan.h).
 */
#ifndef MYCO_PART_H
#define MYCO_PART_H

#include <stddef.h>
#include <stdint.h>

#include "myco/common.h"

#ifdef __cplusplus
extern "C" {
#endif

struct myco_chan;   /* myco_chan_t, defined by myco/chan.h */

/* Find the capabilities this process was given (environment MYCO_CAPS,
 * MYCO_CTL, MYCO_NOTIFY, MYCO_EXEC_FD, MYCO_PARTITION, MYCO_POLICY).  It
 * installs two signal handlers: SIGTERM (exit 0) when the program has none,
 * so that a graceful stop works even as PID 1 of a namespace, and SIGRTMAX,
 * raised through O_ASYNC on MYCO_EXEC_FD when the executive dies, which
 * exits 137 so that no partition outlives its executive.  A pre-spawned standby blocks
 * here, without using CPU, until the executive activates it; a process that
 * the executive asks to retire while parked exits with status 0 from inside
 * myco_init().  Outside a system (no MYCO_CTL) myco_init() returns 0 and the
 * partition runs unsupervised with whatever MYCO_CAPS names.
 * Returns 0, -EINVAL for a malformed manifest, -EPROTO for a control region
 * that fails validation.  Calling it twice is harmless. */
int myco_init(void);

/* Open channel NAME, which this partition must have declared, attaching as
 * the role it declared.  On success *out is the endpoint (close it with
 * myco_chan_close(); the process exiting is also fine).  Errors:
 * -MYCO_ENOTGRANTED when NAME was not granted to this partition (no fd for it
 * exists in this process), -EALREADY when already open (the first handle is
 * returned in *out too), and whatever the channel attach returns. */
int myco_chan_open(const char *name, struct myco_chan **out);

/* Tell the executive this partition is ready: dependents waiting on it are
 * started.  Cheap (one store and one eventfd write the first time). */
int myco_ready(void);

/* Liveness signal: one atomic increment in the control region, no syscall.
 * Missing the declared number of heartbeat periods gets the partition
 * killed and restarted as hung. */
void myco_heartbeat(void);

/* 1 while the executive asks this partition to shed load (its health
 * model found it sick and its policy is `heal shed;`, docs/immune.md), 0
 * otherwise or outside a system.  One load, no syscall: a partition calls
 * it per request and refuses or defers optional work while it is 1. */
int myco_shedding(void);

/* The listening socket the executive created for declared port PORT
 * (`listen PORT;` in the system file).  Returns the inherited fd (a TCP
 * socket bound to 0.0.0.0:PORT in the executive's network namespace,
 * already listening, blocking, close-on-exec clear) or -MYCO_ENOTGRANTED
 * when PORT was not declared by this partition (myco_part_errmsg() then
 * lists the granted ports), or what myco_init() returns.  The socket
 * belongs to the system, not the process: it lives as long as the system
 * runs and every instance of the partition (standby, replacement) gets the
 * same one, so connections that arrive while the partition is restarting
 * wait in its backlog.  The partition only accepts on it (setting
 * O_NONBLOCK is fine); it must not shut it down.  Without `net`, the
 * partition cannot create, bind or connect sockets of its own (seccomp).
 * Calls myco_init() if needed. */
int myco_listen_fd(uint16_t port);

/* The ports granted to this partition: copies at most cap of them into out
 * (out may be NULL) and returns how many there are (0 outside a system). */
size_t myco_listen_ports(uint16_t *out, size_t cap);

/* 1 when this process runs as a partition of a system (the executive
 * started it: a control region was handed over), else 0.  Calls
 * myco_init() if needed (0 if that fails). */
int myco_in_system(void);

/* This partition's name ("" outside a system); static string. */
const char *myco_partition_name(void);

/* The scheduler policy the system file gave this partition ("" if none). */
const char *myco_part_policy(void);

/* A human-readable explanation of the last error of myco_init(),
 * myco_chan_open() or myco_listen_fd() in this thread's process (e.g. which channels are
 * granted); static buffer, overwritten by the next failure. */
const char *myco_part_errmsg(void);

#ifdef __cplusplus
}
#endif
#endif /* MYCO_PART_H */
