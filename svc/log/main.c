/*
 * main.c: the myco-log program: flags and environment, data directory,
 * listening socket, then the broker on the runtime loop (net_rt.c).
 * Runs standalone or as a Myco partition (there it serves the listening
 * socket the executive holds for its declared port, myco_listen_fd();
 * any program may also pass one with --listen-fd / MYCO_LOG_LISTEN_FD).
 * Not for: protocol logic (dispatch.c and the handlers) or storage (store/).
 */
#include "log_int.h"
#include "net.h"
#include "lmetrics.h"
#include "repl.h"
#include "store.h"

#include "myco/part.h"
#include "myco/rt.h"

#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

static void usage(FILE *f)
{
	fputs("usage: myco-log --listen HOST:PORT --data DIR [options]\n"
	      "A Kafka-protocol log broker (single node, or a cluster of up to 3).\n\n"
	      "  --listen HOST:PORT      address to serve (default 127.0.0.1:9092)\n"
	      "  --listen-fd N           serve on an inherited listening socket\n"
	      "  --advertise HOST:PORT   address given to clients in Metadata\n"
	      "                          (default: the listen address)\n"
	      "  --data DIR              data directory (created if missing)\n"
	      "  --fsync always|interval=MS|never\n"
	      "                          when appends reach the disk (default always:\n"
	      "                          a produce is acknowledged after fdatasync)\n"
	      "  --auto-create / --no-auto-create\n"
	      "                          create unknown topics on Metadata (default on)\n"
	      "  --partitions N          partitions of auto-created topics (default 1)\n"
	      "  --segment-bytes N       roll segments at N bytes (default 1 GiB)\n"
	      "  --segment-ms MS         roll segments older than MS\n"
	      "  --retention-ms MS       delete segments older than MS (-1 = keep)\n"
	      "  --retention-bytes N     keep at most N bytes per partition (-1 = all)\n"
	      "  --retention-check-ms MS apply retention this often (default 60000)\n"
	      "  --group-initial-delay MS  wait for more members of a new group (300)\n"
	      "  --sasl-users FILE       require SASL (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512)\n"
	      "                          with the user:password lines of FILE\n"
	      "  --sasl-mechanisms LIST  the mechanisms offered (comma-separated)\n"
	      "  --tls-cert FILE         serve TLS with this PEM certificate chain\n"
	      "  --tls-key FILE          and this PEM private key\n"
	      "  --node-id N             cluster mode: this broker's id (one of --peers)\n"
	      "  --peers LIST            cluster mode: ID=HOST:PORT:RAFTPORT,... every broker,\n"
	      "                          this one too (HOST:PORT is what clients are given)\n"
	      "  --min-insync-replicas N acks=all needs N in-sync replicas (default 1)\n"
	      "  --raft-election-ms MS   raft election timeout (default 1000)\n"
	      "  --loops N               runtime loops, one per core (default 0: one per\n"
	      "                          CPU the process may run on)\n"
	      "  --verbose               log topic creation, group changes\n"
	      "  --help\n\n"
	      "Environment (used when the flag is absent): MYCO_LOG_LISTEN,\n"
	      "MYCO_LOG_LISTEN_FD, MYCO_LOG_DATA, MYCO_LOG_FSYNC, MYCO_LOG_LOOPS.\n", f);
}

static int parse_fsync(const char *s, myco__lcfg_t *cfg)
{
	char *end;
	long v;

	if (!strcmp(s, "always")) {
		cfg->fsync_mode = MLS_FSYNC_ALWAYS;
		return 0;
	}
	if (!strcmp(s, "never")) {
		cfg->fsync_mode = MLS_FSYNC_NEVER;
		return 0;
	}
	if (!strncmp(s, "interval=", 9)) {
		errno = 0;
		v = strtol(s + 9, &end, 10);
		if (errno || *end || v <= 0 || v > 3600000)
			return -EINVAL;
		cfg->fsync_mode = MLS_FSYNC_INTERVAL;
		cfg->fsync_interval_ms = (int)v;
		return 0;
	}
	return -EINVAL;
}

