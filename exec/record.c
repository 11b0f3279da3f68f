/*
 * record.c: record and replay in the executive (record.h).  Every
 * partition gets a record ring (lib/replay, `record/ring:FD` in its
 * manifest); a partition with `record always;` or `record on crash;` (or
 * turned on through the control socket) has it enabled and its records
 * are copied on the collector's tick into its log under the record dir.
 * When the partition crashes, the records it left are drained, an END
 * record says how it died, and the log window is kept in
 * <record dir>/crash/<partition>-<time> (the event names the directory;
 * <record dir>/crash/<partition> links the latest).  Runs on the
 * executive's thread; never waits for a partition.
 * Not for: the ring and log formats (lib/replay), `myco replay` (cmd/myco).
 */
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "exec_int.h"
#include "part_abi.h"
#include "rec_abi.h"
#include "record.h"
#include "replay.h"
#include "rlog.h"

struct pro_rec {
	uint16_t type, chan;
	uint32_t len;
	uint8_t *body;
};

struct rec_part {
	int fd;
	struct myco__ring_rd *rd;
	struct myco__rlog_w *w;     /* the log, while recorded */
	myco_record_t mode;         /* from the system file */
	bool on;
	/* START and OPEN of the current run while not recorded, so that a
	 * log opened later starts with them */
	struct pro_rec *pro;
	size_t npro, cpro;
	uint64_t lost_seen;         /* overruns already written as GAP records */
	uint64_t crashes;
	char crash_log[PATH_MAX];
	char dir[PATH_MAX];
};

struct ex_record {
	char dir[2048];
	struct rec_part *pt;
};

static void pro_clear(struct rec_part *rp)
{
	for (size_t i = 0; i < rp->npro; i++)
		free(rp->pro[i].body);
	rp->npro = 0;
}

static int pro_keep(struct rec_part *rp, uint16_t type, uint16_t chan, const uint8_t *b,
		    uint32_t len)
{
	if (type == MYCO__REC_START)
		pro_clear(rp);
	if (rp->npro == rp->cpro) {
		size_t nc = rp->cpro ? rp->cpro * 2 : 8;
		void *p = realloc(rp->pro, nc * sizeof *rp->pro);
		if (!p)
			return -ENOMEM;
		rp->pro = p;
		rp->cpro = nc;
	}
	uint8_t *c = malloc(len ? len : 1);
	if (!c)
		return -ENOMEM;
	memcpy(c, b, len);
	rp->pro[rp->npro++] = (struct pro_rec){ type, chan, len, c };
	return 0;
}

static int mkdir_p(const char *path)
{
	char tmp[PATH_MAX];

	snprintf(tmp, sizeof tmp, "%s", path);
	for (char *q = tmp + 1; *q; q++)
		if (*q == '/') {
			*q = 0;
			if (mkdir(tmp, 0750) < 0 && errno != EEXIST)
				return -errno;
			*q = '/';
		}
	return mkdir(tmp, 0750) < 0 && errno != EEXIST ? -errno : 0;
}

/* Start P's log (turning recording on). */
static int log_start(struct ex_system *s, struct ex_part *p, struct rec_part *rp)
{
	int rc = mkdir_p(s->record->dir);
	if (rc < 0)
		return rc;
	struct myco__rlog_cfg cfg = {
		.dir = rp->dir, .partition = p->name,
		.max_bytes = p->m->record_bytes ? p->m->record_bytes : MYCO_LANG_RECORD_BYTES,
		.max_age_ns = p->m->record_ns,
	};
	rc = myco__rlog_open(&cfg, &rp->w);
	if (rc < 0)
		return rc;
	for (size_t i = 0; i < rp->npro && rc == 0; i++)
		rc = myco__rlog_append(rp->w, rp->pro[i].type, rp->pro[i].chan, rp->pro[i].body,
				       rp->pro[i].len);
	return rc;
}

