/*
 * net.h: the network layer entry point of myco-log (net_rt.c): serve
 * Kafka connections accepted on a listening socket until SIGINT/SIGTERM.
 * Not for: protocol logic.
 */
#ifndef MYCO_LOG_NET_H
#define MYCO_LOG_NET_H

#include <stdbool.h>

#include "log_int.h"

/* Serve on listening socket lfd (owned by the caller) with nloops loops
 * (0: one per CPU of the process's affinity mask) until SIGINT or
 * SIGTERM.  heartbeat (may be NULL) is called from the loop at least every
 * 100 ms (a partition's liveness signal).  Returns 0 or a negative error. */
int myco__lnet_run(myco__lb_t *lb, int lfd, unsigned nloops, bool verbose,
		   void (*heartbeat)(void));
/* Serve TLS (before myco__lnet_run): certificate chain and private key,
 * PEM files.  0, or -EINVAL with the reason on stderr; -ENOTSUP when
 * built without OpenSSL. */
int myco__lnet_tls(const char *cert_file, const char *key_file);
/* The calling shard's eventfd, readable when other threads queued work. */
int myco__lb_wakefd(myco__lb_t *lb);

#endif
