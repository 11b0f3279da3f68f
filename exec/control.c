/*
 * control.c: the control socket (control.sock in the runtime dir, mode
 * 0600).  Protocol: the client sends one JSON object on one line,
 *   {"cmd":"ps"} | {"cmd":"stop","name":N} | {"cmd":"stop","all":true}
 *   {"cmd":"restart","name":N} | {"cmd":"kill","name":N}
 *   (stop, restart and kill take "by":WHO, named in the event log)
 *   {"cmd":"logs","name":N,"follow":B} | {"cmd":"events","follow":B}
 *   {"cmd":"trace","on":CATS,"off":CATS} | {"cmd":"trace-read","from":SEQ,"max":N}
 *   {"cmd":"top"} | {"cmd":"top","form":"rows"}   (these three: exec/collect.c)
 *   {"cmd":"chaos","action":"run"|"stop"|"status",...}   (exec/chaos.c)
 * and gets one JSON object per line back: {"ok":true,...} or
 * {"ok":false,"error":"..."}.  Following requests then stream
 * {"event":{...}} or {"data":"..."} lines until either side closes;
 * `stop --all` keeps the connection open until the system is down.
 * Limits: at most EX_MAX_CONNS connections, fewer under a low RLIMIT_NOFILE
 * (more are told so and closed),
 * 5 s for a complete request, replies never wait for the client (what the
 * socket cannot take is sent on EPOLLOUT).
 * Not for: what the commands do (supervise.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <jansson.h>

#include "exec_int.h"
#include "collect.h"
#include "record.h"
#include "box/box.h"
#include "health.h"
#include "heal.h"
#include "box_glue.h"
#include "chaos.h"

int myco__ex_control_open(struct ex_system *s)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int n = snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/control.sock", s->dir);
	if (n < 0 || (size_t)n >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	unlink(sa.sun_path);
	/* connections may take an eighth of the fds at most: the rest are
	 * supervision's (instances, standbys, channels) */
	struct rlimit rl;
	s->max_conns = EX_MAX_CONNS;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur / 8 < s->max_conns)
		s->max_conns = rl.rlim_cur / 8 ? (size_t)(rl.rlim_cur / 8) : 1;
	s->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
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
	if (*pp) {
		*pp = c->next;
		s->nconns--;
	}
	if (c->fd >= 0) {
		myco__ex_epoll_del(s, c->fd);
		close(c->fd);
	}
	free(c->out);
	free(c);
}

/* One error line to a connection we will not keep; never waits. */
static void refuse(int fd, const char *why)
{
	char line[160];
	int n = snprintf(line, sizeof(line), "{\"ok\":false,\"error\":\"%s\"}\n", why);
	if (send(fd, line, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT) < 0) {
		/* the client goes away without its line: nothing else to do */
	}
	close(fd);
}

/* Accept everything pending.  Over the cap the oldest connection that has
 * sent nothing is told so and closed to make room (or, when every one is a
 * follower, the new one is).  Out of fds, the spare fd is given up for one
 * accept-and-close and taken back, so the backlog drains instead of the
 * listening socket staying readable (a busy loop); with no spare the
 * socket leaves the epoll set until the next tick. */
void myco__ex_control_accept(struct ex_system *s)
{
	for (;;) {
		int fd = accept4(s->lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno != EMFILE && errno != ENFILE && errno != ENOBUFS &&
			    errno != ENOMEM)
				return;         /* EAGAIN: drained */
			if (s->spare_fd < 0) {
				myco__ex_epoll_del(s, s->lfd);
				s->listen_paused = true;
				return;
			}
			close(s->spare_fd);
			fd = accept4(s->lfd, NULL, NULL, SOCK_CLOEXEC);
			if (fd >= 0)
				refuse(fd, "executive out of file descriptors");
			s->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
			if (fd < 0)
				return;
			continue;
		}
		if (s->nconns >= s->max_conns) {
			/* make room: the oldest connection that has not sent a
			 * request goes (a flood of idle connections then only
			 * churns, and a real client gets through) */
			struct ex_conn *old = NULL;
			for (struct ex_conn *o = s->conns; o; o = o->next)
				if (o->mode == EXC_REQ && !o->close_after && !o->len)
					old = o;        /* the list is newest first */
			if (!old) {
				refuse(fd, "too many control connections");
				continue;
			}
			int ofd = old->fd;
			old->fd = -1;
			conn_free(s, old);
			refuse(ofd, "too many control connections");
		}
		struct ex_conn *c = calloc(1, sizeof(*c));
		if (!c) {
			close(fd);
			return;
		}
		int sb = 1 << 20;       /* room for a burst of event lines */
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sb, sizeof(sb));
		c->fd = fd;
		c->mode = EXC_REQ;
		c->t_open_ns = myco_now();
		if (myco__ex_epoll_add(s, fd, EX_TAG(EXT_CONN, 0, fd)) < 0) {
			close(fd);
			free(c);
			return;
		}
		c->next = s->conns;
		s->conns = c;
		s->nconns++;
	}
}

