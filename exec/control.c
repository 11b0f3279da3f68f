/*
 * control.c: the control socket (control.sock in the runtime dir, mode
 * 0600).  Protocol: the client sends one JSON object on one line,
 *   {"cmd":"ps"} | {"cmd":"stop","name":N} | {"cmd":"stop","all":true}
 *   {"cmd":"restart","name":N} | {"cmd":"kill","name":N}
 *   {"cmd":"logs","name":N,"follow":B} | {"cmd":"events","follow":B}
 *   {"cmd":"trace","on":CATS,"off":CATS} | {"cmd":"trace-read","from":SEQ,"max":N}
 *   {"cmd":"top"}       (these three: exec/collect.c)
 * and gets one JSON object per line back: {"ok":true,...} or
 * {"ok":false,"error":"..."}.  Following requests then stream
 * {"event":{...}} or {"data":"..."} lines until either side closes;
 * `stop --all` keeps the connection open until the system is down.
 * Not for: what the commands do (supervise.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <jansson.h>

#include "exec_int.h"
#include "collect.h"
#include "box_glue.h"

int myco__ex_control_open(struct ex_system *s)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int n = snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/control.sock", s->dir);
	if (n < 0 || (size_t)n >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	unlink(sa.sun_path);
	s->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (s->lfd < 0)
		return -errno;
	mode_t old = umask(0077);
	int rc = bind(s->lfd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old);
	if (rc < 0 || chmod(sa.sun_path, 0600) < 0 || listen(s->lfd, SOMAXCONN) < 0)
		return -errno;
	return myco__ex_epoll_add(s, s->lfd, EX_TAG(EXT_LISTEN, 0, s->lfd));
}

static void conn_free(struct ex_system *s, struct ex_conn *c)
{
	struct ex_conn **pp = &s->conns;
	while (*pp && *pp != c)
		pp = &(*pp)->next;
	if (*pp)
		*pp = c->next;
	myco__ex_epoll_del(s, c->fd);
	close(c->fd);
	free(c);
}

void myco__ex_control_accept(struct ex_system *s)
{
	for (;;) {
		int fd = accept4(s->lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (fd < 0)
			return;
		struct ex_conn *c = calloc(1, sizeof(*c));
		if (!c) {
			close(fd);
			return;
		}
		int sb = 1 << 20;       /* room for a burst of event lines */
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sb, sizeof(sb));
		c->fd = fd;
		c->mode = EXC_REQ;
		if (myco__ex_epoll_add(s, fd, EX_TAG(EXT_CONN, 0, fd)) < 0) {
			close(fd);
			free(c);
			return;
		}
		c->next = s->conns;
		s->conns = c;
	}
}

/* Send a whole line.  A reply may wait (bounded, ~1 s) for socket space;
 * a follower's line may not (wait = false): -EAGAIN, and the follower is
 * dropped, so that a stuck client never stalls the executive. */
static int send_line_ex(int fd, json_t *o, bool wait)
{
	char *txt = json_dumps(o, JSON_COMPACT);
	int rc = 0, tries = 0;
	if (!txt)
		return -ENOMEM;
	size_t len = strlen(txt);
	char *line = realloc(txt, len + 2);
	if (!line) {
		free(txt);
		return -ENOMEM;
	}
	line[len++] = '\n';
	line[len] = 0;
	for (size_t off = 0; off < len;) {
		ssize_t w = send(fd, line + off, len - off, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w < 0) {
			if (errno == EINTR || (errno == EAGAIN && wait && ++tries < 1000)) {
				usleep(1000);
				continue;
			}
			rc = -errno;
			break;
		}
		off += (size_t)w;
	}
	free(line);
	return rc;
}

static int send_line(int fd, json_t *o)
{
	return send_line_ex(fd, o, true);
}

static json_t *err_obj(const char *fmt, const char *arg)
{
	char buf[256];
	snprintf(buf, sizeof(buf), fmt, arg);
	return json_pack("{s:b,s:s}", "ok", 0, "error", buf);
}

static json_t *inst_iso_json(const struct ex_inst *in)
{
	json_t *a = json_array();
	for (size_t i = 0; i < in->niso; i++)
		json_array_append_new(a, json_pack("{s:s,s:s,s:s}", "mechanism", in->iso[i].name,
						   "status", in->iso[i].status,
						   "reason", in->iso[i].reason));
	return a;
}