static int parse_i64(const char *s, int64_t *out)
{
	char *end;
	long long v;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || *end || end == s)
		return -EINVAL;
	*out = v;
	return 0;
}

/* Split "host:port" (host may be [v6]); host written into h (cap bytes). */
static int split_hostport(const char *s, char *h, size_t cap, int *port)
{
	const char *colon = strrchr(s, ':');
	int64_t p;
	size_t hl;

	if (!colon)
		return -EINVAL;
	hl = (size_t)(colon - s);
	if (hl >= 2 && s[0] == '[' && s[hl - 1] == ']') {
		s++;
		hl -= 2;
	}
	if (hl >= cap || parse_i64(colon + 1, &p) < 0 || p < 0 || p > 65535)
		return -EINVAL;
	memcpy(h, s, hl);
	h[hl] = 0;
	*port = (int)p;
	return 0;
}

int main(int argc, char **argv)
{
	static char lhost[256] = "127.0.0.1", ahost[256] = "";
	myco__lcfg_t cfg;
	const char *listen = getenv("MYCO_LOG_LISTEN");
	const char *advertise = NULL, *env;
	int lport = 9092, aport = -1, lfd = -1, rc, opt;
	unsigned nloops = 0;
	bool in_system;
	int64_t v;
	myco__lb_t *lb = NULL;
	enum { O_LISTEN_FD = 256, O_ADVERTISE, O_AUTO, O_NOAUTO, O_PARTS, O_SEGB,
	       O_SEGMS, O_RETMS, O_RETB, O_GDELAY, O_DROP, O_VERBOSE, O_RETCHK,
	       O_SASL_USERS, O_SASL_MECHS, O_TLS_CERT, O_TLS_KEY, O_NODE_ID, O_PEERS,
	       O_MIN_INSYNC, O_ELECTION, O_LOOPS };
	myco__lrepl_opts_t ro = { .min_insync = 1 };
	static const struct option opts[] = {
		{ "listen", required_argument, NULL, 'l' },
		{ "listen-fd", required_argument, NULL, O_LISTEN_FD },
		{ "advertise", required_argument, NULL, O_ADVERTISE },
		{ "data", required_argument, NULL, 'd' },
		{ "fsync", required_argument, NULL, 'f' },
		{ "auto-create", no_argument, NULL, O_AUTO },
		{ "no-auto-create", no_argument, NULL, O_NOAUTO },
		{ "partitions", required_argument, NULL, O_PARTS },
		{ "segment-bytes", required_argument, NULL, O_SEGB },
		{ "segment-ms", required_argument, NULL, O_SEGMS },
		{ "retention-ms", required_argument, NULL, O_RETMS },
		{ "retention-bytes", required_argument, NULL, O_RETB },
		{ "group-initial-delay", required_argument, NULL, O_GDELAY },
		{ "retention-check-ms", required_argument, NULL, O_RETCHK },
		{ "test-drop-after-append", required_argument, NULL, O_DROP },
		{ "verbose", no_argument, NULL, O_VERBOSE },
		{ "sasl-users", required_argument, NULL, O_SASL_USERS },
		{ "sasl-mechanisms", required_argument, NULL, O_SASL_MECHS },
		{ "tls-cert", required_argument, NULL, O_TLS_CERT },
		{ "tls-key", required_argument, NULL, O_TLS_KEY },
		{ "node-id", required_argument, NULL, O_NODE_ID },
		{ "peers", required_argument, NULL, O_PEERS },
		{ "min-insync-replicas", required_argument, NULL, O_MIN_INSYNC },
		{ "raft-election-ms", required_argument, NULL, O_ELECTION },
		{ "loops", required_argument, NULL, O_LOOPS },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};

	/* Inside a Myco system: attach to the executive (outside one this
	 * returns 0 and does nothing). */
	rc = myco_init();
	if (rc < 0) {
		fprintf(stderr, "myco-log: myco_init: %s (%s)\n", myco_strerror(rc),
			myco_part_errmsg());
		return 1;
	}
	myco__lm_init();     /* into the partition's metrics region, if any */
	memset(&cfg, 0, sizeof(cfg));
	cfg.data_dir = getenv("MYCO_LOG_DATA");
	cfg.fsync_mode = MLS_FSYNC_ALWAYS;
	cfg.auto_create = true;
	cfg.default_partitions = 1;
	cfg.group_initial_delay_ms = 300;
	if ((env = getenv("MYCO_LOG_FSYNC")) && parse_fsync(env, &cfg) < 0) {
		fprintf(stderr, "myco-log: bad MYCO_LOG_FSYNC '%s'\n", env);
		return 2;
	}
	if ((env = getenv("MYCO_LOG_LISTEN_FD")))
		lfd = atoi(env);
	if ((env = getenv("MYCO_LOG_LOOPS")) && parse_i64(env, &v) == 0 && v >= 0 &&
	    v <= MYCO_LOG_SHARDS_MAX)
		nloops = (unsigned)v;
	const char *sasl_users = NULL, *sasl_mechs = NULL, *tls_cert = NULL, *tls_key = NULL;

	while ((opt = getopt_long(argc, argv, "l:d:f:h", opts, NULL)) != -1) {
		switch (opt) {
		case 'l': listen = optarg; break;
		case 'd': cfg.data_dir = optarg; break;
		case 'f':
			if (parse_fsync(optarg, &cfg) < 0) {
				fprintf(stderr, "myco-log: bad --fsync '%s' (always|interval=MS|never)\n", optarg);
				return 2;
			}
			break;
		case O_LISTEN_FD: lfd = atoi(optarg); break;
		case O_ADVERTISE: advertise = optarg; break;
		case O_AUTO: cfg.auto_create = true; break;
		case O_NOAUTO: cfg.auto_create = false; break;
		case O_VERBOSE: cfg.verbose = 1; break;
		case O_SASL_USERS: sasl_users = optarg; break;
		case O_SASL_MECHS: sasl_mechs = optarg; break;
		case O_TLS_CERT: tls_cert = optarg; break;
		case O_TLS_KEY: tls_key = optarg; break;
		case O_LOOPS:
			if (parse_i64(optarg, &v) < 0 || v < 0 || v > MYCO_LOG_SHARDS_MAX) {
				fprintf(stderr, "myco-log: --loops must be 0..%d (0: one per CPU)\n",
					MYCO_LOG_SHARDS_MAX);
				return 2;
			}
			nloops = (unsigned)v;
			break;
		case 'h': usage(stdout); return 0;
		case O_PEERS: ro.peers = optarg; break;
		case O_NODE_ID: case O_MIN_INSYNC: case O_ELECTION:
			if (parse_i64(optarg, &v) < 0 || v < 1 || v > INT32_MAX) {
				fprintf(stderr, "myco-log: --%s: bad number '%s'\n",
					opt == O_NODE_ID ? "node-id" : opt == O_MIN_INSYNC ?
					"min-insync-replicas" : "raft-election-ms", optarg);
				return 2;
			}
			if (opt == O_NODE_ID)
				ro.id = (uint64_t)v;
			else if (opt == O_MIN_INSYNC)
				ro.min_insync = (int)v;
			else
				ro.election_ms = (unsigned)v;
			break;
		case O_PARTS: case O_SEGB: case O_SEGMS: case O_RETMS: case O_RETB:
		case O_GDELAY: case O_DROP: case O_RETCHK:
			if (parse_i64(optarg, &v) < 0) {
				fprintf(stderr, "myco-log: bad number '%s'\n", optarg);
				return 2;
			}
			if (opt == O_PARTS) {
				if (v < 1 || v > MLS_PARTITIONS_MAX) {
					fprintf(stderr, "myco-log: --partitions out of range\n");
					return 2;
				}
				cfg.default_partitions = (int)v;
			} else if (opt == O_SEGB) {
				cfg.segment_bytes = v;
			} else if (opt == O_SEGMS) {
				cfg.segment_ms = v;
			} else if (opt == O_RETMS) {
				cfg.retention_ms = v;
			} else if (opt == O_RETB) {
				cfg.retention_bytes = v;
			} else if (opt == O_RETCHK) {
				if (v < 1 || v > 86400000) {
					fprintf(stderr, "myco-log: --retention-check-ms out of range\n");
					return 2;
				}
				cfg.retention_check_ms = v;
			} else if (opt == O_GDELAY) {
				cfg.group_initial_delay_ms = v < 0 ? 0 : (int)(v > 60000 ? 60000 : v);
			} else {
				cfg.test_drop_after_append = v < 0 ? 0 : (int)(v > 1000000 ? 1000000 : v);
			}
			break;
		default: usage(stderr); return 2;
		}
	}
	if (optind < argc || !cfg.data_dir) {
		if (!cfg.data_dir)
			fprintf(stderr, "myco-log: --data DIR is required\n");
		usage(stderr);
		return 2;
	}
	if (ro.id || ro.peers) {
		/* cluster mode: check the options before anything is bound */
		myco__peer_t peers[MYCO__PEERS_MAX];
		size_t np;
		char err[256];
		if (myco__lrepl_check(&ro, peers, &np, err, sizeof(err)) < 0) {
			fprintf(stderr, "myco-log: %s\n", err);
			return 2;
		}
		ro.dir = cfg.data_dir;
		ro.verbose = cfg.verbose;
		/* the raft log is the write-ahead log (repl.c) */
		cfg.fsync_mode = MLS_FSYNC_NEVER;
		for (size_t k = 0; k < np; k++)
			if (peers[k].id == ro.id && !advertise) {
				snprintf(ahost, sizeof(ahost), "%s", peers[k].host);
				aport = (int)peers[k].port;
			}
	}
	if (tls_cert || tls_key) {
		int rc = tls_cert && tls_key ? myco__lnet_tls(tls_cert, tls_key) : -EINVAL;
		if (rc < 0) {
			fprintf(stderr, "myco-log: --tls-cert and --tls-key: %s\n",
				rc == -ENOTSUP ? "built without OpenSSL" :
				!(tls_cert && tls_key) ? "both are needed" : "not usable");
			return 2;
		}
	}
	if (sasl_users) {
		int rc = myco__lsasl_setup(sasl_users, sasl_mechs);
		if (rc < 0) {
			fprintf(stderr, "myco-log: --sasl-users %s: %s\n", sasl_users,
				rc == -ENOENT ? "no user:password line" : strerror(-rc));
			return 2;
		}
	}
	if (listen && split_hostport(listen, lhost, sizeof(lhost), &lport) < 0) {
		fprintf(stderr, "myco-log: bad --listen '%s' (HOST:PORT)\n", listen);
		return 2;
	}
	in_system = getenv("MYCO_CTL") != NULL;
	/* Inside a system the executive holds one listening socket per port
	 * the partition declared (`listen PORT;`) for the system's whole life,
	 * and every replacement inherits it: take it (the port of --listen
	 * when given, else the only declared port, else 9092).  The partition
	 * then needs no `net`, and a restart never races for the port. */
	in_system = myco_in_system() == 1;
	if (lfd < 0 && in_system) {
		uint16_t ports[2];
		size_t np = myco_listen_ports(ports, 2);
		int want = listen ? lport : np == 1 ? ports[0] : 9092;
		int fd = want > 0 && want <= 65535 ? myco_listen_fd((uint16_t)want) :
			 -MYCO_ENOTGRANTED;
		if (fd >= 0) {
			lfd = fd;
			lport = want;
			fprintf(stderr, "myco-log: serving the system's listening socket for port %d\n",
				want);
		} else if (np) {
			fprintf(stderr, "myco-log: %s: binding %s:%d itself\n", myco_part_errmsg(),
				lhost, lport);
		}
	}
	/* Fallback (no declared port): a broker started right after its
	 * predecessor was killed (a standby the executive activates, or
	 * myco-log restarted by hand after kill -9) may find the port and the
	 * data directory lock still held for a few tens of ms while the
	 * kernel tears the dead process down (io_uring's deferred teardown
	 * keeps its sockets): retry for 3 s in a system, 2 s standalone. */
	int retries = in_system ? 300 : 200;
	if (lfd < 0) {
		for (int tries = 0;; tries++) {
			lfd = myco_tcp_listen(lhost, (uint16_t)lport, 1024, false);
			if (lfd != -EADDRINUSE || tries >= retries)
				break;
			if (tries == 0)
				fprintf(stderr, "myco-log: %s:%d in use, retrying for %d ms\n",
					lhost, lport, retries * 10);
			usleep(10000);
		}
		if (lfd < 0) {
			fprintf(stderr, "myco-log: listen on %s:%d: %s\n", lhost, lport,
				myco_strerror(lfd));
			return 1;
		}
	}
	if (lport == 0 || listen == NULL) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		if (getsockname(lfd, (struct sockaddr *)&ss, &sl) == 0) {
			if (ss.ss_family == AF_INET)
				lport = ntohs(((struct sockaddr_in *)&ss)->sin_port);
			else if (ss.ss_family == AF_INET6)
				lport = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
		}
	}
	if (advertise && split_hostport(advertise, ahost, sizeof(ahost), &aport) < 0) {
		fprintf(stderr, "myco-log: bad --advertise '%s'\n", advertise);
		return 2;
	}
	cfg.host = ahost[0] ? ahost : (lhost[0] && strcmp(lhost, "0.0.0.0") ? lhost : "127.0.0.1");
	cfg.port = aport >= 0 ? aport : lport;
	/* Block SIGINT/SIGTERM in every thread (the store starts its sync
	 * thread in myco__lb_open); the network layer takes them through a
	 * signalfd and shuts down cleanly. */
	{
		sigset_t ss;
		sigemptyset(&ss);
		sigaddset(&ss, SIGINT);
		sigaddset(&ss, SIGTERM);
		pthread_sigmask(SIG_BLOCK, &ss, NULL);
		signal(SIGPIPE, SIG_IGN);
	}
	for (int tries = 0;; tries++) {
		rc = myco__lb_open(&cfg, &lb);
		if (rc != -EBUSY || tries >= retries)
			break;
		usleep(10000);
	}
	if (rc < 0) {
		fprintf(stderr, "myco-log: open %s: %s\n", cfg.data_dir, myco_strerror(rc));
		close(lfd);
		return 1;
	}
	if (ro.id) {
		char err[512];
		rc = myco__lrepl_start(lb->st, &ro, &lb->cfg.repl, err, sizeof(err));
		if (rc < 0) {
			fprintf(stderr, "myco-log: cluster: %s\n", err[0] ? err : myco_strerror(rc));
			myco__lb_close(lb);
			close(lfd);
			return 1;
		}
	}
	/* Readiness line on stdout (tests and the executive wait for it). */
	printf("myco-log: listening on %s:%d data %s\n", cfg.host, cfg.port, cfg.data_dir);
	fflush(stdout);
	(void)myco_ready();
	rc = myco__lnet_run(lb, lfd, nloops, cfg.verbose, myco_heartbeat);
	myco__lrepl_stop(lb->cfg.repl);
	lb->cfg.repl = NULL;
	myco__lb_close(lb);
	close(lfd);
	if (rc < 0) {
		fprintf(stderr, "myco-log: %s\n", myco_strerror(rc));
		return 1;
	}
	return 0;
}