int myco__ex_record_open(struct ex_system *s)
{
	struct ex_record *r = calloc(1, sizeof *r);
	const char *env = getenv("MYCO_RECORD_DIR");
	char base[1024];
	int rc;

	if (!r || !(r->pt = calloc(s->nparts ? s->nparts : 1, sizeof *r->pt))) {
		free(r);
		return -ENOMEM;
	}
	s->record = r;
	if (env && env[0] == '/')
		snprintf(r->dir, sizeof r->dir, "%s/%s", env, s->name);
	else if (myco__exec_default_base(base, sizeof base) == 0)
		snprintf(r->dir, sizeof r->dir, "%s/record/%s", base, s->name);
	else
		return -ENAMETOOLONG;
	for (size_t i = 0; i < s->nparts; i++) {
		struct ex_part *p = &s->parts[i];
		struct rec_part *rp = &r->pt[i];
		char name[96];

		rp->fd = -1;
		rp->mode = p->m->record;
		rp->on = rp->mode != MYCO_RECORD_OFF;
		snprintf(rp->dir, sizeof rp->dir, "%s/%s", r->dir, p->name);
		snprintf(name, sizeof name, "myco-record-%s", p->name);
		rc = myco__ring_create(rp->on ? EX_RECORD_RING_ON : EX_RECORD_RING_OFF, name, &rp->fd);
		if (rc == 0)
			rc = myco__ring_open(rp->fd, &rp->rd);
		struct myco__cap cap = { .kind = MYCO__CAP_RECORD_RING, .fds = { rp->fd }, .nfds = 1 };
		if (rc == 0 && (p->nfds + 1 > EX_MAX_FDS ||
				myco__caps_append(p->caps, sizeof p->caps, &cap) < 0))
			rc = -E2BIG;
		if (rc == 0) {
			p->fds[p->nfds++] = rp->fd;
			myco__ring_enable(rp->rd, rp->on);
			if (rp->on)
				rc = log_start(s, p, rp);
		}
		if (rc < 0) {
			myco__ex_event(s, p, "error", -1, -1, "record: %s: %s", rp->dir,
				       myco_strerror(rc));
			return rc;
		}
	}
	return 0;
}

struct sink {
	struct rec_part *rp;
	int err;
};

static int to_log(void *arg, uint16_t type, uint16_t chan, const uint8_t *body, uint32_t len)
{
	struct sink *k = arg;
	struct rec_part *rp = k->rp;

	if ((type == MYCO__REC_START || type == MYCO__REC_OPEN) &&
	    pro_keep(rp, type, chan, body, len) < 0)
		k->err = -ENOMEM;
	if (rp->w) {
		int rc = myco__rlog_append(rp->w, type, chan, body, len);
		if (rc < 0 && !k->err)
			k->err = rc;
	}
	return 0;
}

static void drain_one(struct ex_system *s, struct ex_part *p, struct rec_part *rp, int force)
{
	struct sink k = { rp, 0 };

	if (!rp->rd)
		return;
	(void)myco__ring_drain(rp->rd, force, to_log, &k);
	struct myco__ring_counts c;
	myco__ring_counts(rp->rd, &c);
	if (rp->w && c.overruns > rp->lost_seen) {
		/* never silent: the log says where records are missing */
		struct myco__rb_value v = { c.overruns - rp->lost_seen };
		(void)myco__rlog_append(rp->w, MYCO__REC_GAP, 0, &v, sizeof v);
	}
	rp->lost_seen = c.overruns;
	if (rp->w)
		(void)myco__rlog_flush(rp->w);
	if (k.err) {
		myco__ex_event(s, p, "error", -1, -1, "record: writing %s: %s; recording off",
			       rp->dir, myco_strerror(k.err));
		myco__rlog_close(rp->w, 0);
		rp->w = NULL;
		rp->on = false;
		myco__ring_enable(rp->rd, 0);
	}
}

void myco__ex_record_tick(struct ex_system *s)
{
	struct ex_record *r = s->record;

	for (size_t i = 0; r && i < s->nparts; i++)
		drain_one(s, &s->parts[i], &r->pt[i], 0);
}

void myco__ex_record_exited(struct ex_system *s, struct ex_part *p, const siginfo_t *si,
			    bool abnormal)
{
	struct ex_record *r = s->record;

	if (!r)
		return;
	struct rec_part *rp = &r->pt[p->idx];
	drain_one(s, p, rp, 1);
	if (!rp->w)
		return;
	/* a crash: the process died of a signal nobody sent it on purpose
	 * (not a stop, not `myco kill`): sig != 0; otherwise sig = 0 ends
	 * the run and status says how (a signal number is negated) */
	bool crashed = abnormal && !s->stopping && !p->stop_requested &&
		       si->si_code != CLD_EXITED;
	struct myco__rb_crash c = {
		.sig = crashed ? si->si_status : 0,
		.status = si->si_code == CLD_EXITED ? si->si_status : -si->si_status,
		.t_realtime_ns = myco__ex_real(),
	};
	(void)myco__rlog_append(rp->w, MYCO__REC_CRASH, 0, &c, sizeof c);
	(void)myco__rlog_flush(rp->w);
	if (!crashed)
		return;
	char when[32], dest[PATH_MAX], link[PATH_MAX], crash[2200];
	time_t t = time(NULL);
	struct tm tm;
	strftime(when, sizeof when, "%Y%m%dT%H%M%S", gmtime_r(&t, &tm));
	snprintf(crash, sizeof crash, "%s/crash", r->dir);
	rp->crashes++;
	snprintf(dest, sizeof dest, "%s/%s-%s-%llu", crash, p->name, when,
		 (unsigned long long)rp->crashes);
	int rc = mkdir_p(crash);
	if (rc == 0)
		rc = myco__rlog_keep(rp->w, dest);
	if (rc < 0) {
		myco__ex_event(s, p, "error", -1, -1, "record: keeping the crash log in %s: %s",
			       dest, myco_strerror(rc));
		return;
	}
	snprintf(rp->crash_log, sizeof rp->crash_log, "%s", dest);
	snprintf(link, sizeof link, "%s/%s", crash, p->name);
	unlink(link);
	if (symlink(dest + strlen(crash) + 1, link) < 0) {
		/* the directory named in the event is what counts */
	}
	myco__ex_event(s, p, "record", -1, -1, "crash log kept in %s (myco replay --crash %s)",
		       dest, p->name);
}