/* The real uid and gid of a process, read from /proc/<pid>/status (what it
 * runs as, seen from outside).  0 or -errno. */
static int proc_ids(pid_t pid, long *uid, long *gid)
{
	char path[64], line[256];
	int rc = -ENOENT;
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	FILE *f = fopen(path, "re");
	if (!f)
		return -errno;
	*uid = *gid = -1;
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, "Uid:", 4))
			*uid = strtol(line + 4, NULL, 10);
		else if (!strncmp(line, "Gid:", 4))
			*gid = strtol(line + 4, NULL, 10);
	}
	if (*uid >= 0 && *gid >= 0)
		rc = 0;
	fclose(f);
	return rc;
}

/* What the system file asked for: {"user": name or number, "group": name,
 * number or null}, or null without `user`. */
static json_t *run_as_json(const myco_partition_t *m)
{
	if (!m->run_as)
		return json_null();
	json_t *u = m->user_name ? json_string(m->user_name) : json_integer(m->uid);
	json_t *g = !m->run_group ? json_null()
		    : m->group_name ? json_string(m->group_name) : json_integer(m->gid);
	return json_pack("{s:o,s:o}", "user", u, "group", g);
}

static json_t *ps_json(struct ex_system *s)
{
	json_t *parts = json_array(), *chans = json_array();
	for (size_t i = 0; i < s->nparts; i++) {
		struct ex_part *p = &s->parts[i];
		json_t *o = json_pack("{s:s,s:s,s:i,s:i,s:i,s:s,s:s,s:s,s:s}",
				      "name", p->name,
				      "state", myco__ex_state_name(p->state),
				      "pid", (int)(p->act.pid ? myco__ex_box_prog(&p->act) : 0),
				      "standby_pid", (int)p->sb.pid,
				      "restarts", (int)p->restarts,
				      "group", s->groups[p->group].name,
				      "restart", myco_restart_name(p->m->restart),
				      "mode", myco_mode_name(p->m->mode),
				      "last_exit", p->last_exit);
		if (!o)
			continue;
		if (p->last_c2r_ns || p->last_c2f_ns)
			json_object_set_new(o, "last_restart",
					    json_pack("{s:I,s:I}", "crash_to_running_ns",
						      (json_int_t)p->last_c2r_ns,
						      "crash_to_first_ns", (json_int_t)p->last_c2f_ns));
		if (p->act.has_init)
			json_object_set_new(o, "init_pid", json_integer(p->act.pid));
		json_object_set_new(o, "health", json_string(myco__ex_collect_health(s, p)));
		json_object_set_new(o, "standby_parked",
				    json_boolean(p->sb.ctl && p->sb.pid &&
						 __atomic_load_n(&p->sb.ctl->parked, __ATOMIC_ACQUIRE)));
		if (p->act.ctl)
			json_object_set_new(o, "heartbeats",
					    json_integer((json_int_t)p->act.ctl->heartbeat));
		const struct ex_inst *src = p->act.pid ? &p->act : &p->sb;
		json_object_set_new(o, "isolation", inst_iso_json(src));
		json_object_set_new(o, "timing", myco__ex_timing_json(s, p));
		/* listening sockets held by the executive for this partition */
		json_t *ports = json_array();
		for (size_t k = 0; ports && k < p->nlfds; k++)
			json_array_append_new(ports, json_pack("{s:i,s:s,s:s,s:i}",
					      "port", (int)p->lports[k], "proto", "tcp",
					      "address", "0.0.0.0", "fd", p->lfds[k]));
		if (ports)
			json_object_set_new(o, "ports", ports);
		json_object_set_new(o, "net", json_boolean(p->m->net));
		/* uid/gid the running program has (null when none runs) */
		long uid = -1, gid = -1;
		pid_t pp = p->act.pid ? myco__ex_box_prog(&p->act) : 0;
		bool ids = pp > 0 && proc_ids(pp, &uid, &gid) == 0;
		json_object_set_new(o, "uid", ids ? json_integer(uid) : json_null());
		json_object_set_new(o, "gid", ids ? json_integer(gid) : json_null());
		json_object_set_new(o, "run_as", run_as_json(p->m));
		json_array_append_new(parts, o);
	}
	for (size_t i = 0; i < s->nchans; i++) {
		const myco_channel_t *c = &s->model->channels[i];
		myco_chan_stats_t st = { 0 };
		if (s->chan_owners[i])
			myco_chan_owner_stats(s->chan_owners[i], &st);
		json_array_append_new(chans, json_pack("{s:s,s:s,s:I,s:I,s:I,s:b}",
			"name", c->name,
			"kind", myco_lang_chan_kind_name(c->kind),
			"sent", (json_int_t)st.sent, "done", (json_int_t)st.done,
			"pending", (json_int_t)st.pending, "broken", st.broken ? 1 : 0));
	}
	return json_pack("{s:b,s:s,s:i,s:s,s:s,s:o,s:o,s:o}", "ok", 1, "system", s->name,
			 "pid", (int)getpid(), "runtime_dir", s->dir,
			 "state", s->stopping ? "stopping" : "running",
			 "partitions", parts, "channels", chans,
			 "shield", myco__ex_shield_json(s));
}

