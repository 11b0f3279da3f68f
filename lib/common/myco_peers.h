/*
 * myco_peers.h: the replication peer list of the replicated services
 * (myco-kv `--raft-peers`, myco-log `--peers`), parsed without allocation
 * so that the fuzz harness drives exactly what the servers run.  Not for:
 * raft itself (svc/kv/raft.c, svc/log/repl.c).
 *
 * Syntax: comma-separated `ID=HOST:PORT:RAFTPORT`, e.g.
 *   1=10.0.0.1:6379:7379,2=10.0.0.2:6379:7379,3=10.0.0.3:6379:7379
 * ID is a decimal server id (1 .. 2^63), HOST an IPv4 address or a host
 * name (letters, digits, '.', '-', '_'; at most 63 bytes), PORT the client
 * port (Redis clients are redirected to it, Kafka clients find it in
 * Metadata), RAFTPORT the port raft peers talk on.
 * Spaces around items are allowed.  Ids and HOST:RAFTPORT pairs are
 * unique; at most MYCO__PEERS_MAX peers.
 */
#ifndef MYCO_PEERS_H
#define MYCO_PEERS_H

#include <stddef.h>
#include <stdint.h>

#define MYCO__PEERS_MAX 9
#define MYCO__PEER_HOST_MAX 63

typedef struct myco__peer {
	uint64_t id;
	char host[MYCO__PEER_HOST_MAX + 1];
	unsigned port;          /* clients (MOVED points here) */
	unsigned raft_port;     /* raft transport */
	char raft_addr[MYCO__PEER_HOST_MAX + 8];    /* "host:raftport" */
	char client_addr[MYCO__PEER_HOST_MAX + 8];  /* "host:port" */
} myco__peer_t;

/* Parse s into out[0..*n).  0, or -EINVAL with a message in err (what
 * and where, e.g. "peer 2: port '70000' is not 1..65535"). */
int myco__peers_parse(const char *s, myco__peer_t *out, size_t *n, char *err, size_t errlen);

#endif /* MYCO_PEERS_H */
