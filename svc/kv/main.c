/*
 * main.c: the myco-kv program: flags and environment, the data directory
 * (locked, replayed), the listening socket, then the loops (net.c).  Runs
 * standalone or as a Myco partition, where it serves the listening socket
 * the executive holds for its declared port (myco_listen_fd()).
 * Not for: commands (db.c, cmd_*.c), files (wal.c), sockets (net.c).
 */
#include "kv_int.h"
#include "net.h"

#include "myco/part.h"
#include "myco/rt.h"

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static void usage(FILE *f)
{
	fputs("usage: myco-kv [options]\n"
	      "A Redis-protocol key-value store (RESP2/RESP3), thread-per-core.\n\n"
	      "  --bind HOST             address to listen on (default 127.0.0.1)\n"
	      "  --port N                TCP port (default 6379; 0 picks one)\n"
	      "  --listen-fd N           serve an inherited listening socket\n"
	      "  --dir DIR               data directory: WAL and snapshots (default:\n"
	      "                          none, memory only)\n"
	      "  --appendfsync always|everysec|no\n"
	      "                          when the WAL reaches the disk (default everysec,\n"
	      "                          as Redis); see docs/kv.md\n"
	      "  --threads N             loops (one per core; default: CPUs available)\n"
	      "  --shards N              lock shards (default 4 per loop, at most 64)\n"
	      "  --auto-snapshot-bytes N snapshot when the WAL exceeds N bytes\n"
	      "                          (default 64 MiB; 0 = only on BGSAVE)\n"
	      "Replication (raft; see docs/kv.md \"How to run a 3-node cluster\"):\n"
	      "  --raft-id N             this node's id (one of --raft-peers); needs --dir\n"
	      "  --raft-peers LIST       ID=HOST:PORT:RAFTPORT,... every node, this one too\n"
	      "  --raft-election-ms N    election timeout (default 300; randomised up to 2x)\n"
	      "  --raft-snapshot-entries N  compact the raft log every N entries (default 8192)\n"
	      "  --help\n\n"
	      "Environment (used when the flag is absent): MYCO_KV_PORT, MYCO_KV_DIR,\n"
	      "MYCO_KV_APPENDFSYNC, MYCO_KV_LISTEN_FD, MYCO_KV_RAFT_ID, MYCO_KV_RAFT_PEERS.\n"
	      "Prints \"myco-kv: ready on HOST:PORT\" on stdout when it serves.\n", f);
}

static int parse_fsync(const char *s)
{
	if (!strcmp(s, "always"))
		return FSYNC_ALWAYS;
	if (!strcmp(s, "everysec"))
		return FSYNC_EVERYSEC;
	if (!strcmp(s, "no"))
		return FSYNC_NO;
	return -EINVAL;
}

static int parse_num(const char *s, long long lo, long long hi, long long *out)
{
	char *end;
	long long v;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || *end || end == s || v < lo || v > hi)
		return -EINVAL;
	*out = v;
	return 0;
}