void myco__ex_record_close(struct ex_system *s)
{
	struct ex_record *r = s->record;

	if (!r)
		return;
	for (size_t i = 0; i < s->nparts; i++) {
		struct rec_part *rp = &r->pt[i];
		drain_one(s, &s->parts[i], rp, 1);
		/* `record on crash`: a run that did not crash leaves no log */
		myco__rlog_close(rp->w, rp->mode == MYCO_RECORD_CRASH);
		myco__ring_close(rp->rd);
		if (rp->fd >= 0)
			close(rp->fd);
		pro_clear(rp);
		free(rp->pro);
	}
	free(r->pt);
	free(r);
	s->record = NULL;
}

json_t *myco__ex_record_json(struct ex_system *s, const struct ex_part *p)
{
	struct ex_record *r = s->record;

	if (!r)
		return json_null();
	struct rec_part *rp = &r->pt[p->idx];
	struct myco__ring_counts c = { 0 };
	uint64_t bytes = 0, recs = 0, dropped = 0;
	if (rp->rd)
		myco__ring_counts(rp->rd, &c);
	if (rp->w)
		myco__rlog_stats(rp->w, &bytes, &recs, &dropped);
	return json_pack("{s:s,s:b,s:I,s:I,s:I,s:I,s:I,s:s?,s:s?}",
			 "mode", myco_record_name(rp->mode), "on", rp->on,
			 "records", (json_int_t)recs, "bytes", (json_int_t)bytes,
			 "overruns", (json_int_t)c.overruns, "corrupt", (json_int_t)c.corrupt,
			 "segments_dropped", (json_int_t)dropped,
			 "log", rp->w ? rp->dir : NULL,
			 "crash_log", rp->crash_log[0] ? rp->crash_log : NULL);
}

static json_t *err_reply(const char *msg, const char *name)
{
	return json_pack("{s:b,s:s+++}", "ok", 0, "error", msg, name ? " '" : "",
			 name ? name : "", name ? "'" : "");
}

json_t *myco__ex_record_dispatch(struct ex_system *s, const char *cmd, json_t *req)
{
	if (strcmp(cmd, "record") && strcmp(cmd, "record-status"))
		return NULL;
	const char *name = json_string_value(json_object_get(req, "partition"));
	struct ex_part *p = NULL;
	for (size_t i = 0; name && i < s->nparts; i++)
		if (!strcmp(s->parts[i].name, name))
			p = &s->parts[i];
	if (!s->record)
		return err_reply("recording is not available", NULL);
	if (!strcmp(cmd, "record-status")) {
		json_t *o = json_object();
		for (size_t i = 0; i < s->nparts; i++)
			if (!p || p == &s->parts[i])
				json_object_set_new(o, s->parts[i].name,
						    myco__ex_record_json(s, &s->parts[i]));
		return json_pack("{s:b,s:s,s:o}", "ok", 1, "dir", s->record->dir, "partitions", o);
	}
	if (!p)
		return err_reply("no such partition", name);
	json_t *on = json_object_get(req, "on");
	if (!json_is_boolean(on))
		return err_reply("\"on\" must be true or false", NULL);
	struct rec_part *rp = &s->record->pt[p->idx];
	if (json_is_true(on) && !rp->on) {
		drain_one(s, p, rp, 0);      /* the prologue of the running process */
		int rc = log_start(s, p, rp);
		/* the process is past its start: its log joins it here */
		struct myco__rb_value join = { 0 };
		if (rc == 0 &&
		    (rc = myco__rlog_append(rp->w, MYCO__REC_JOIN, 0, &join, sizeof join)) < 0)
			myco__rlog_close(rp->w, 0);
		if (rc < 0) {
			rp->w = NULL;
			return err_reply(myco_strerror(rc), rp->dir);
		}
		rp->on = true;
		myco__ring_enable(rp->rd, 1);
		myco__ex_event(s, p, "record", -1, -1, "recording on: log in %s", rp->dir);
	} else if (json_is_false(on) && rp->on) {
		myco__ring_enable(rp->rd, 0);
		drain_one(s, p, rp, 0);
		myco__rlog_close(rp->w, 0);
		rp->w = NULL;
		rp->on = false;
		myco__ex_event(s, p, "record", -1, -1, "recording off: log kept in %s", rp->dir);
	}
	return json_pack("{s:b,s:o}", "ok", 1, "record", myco__ex_record_json(s, p));
}