static json_t *events_json(struct ex_system *s)
{
	json_t *a = json_array();
	uint64_t from = s->ev_seq > EX_EVENT_RING ? s->ev_seq - EX_EVENT_RING : 0;
	for (uint64_t q = from; q < s->ev_seq; q++)
		json_array_append_new(a, myco__ex_event_json(&s->ev[q % EX_EVENT_RING]));
	return json_pack("{s:b,s:o}", "ok", 1, "events", a);
}

/* Log bytes as a JSON-safe string (bytes that are not printable ASCII,
 * newline or tab become '?').  Caller frees. */
static char *log_text(const struct ex_part *p, uint64_t pos, uint64_t *next, size_t cap)
{
	char *buf = malloc(cap + 1);
	if (!buf)
		return NULL;
	size_t n = myco__ex_log_read(p, pos, buf, cap, next);
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)buf[i];
		if ((ch < 0x20 && ch != '\n' && ch != '\t') || ch >= 0x7f)
			buf[i] = '?';
	}
	buf[n] = 0;
	return buf;
}

json_t *myco__ex_control_dispatch(struct ex_system *s, struct ex_conn *c, const char *line,
				  bool *keep_out)
{
	json_error_t jerr;
	json_t *req = json_loads(line, 0, &jerr), *rep = NULL;
	const char *cmd = NULL, *name = NULL;
	int all = 0, follow = 0;
	struct ex_part *p = NULL;
	bool keep = false;

	if (!req || json_unpack(req, "{s:s,s?s,s?b,s?b}", "cmd", &cmd, "name", &name,
				"all", &all, "follow", &follow) < 0) {
		rep = err_obj("bad request: %s", req ? "expected {\"cmd\":...}" : jerr.text);
		goto out;
	}
	if (name && !(p = myco__ex_find(s, name))) {
		rep = err_obj("no partition named '%s'", name);
		goto out;
	}
	if ((rep = myco__ex_collect_dispatch(s, cmd, req))) {
		/* trace, trace-read, top (collect.c) */
	} else if (!strcmp(cmd, "ps")) {
		rep = ps_json(s);
	} else if (!strcmp(cmd, "events")) {
		rep = events_json(s);
		if (follow) {
			c->mode = EXC_EVENTS;
			c->pos = s->ev_seq;
			keep = true;
		}
	} else if (!strcmp(cmd, "logs")) {
		if (!p) {
			rep = err_obj("%s needs a partition name", cmd);
			goto out;
		}
		uint64_t next;
		char *txt = log_text(p, 0, &next, EX_LOG_RING);
		rep = json_pack("{s:b,s:s}", "ok", 1, "data", txt ? txt : "");
		free(txt);
		if (follow) {
			c->mode = EXC_LOGS;
			c->part = p->idx;
			c->pos = next;
			keep = true;
		}
	} else if (!strcmp(cmd, "stop") && all) {
		rep = json_pack("{s:b}", "ok", 1);
		myco__ex_stop_all(s, "myco stop --all");
		c->mode = EXC_WAIT;
		keep = true;
	} else if (!strcmp(cmd, "stop") || !strcmp(cmd, "restart") || !strcmp(cmd, "kill")) {
		if (!p) {
			rep = err_obj("%s needs a partition name (or --all for stop)", cmd);
			goto out;
		}
		int rc = !strcmp(cmd, "stop") ? myco__ex_stop_one(s, p) :
			 !strcmp(cmd, "kill") ? myco__ex_kill(s, p) : myco__ex_restart(s, p);
		if (rc < 0) {
			char msg[200];
			snprintf(msg, sizeof(msg), "%s %s: %s (state %s)", cmd, p->name,
				 rc == -ESRCH ? "no running process" : myco_strerror(rc),
				 myco__ex_state_name(p->state));
			rep = err_obj("%s", msg);
		} else {
			rep = json_pack("{s:b,s:i}", "ok", 1, "pid", (int)p->act.pid);
		}
	} else {
		rep = err_obj("unknown command '%s'", cmd);
	}
out:
	json_decref(req);
	*keep_out = keep;
	return rep ? rep : err_obj("%s", "out of memory");
}