int main(int argc, char **argv)
{
	static kv_srv_t srv;
	const char *bind_host = "127.0.0.1", *dir = getenv("MYCO_KV_DIR"), *env;
	long long port = 6379, threads = 0, shards = 0, snap = 64ll << 20, v;
	int fsync_mode = FSYNC_EVERYSEC, lfd = -1, rc, opt;
	bool port_given = false, in_system = getenv("MYCO_CTL") != NULL;
	cpu_set_t cs;
	enum { O_BIND = 256, O_PORT, O_LFD, O_DIR, O_FSYNC, O_THREADS, O_SHARDS, O_SNAP,
	       O_RAFT_ID, O_RAFT_PEERS, O_RAFT_ELECTION, O_RAFT_SNAP };
	kv_raft_opts_t ro = { .peers = getenv("MYCO_KV_RAFT_PEERS") };
	long long raft_id = 0;
	char err[256];
	static const struct option opts[] = {
		{ "bind", required_argument, NULL, O_BIND },
		{ "port", required_argument, NULL, O_PORT },
		{ "listen-fd", required_argument, NULL, O_LFD },
		{ "dir", required_argument, NULL, O_DIR },
		{ "appendfsync", required_argument, NULL, O_FSYNC },
		{ "threads", required_argument, NULL, O_THREADS },
		{ "shards", required_argument, NULL, O_SHARDS },
		{ "auto-snapshot-bytes", required_argument, NULL, O_SNAP },
		{ "raft-id", required_argument, NULL, O_RAFT_ID },
		{ "raft-peers", required_argument, NULL, O_RAFT_PEERS },
		{ "raft-election-ms", required_argument, NULL, O_RAFT_ELECTION },
		{ "raft-snapshot-entries", required_argument, NULL, O_RAFT_SNAP },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};

	rc = myco_init();
	if (rc < 0) {
		fprintf(stderr, "myco-kv: myco_init: %s (%s)\n", myco_strerror(rc),
			myco_part_errmsg());
		return 1;
	}
	if ((env = getenv("MYCO_KV_PORT")) && parse_num(env, 0, 65535, &port) == 0)
		port_given = true;
	if ((env = getenv("MYCO_KV_APPENDFSYNC")) && (fsync_mode = parse_fsync(env)) < 0) {
		fprintf(stderr, "myco-kv: bad MYCO_KV_APPENDFSYNC '%s'\n", env);
		return 2;
	}
	if ((env = getenv("MYCO_KV_LISTEN_FD")))
		lfd = atoi(env);
	if ((env = getenv("MYCO_KV_RAFT_ID")) && parse_num(env, 1, INT64_MAX, &raft_id) < 0) {
		fprintf(stderr, "myco-kv: bad MYCO_KV_RAFT_ID '%s'\n", env);
		return 2;
	}
	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (opt) {
		case O_BIND: bind_host = optarg; break;
		case O_DIR: dir = optarg; break;
		case O_FSYNC:
			if ((fsync_mode = parse_fsync(optarg)) < 0) {
				fprintf(stderr, "myco-kv: bad --appendfsync '%s' (always|everysec|no)\n",
					optarg);
				return 2;
			}
			break;
		case O_PORT: case O_LFD: case O_THREADS: case O_SHARDS: case O_SNAP:
			if (parse_num(optarg, 0, opt == O_SNAP ? (1ll << 50) : 65535, &v) < 0) {
				fprintf(stderr, "myco-kv: bad number '%s'\n", optarg);
				return 2;
			}
			if (opt == O_PORT) {
				port = v;
				port_given = true;
			} else if (opt == O_LFD) {
				lfd = (int)v;
			} else if (opt == O_THREADS) {
				threads = v;
			} else if (opt == O_SHARDS) {
				shards = v;
			} else {
				snap = v;
			}
			break;
		case O_RAFT_ID:
			if (parse_num(optarg, 1, INT64_MAX, &raft_id) < 0) {
				fprintf(stderr, "myco-kv: bad --raft-id '%s' (1..2^63-1)\n", optarg);
				return 2;
			}
			break;
		case O_RAFT_PEERS: ro.peers = optarg; break;
		case O_RAFT_ELECTION: case O_RAFT_SNAP:
			if (parse_num(optarg, opt == O_RAFT_ELECTION ? 20 : 4,
				      opt == O_RAFT_ELECTION ? 60000 : 1 << 30, &v) < 0) {
				fprintf(stderr, "myco-kv: bad %s '%s'\n", opt == O_RAFT_ELECTION ?
					"--raft-election-ms (20..60000)" :
					"--raft-snapshot-entries (4..2^30)", optarg);
				return 2;
			}
			if (opt == O_RAFT_ELECTION)
				ro.election_ms = (unsigned)v;
			else
				ro.snapshot_entries = (unsigned)v;
			break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind < argc) {
		usage(stderr);
		return 2;
	}
	if (threads == 0) {
		threads = sched_getaffinity(0, sizeof(cs), &cs) == 0 ? CPU_COUNT(&cs) : 1;
		if (threads < 1)
			threads = 1;
	}
	if (threads > KV_SHARDS_MAX)
		threads = KV_SHARDS_MAX;
	if (shards == 0)
		shards = threads * 4 > KV_SHARDS_MAX ? KV_SHARDS_MAX : threads * 4;
	if (shards < 1 || shards > KV_SHARDS_MAX) {
		fprintf(stderr, "myco-kv: --shards must be 1..%d\n", KV_SHARDS_MAX);
		return 2;
	}
	in_system = myco_in_system() == 1;
	if (lfd < 0 && in_system) {
		uint16_t ports[2];
		size_t np = myco_listen_ports(ports, 2);
		long long want = port_given ? port : np == 1 ? ports[0] : 6379;
		int fd = want > 0 && want <= 65535 ? myco_listen_fd((uint16_t)want) :
			 -MYCO_ENOTGRANTED;
		if (fd >= 0) {
			lfd = fd;
			port = want;
			fprintf(stderr, "myco-kv: serving the system's listening socket for port %lld\n",
				want);
		} else if (np) {
			fprintf(stderr, "myco-kv: %s: binding %s:%lld itself\n", myco_part_errmsg(),
				bind_host, port);
		}
	}
	(void)port_given;
	signal(SIGPIPE, SIG_IGN);
	{
		/* Every thread (the WAL's too) leaves SIGINT/SIGTERM to net.c. */
		sigset_t ss;
		sigemptyset(&ss);
		sigaddset(&ss, SIGINT);
		sigaddset(&ss, SIGTERM);
		pthread_sigmask(SIG_BLOCK, &ss, NULL);
	}
	if ((rc = kv_srv_init(&srv, (unsigned)shards)) < 0) {
		fprintf(stderr, "myco-kv: %s\n", myco_strerror(rc));
		return 1;
	}
	srv.snap_threshold = snap;
	srv.appendfsync = fsync_mode;
	if (raft_id || (ro.peers && ro.peers[0])) {
		if (!raft_id || !ro.peers || !ro.peers[0] || !dir || !dir[0]) {
			fprintf(stderr, "myco-kv: replication needs --raft-id, --raft-peers and --dir\n");
			return 2;
		}
		ro.id = (uint64_t)raft_id;
		ro.dir = dir;
		rc = kv_raft_start(&srv, &ro, err, sizeof(err));
		if (rc < 0) {
			fprintf(stderr, "myco-kv: raft: %s\n", err[0] ? err : myco_strerror(rc));
			return rc == -EINVAL ? 2 : 1;
		}
		srv.dir = realpath(dir, NULL);
	} else if (dir && dir[0]) {
		srv.dir = realpath(dir, NULL);
		/* A replacement started by the executive right after its
		 * predecessor was killed may find the lock still held while the
		 * kernel tears the dead process down: retry for 3 s then. */
		for (int tries = 0;; tries++) {
			rc = kv_wal_open(&srv, dir, fsync_mode);
			if (rc != -EBUSY || !in_system || tries >= 300)
				break;
			usleep(10000);
		}
		if (rc == -EBUSY) {
			fprintf(stderr, "myco-kv: data directory %s is locked by another process\n", dir);
			return 1;
		}
		if (rc < 0) {
			fprintf(stderr, "myco-kv: open %s: %s\n", dir, myco_strerror(rc));
			return 1;
		}
		if (!srv.dir)
			srv.dir = realpath(dir, NULL);
		if ((rc = kv_wal_replay(&srv)) < 0 || (rc = kv_wal_start(&srv)) < 0) {
			fprintf(stderr, "myco-kv: recovery of %s: %s\n", dir, myco_strerror(rc));
			return 1;
		}
	}
	if (lfd < 0) {
		lfd = myco_tcp_listen(bind_host, (uint16_t)port, 1024, false);
		if (lfd < 0) {
			fprintf(stderr, "myco-kv: listen on %s:%lld: %s\n", bind_host, port,
				myco_strerror(lfd));
			return 1;
		}
	}
	{
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		if (getsockname(lfd, (struct sockaddr *)&ss, &sl) == 0) {
			if (ss.ss_family == AF_INET)
				port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
			else if (ss.ss_family == AF_INET6)
				port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
		}
	}
	srv.port = (unsigned)port;
	{
		char mode[64];
		if (srv.raft)
			snprintf(mode, sizeof(mode), "raft node %lld", raft_id);
		else if (srv.wal)
			snprintf(mode, sizeof(mode), "appendfsync %s",
				 fsync_mode == FSYNC_ALWAYS ? "always" :
				 fsync_mode == FSYNC_EVERYSEC ? "everysec" : "no");
		else
			snprintf(mode, sizeof(mode), "no persistence");
		printf("myco-kv: ready on %s:%lld (%lld loops, %lld shards, %s)\n", bind_host,
		       port, threads, shards, mode);
	}
	fflush(stdout);
	(void)myco_ready();
	rc = myco__kv_net_run(&srv, lfd, (unsigned)threads, myco_heartbeat);
	close(lfd);
	kv_raft_stop(&srv);
	kv_wal_close(&srv);
	if (rc < 0) {
		fprintf(stderr, "myco-kv: %s\n", myco_strerror(rc));
		return 1;
	}
	return 0;
}
