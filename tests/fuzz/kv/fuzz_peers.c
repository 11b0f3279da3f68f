/*
 * fuzz_peers.c: libFuzzer harness for myco-kv's `--raft-peers` parser
 * (svc/kv/peers.c).  Each input is one peer list.  A list that parses must
 * satisfy what raft.c relies on (1..MYCO__PEERS_MAX peers, ids >= 1 and
 * unique, ports 1..65535, hosts of allowed bytes, the derived addresses
 * consistent) and print back to a list that parses to the same peers; one
 * that does not parse must say why.  Seed corpus: corpus_peers/.
 * Not for: raft itself (tests/integration/kv/kv_raft_test.py).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "myco_peers.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	myco__peer_t a[MYCO__PEERS_MAX], b[MYCO__PEERS_MAX];
	char err[256], again[MYCO__PEERS_MAX * 128], *s;
	size_t n = 99, m = 0, i, j, off = 0;
	int rc;

	if (size > 4096)
		return 0;
	s = malloc(size + 1);
	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = 0;
	err[0] = 0;
	rc = myco__peers_parse(s, a, &n, err, sizeof(err));
	free(s);
	if (rc < 0) {
		if (!err[0] || n != 0)
			abort();   /* a refusal says why and returns no peers */
		return 0;
	}
	if (rc != 0 || n < 1 || n > MYCO__PEERS_MAX)
		abort();
	for (i = 0; i < n; i++) {
		char want[sizeof(a[i].raft_addr)];
		if (a[i].id < 1 || a[i].port < 1 || a[i].port > 65535 || a[i].raft_port < 1 ||
		    a[i].raft_port > 65535 || !a[i].host[0] || strlen(a[i].host) > MYCO__PEER_HOST_MAX)
			abort();
		for (j = 0; a[i].host[j]; j++)
			if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
				    "0123456789.-_", a[i].host[j]))
				abort();
		snprintf(want, sizeof(want), "%s:%u", a[i].host, a[i].raft_port);
		if (strcmp(want, a[i].raft_addr))
			abort();
		for (j = 0; j < i; j++)
			if (a[j].id == a[i].id || !strcmp(a[j].raft_addr, a[i].raft_addr))
				abort();
		off += (size_t)snprintf(again + off, sizeof(again) - off, "%s%llu=%s:%u:%u",
					i ? "," : "", (unsigned long long)a[i].id, a[i].host,
					a[i].port, a[i].raft_port);
	}
	if (myco__peers_parse(again, b, &m, err, sizeof(err)) != 0 || m != n)
		abort();
	for (i = 0; i < n; i++)
		if (a[i].id != b[i].id || strcmp(a[i].host, b[i].host) || a[i].port != b[i].port ||
		    a[i].raft_port != b[i].raft_port)
			abort();
	return 0;
}