static void handle_request(struct ex_system *s, struct ex_conn *c, const char *line)
{
	bool keep;
	json_t *rep = myco__ex_control_dispatch(s, c, line, &keep);
	if (!rep || send_line(c->fd, rep) < 0)
		keep = false;
	json_decref(rep);
	if (!keep)
		conn_free(s, c);
}

void myco__ex_control_io(struct ex_system *s, struct ex_conn *c)
{
	ssize_t n = recv(c->fd, c->buf + c->len, sizeof(c->buf) - 1 - c->len, MSG_DONTWAIT);
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
		conn_free(s, c);
		return;
	}
	if (n < 0)
		return;
	if (c->mode != EXC_REQ) {     /* followers send nothing more */
		c->len = 0;
		return;
	}
	c->len += (size_t)n;
	c->buf[c->len] = 0;
	char *nl = memchr(c->buf, '\n', c->len);
	/* a NUL byte would hide the rest of the line from the parser (and a
	 * newline after it from strchr: the request was never answered) */
	if (memchr(c->buf, 0, nl ? (size_t)(nl - c->buf) : c->len)) {
		json_t *e = err_obj("%s", "request contains a NUL byte");
		send_line(c->fd, e);
		json_decref(e);
		conn_free(s, c);
		return;
	}
	if (!nl) {
		if (c->len >= sizeof(c->buf) - 1) {
			json_t *e = err_obj("%s", "request line too long");
			send_line(c->fd, e);
			json_decref(e);
			conn_free(s, c);
		}
		return;
	}
	*nl = 0;
	handle_request(s, c, c->buf);
}

/* Push new events / log bytes to followers; drop a follower whose socket
 * cannot take a line (it re-reads what it missed by reconnecting). */
void myco__ex_control_flush(struct ex_system *s)
{
	struct ex_conn *c = s->conns, *next;
	for (; c; c = next) {
		next = c->next;
		if (c->mode == EXC_EVENTS) {
			uint64_t from = s->ev_seq > EX_EVENT_RING ? s->ev_seq - EX_EVENT_RING : 0;
			if (c->pos < from)
				c->pos = from;
			for (; c->pos < s->ev_seq; c->pos++) {
				json_t *o = json_pack("{s:o}", "event",
						      myco__ex_event_json(&s->ev[c->pos % EX_EVENT_RING]));
				int rc = send_line_ex(c->fd, o, false);
				json_decref(o);
				if (rc < 0) {
					conn_free(s, c);
					break;
				}
			}
		} else if (c->mode == EXC_LOGS && c->part < s->nparts) {
			struct ex_part *p = &s->parts[c->part];
			if (c->pos >= p->log_total)
				continue;
			char *txt = log_text(p, c->pos, &c->pos, 16384);
			json_t *o = json_pack("{s:s}", "data", txt ? txt : "");
			free(txt);
			int rc = send_line_ex(c->fd, o, false);
			json_decref(o);
			if (rc < 0)
				conn_free(s, c);
		}
	}
}

void myco__ex_control_close(struct ex_system *s)
{
	while (s->conns) {
		myco__ex_control_flush(s);
		if (s->conns)
			conn_free(s, s->conns);
	}
	if (s->lfd >= 0) {
		close(s->lfd);
		s->lfd = -1;
	}
}