static void conn_want_out(struct ex_system *s, struct ex_conn *c, bool on)
{
	struct epoll_event ev = { .events = EPOLLIN | (on ? EPOLLOUT : 0),
				  .data.u64 = EX_TAG(EXT_CONN, 0, c->fd) };
	epoll_ctl(s->epfd, EPOLL_CTL_MOD, c->fd, &ev);
}

/* Send what is queued; 0 when all of it went (or nothing was queued),
 * -EAGAIN when some is left, or -errno. */
static int conn_push(struct ex_conn *c)
{
	while (c->out_off < c->out_len) {
		ssize_t w = send(c->fd, c->out + c->out_off, c->out_len - c->out_off,
				 MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		c->out_off += (size_t)w;
	}
	free(c->out);
	c->out = NULL;
	c->out_len = c->out_off = 0;
	return 0;
}

/* Send a whole line without ever waiting.  A reply (queue = true) that the
 * socket cannot take yet is kept and sent on EPOLLOUT (the idle timeout
 * bounds how long); a follower's line (queue = false) is not: -EAGAIN,
 * and the follower is dropped, so that a stuck client never stalls the
 * executive. */
static int send_line_ex(struct ex_system *s, struct ex_conn *c, json_t *o, bool queue)
{
	char *txt = json_dumps(o, JSON_COMPACT);
	if (!txt)
		return -ENOMEM;
	size_t len = strlen(txt);
	if (c->out && !queue) {
		free(txt);
		return -EAGAIN;
	}
	char *line = realloc(c->out, c->out_len + len + 1);
	if (!line) {
		free(txt);
		return -ENOMEM;
	}
	memcpy(line + c->out_len, txt, len);
	line[c->out_len + len] = '\n';
	free(txt);
	c->out = line;
	c->out_len += len + 1;
	int rc = conn_push(c);
	if (rc == -EAGAIN && queue) {
		conn_want_out(s, c, true);
		return 0;
	}
	return rc;
}

static int send_line(struct ex_system *s, struct ex_conn *c, json_t *o)
{
	return send_line_ex(s, c, o, true);
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
		/* crash-loop backoff: the delay of the last restart (0 = at once),
		 * and while it is waited out, how much of it is left */
		json_object_set_new(o, "backoff_ms",
				    json_integer((json_int_t)(p->backoff_ns / 1000000u)));
		if (p->restart_at_ns) {
			uint64_t now = myco_now();
			json_object_set_new(o, "restart_in_ms", json_integer((json_int_t)
				(p->restart_at_ns > now ? (p->restart_at_ns - now) / 1000000u : 0)));
		}
		json_object_set_new(o, "health", json_string(myco__ex_collect_health(s, p)));
		json_object_set_new(o, "verdict", json_string(myco__ex_health_verdict(s, p)));
		json_object_set_new(o, "heals", json_integer(myco__ex_heal_count(s, p)));
		if (p->quar.pid)
			json_object_set_new(o, "quarantined_pid", json_integer(p->quar.pid));
		json_object_set_new(o, "record", myco__ex_record_json(s, p));
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
	/* the frame clock, for a viewer that shows where the running frame is:
	 * frame k starts at origin_ns + k * major_ns (CLOCK_MONOTONIC) */
	json_t *frame = json_null();
	struct myco__box_frame_stats fs;
	for (size_t i = 0; i < s->nparts && json_is_null(frame); i++)
		if (myco__ex_box_frame_stats(s, &s->parts[i], &fs) == 0 && fs.origin_ns)
			frame = json_pack("{s:I,s:I,s:I,s:I}", "origin_ns", (json_int_t)fs.origin_ns,
					  "major_ns", (json_int_t)fs.major_ns,
					  "frames", (json_int_t)fs.frames,
					  "now_ns", (json_int_t)myco_now());
	return json_pack("{s:b,s:s,s:i,s:s,s:s,s:o,s:o,s:o,s:o,s:o}", "ok", 1, "system", s->name,
			 "pid", (int)getpid(), "runtime_dir", s->dir,
			 "state", s->stopping ? "stopping" : "running",
			 "partitions", parts, "channels", chans,
			 "shield", myco__ex_shield_json(s), "frame", frame ? frame : json_null(),
			 "services", myco__ex_registry_json(s));
}

static json_t *events_json(struct ex_system *s)
{
	json_t *a = json_array();
	size_t n;
	const struct ex_event **all = myco__ex_events_all(s, &n);
	for (size_t i = 0; all && i < n; i++)
		json_array_append_new(a, myco__ex_event_json(all[i]));
	free(all);
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

/* {"cmd":"chaos","action":"run",...experiment (chaos.h)} | "stop" | "status" */
static json_t *chaos_cmd(struct ex_system *s, json_t *req)
{
	const char *action = json_string_value(json_object_get(req, "action"));
	struct myco__chaos_exp *e;
	char err[256] = "";
	json_t *rep;
	int rc;

	if (!action || !strcmp(action, "status"))
		return myco__ex_chaos_json(s);
	if (!strcmp(action, "stop")) {
		if (myco__ex_chaos_stop(s, "stopped by the operator") < 0)
			return err_obj("%s", "no experiment is running");
		return myco__ex_chaos_json(s);
	}
	if (strcmp(action, "run"))
		return err_obj("%s", "chaos: unknown action (run, stop or status)");
	e = malloc(sizeof(*e));
	if (!e)
		return err_obj("%s", "out of memory");
	const char *xname = json_string_value(json_object_get(req, "experiment"));
	if (xname && !json_object_get(req, "faults")) {
		/* an experiment of the system file: `chaos NAME { ... }` */
		size_t i = 0;
		while (i < s->model->nchaos && strcmp(s->model->chaos[i].name, xname))
			i++;
		if (i == s->model->nchaos)
			rep = err_obj("chaos: the system declares no experiment named '%s'", xname);
		else if (myco__chaos_from_model(&s->model->chaos[i], e, err, sizeof(err)) < 0)
			rep = err_obj("chaos: %s", err);
		else if ((rc = myco__ex_chaos_start(s, e, err, sizeof(err))) < 0)
			rep = err_obj("chaos: %s", err[0] ? err : myco_strerror(rc));
		else if ((rep = myco__ex_chaos_json(s)))
			json_object_set_new(rep, "t0_seq", json_integer((json_int_t)s->ev_seq));
	} else if (myco__chaos_from_json(req, e, err, sizeof(err)) < 0) {
		rep = err_obj("chaos: %s", err);
	} else if ((rc = myco__ex_chaos_start(s, e, err, sizeof(err))) < 0) {
		rep = err_obj("chaos: %s", err[0] ? err : myco_strerror(rc));
	} else {
		rep = myco__ex_chaos_json(s);
		if (rep)
			json_object_set_new(rep, "t0_seq", json_integer((json_int_t)s->ev_seq));
	}
	free(e);
	return rep;
}

json_t *myco__ex_control_dispatch(struct ex_system *s, struct ex_conn *c, const char *line,
				  bool *keep_out)
{
	json_error_t jerr;
	json_t *req = json_loads(line, 0, &jerr), *rep = NULL;
	const char *cmd = NULL, *name = NULL, *by = NULL;
	int all = 0, follow = 0;
	struct ex_part *p = NULL;
	bool keep = false;

	if (!req || json_unpack(req, "{s:s,s?s,s?b,s?b,s?s}", "cmd", &cmd, "name", &name,
				"all", &all, "follow", &follow, "by", &by) < 0) {
		rep = err_obj("bad request: %s", req ? "expected {\"cmd\":...}" : jerr.text);
		goto out;
	}
	if (name && !(p = myco__ex_find(s, name))) {
		rep = err_obj("no partition named '%s'", name);
		goto out;
	}
	if ((rep = myco__ex_collect_dispatch(s, cmd, req)) ||
	    (rep = myco__ex_record_dispatch(s, cmd, req))) {
		/* trace, trace-read, top (collect.c) */
	} else if (!strcmp(cmd, "chaos")) {
		rep = chaos_cmd(s, req);
	} else if (!strcmp(cmd, "ps")) {
		rep = ps_json(s);
	} else if (!strcmp(cmd, "health")) {
		rep = myco__ex_health_dispatch(s, req);
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
		if (by) {       /* who asked (the dashboard says so): kept in the event log */
			char who[33];
			size_t k = 0;
			for (; by[k] && k < sizeof(who) - 1; k++)
				who[k] = by[k] > 0x20 && by[k] < 0x7f ? by[k] : '?';
			who[k] = 0;
			myco__ex_event(s, p, "control", -1, -1, "%s requested by %s", cmd, who);
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
	int rc = rep ? send_line(s, c, rep) : -ENOMEM;
	json_decref(rep);
	if (rc < 0)
		conn_free(s, c);
	else if (!keep && c->out)
		c->close_after = true;          /* closed once the reply is out */
	else if (!keep)
		conn_free(s, c);
}

static void reply_error(struct ex_system *s, struct ex_conn *c, const char *msg)
{
	json_t *e = err_obj("%s", msg);
	if (send_line(s, c, e) < 0 || !c->out)
		conn_free(s, c);
	else
		c->close_after = true;
	json_decref(e);
}

void myco__ex_control_io(struct ex_system *s, struct ex_conn *c, uint32_t events)
{
	if (events & EPOLLOUT) {
		int rc = conn_push(c);
		if (rc == 0 && c->close_after) {
			conn_free(s, c);
			return;
		}
		if (rc == 0)
			conn_want_out(s, c, false);
		else if (rc != -EAGAIN) {
			conn_free(s, c);
			return;
		}
	}
	if (!(events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
		return;
	if (c->close_after) {           /* nothing more is read */
		if (events & (EPOLLHUP | EPOLLERR))
			conn_free(s, c);
		return;
	}
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
		reply_error(s, c, "request contains a NUL byte");
		return;
	}
	if (!nl) {
		if (c->len >= sizeof(c->buf) - 1) {
			reply_error(s, c, "request line too long");
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
		if (c->out)             /* its first reply is still going out */
			continue;
		if (c->mode == EXC_EVENTS) {
			uint64_t from = s->ev_seq > EX_EVENT_RING ? s->ev_seq - EX_EVENT_RING : 0;
			if (c->pos < from)
				c->pos = from;
			for (; c->pos < s->ev_seq; c->pos++) {
				json_t *o = json_pack("{s:o}", "event",
						      myco__ex_event_json(&s->ev[c->pos % EX_EVENT_RING]));
				int rc = send_line_ex(s, c, o, false);
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
			int rc = send_line_ex(s, c, o, false);
			json_decref(o);
			if (rc < 0)
				conn_free(s, c);
		}
	}
}

void myco__ex_control_tick(struct ex_system *s)
{
	uint64_t now = myco_now();
	struct ex_conn *c = s->conns, *next;
	for (; c; c = next) {
		next = c->next;
		/* no complete request, or a reply not taken, within the limit
		 * (followers and `stop --all` waiters are not idle) */
		if ((c->mode == EXC_REQ || c->close_after) &&
		    now - c->t_open_ns > EX_CONN_IDLE_NS) {
			if (!c->close_after) {
				c->len = 0;
				free(c->out);
				c->out = NULL;
				c->out_len = c->out_off = 0;
				json_t *e = err_obj("%s", "no complete request within 5 s");
				send_line_ex(s, c, e, false);
				json_decref(e);
			}
			conn_free(s, c);
		}
	}
	if (s->listen_paused && s->lfd >= 0) {
		if (s->spare_fd < 0)
			s->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
		if (myco__ex_epoll_add(s, s->lfd, EX_TAG(EXT_LISTEN, 0, s->lfd)) == 0)
			s->listen_paused = false;
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
	if (s->spare_fd >= 0) {
		close(s->spare_fd);
		s->spare_fd = -1;
	}
}
