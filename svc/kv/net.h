/*
 * net.h: the entry point of myco-kv's network layer (net.c).  Not for:
 * anything else; main.c calls it once.
 */
#ifndef MYCO_KV_NET_H
#define MYCO_KV_NET_H

#include "kv_int.h"

/* Serve lfd (a listening TCP socket, not closed here) on nloops runtime
 * loops (0 = one per CPU) until SIGINT/SIGTERM.  heartbeat (may be NULL)
 * is called every 100 ms.  Returns 0 or a negative errno. */
int myco__kv_net_run(kv_srv_t *srv, int lfd, unsigned nloops, void (*heartbeat)(void));

#endif /* MYCO_KV_NET_H */
