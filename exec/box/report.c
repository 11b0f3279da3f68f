/*
 * exec/box/report.c: the isolation report: mechanism and state names, the
 * text and JSON forms `myco ps` shows, the warning line per degraded
 * mechanism, the spec defaults, and the small allocation-free string helpers
 * the spawned child uses.
 * Not for: applying anything (spawn.c and the backends do that).
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "box_int.h"

static const char *const mech_names[MYCO__BOX_MECH_COUNT] = {
	[MYCO__BOX_PIDNS]        = "pid-ns",
	[MYCO__BOX_MOUNTNS]      = "mount-ns",
	[MYCO__BOX_IPCNS]        = "ipc-ns",
	[MYCO__BOX_UTSNS]        = "uts-ns",
	[MYCO__BOX_NETNS]        = "net-ns",
	[MYCO__BOX_NO_NEW_PRIVS] = "no-new-privs",
	[MYCO__BOX_CAPS]         = "cap-bounding-set",
	[MYCO__BOX_SECCOMP]      = "seccomp",
	[MYCO__BOX_CG_MEMORY]    = "cgroup-memory",
	[MYCO__BOX_CG_CPU]       = "cgroup-cpu",
	[MYCO__BOX_CPU_PIN]      = "cpu-pinning",
	[MYCO__BOX_DEADLINE]     = "sched-deadline",
	[MYCO__BOX_RLIMITS]      = "rlimits",
	[MYCO__BOX_FRAME]        = "frame-windows",
	[MYCO__BOX_MOUNT_VIEW]   = "mount-view",
	[MYCO__BOX_CG_PIDS]      = "cgroup-pids",
	[MYCO__BOX_USERNS]       = "user-ns",
};

const char *myco__box_mech_name(enum myco__box_mech m)
{
	if ((unsigned)m >= MYCO__BOX_MECH_COUNT)
		return "unknown";
	return mech_names[m];
}

const char *myco__box_state_name(enum myco__box_state s)
{
	switch (s) {
	case MYCO__BOX_NOT_REQUESTED: return "not-requested";
	case MYCO__BOX_APPLIED:       return "applied";
	case MYCO__BOX_DEGRADED:      return "degraded";
	}
	return "unknown";
}

void myco__box_spec_init(myco__box_spec_t *spec)
{
	memset(spec, 0, sizeof(*spec));
	spec->want = MYCO__BOX_WANT_ALL;
	spec->view = MYCO__BOX_VIEW_MINIMAL;
	spec->seccomp_action = MYCO__BOX_SECCOMP_NOTIFY;
	spec->uid = (uid_t)-1;
	spec->gid = (gid_t)-1;
}

void myco__box_item_set(myco__box_report_t *r, enum myco__box_mech m,
			enum myco__box_state st, int err, const char *fmt, ...)
{
	struct myco__box_item *it;
	va_list ap;

	if ((unsigned)m >= MYCO__BOX_MECH_COUNT)
		return;
	it = &r->m[m];
	it->state = (uint8_t)st;
	it->err = err;
	it->detail[0] = '\0';
	if (fmt) {
		va_start(ap, fmt);
		vsnprintf(it->detail, sizeof(it->detail), fmt, ap);
		va_end(ap);
	}
}

int myco__box_report_degraded(const myco__box_report_t *r)
{
	int n = 0;

	for (int i = 0; i < MYCO__BOX_MECH_COUNT; i++)
		n += r->m[i].state == MYCO__BOX_DEGRADED;
	return n;
}

/* snprintf into buf at *len, keeping the total needed length. */
static void append(char *buf, size_t cap, size_t *len, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void append(char *buf, size_t cap, size_t *len, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(*len < cap ? buf + *len : NULL,
		      *len < cap ? cap - *len : 0, fmt, ap);
	va_end(ap);
	if (n > 0)
		*len += (size_t)n;
}

int myco__box_report_format(const myco__box_report_t *r, char *buf,
			    size_t cap)
{
	size_t len = 0;

	if (cap)
		buf[0] = '\0';
	for (int i = 0; i < MYCO__BOX_MECH_COUNT; i++) {
		const struct myco__box_item *it = &r->m[i];

		append(buf, cap, &len, "%-17s %-13s %s\n",
		       myco__box_mech_name((enum myco__box_mech)i),
		       myco__box_state_name((enum myco__box_state)it->state),
		       it->detail);
	}
	return (int)len;
}

/* JSON string body of s (quotes and control characters escaped). */
static void append_json_str(char *buf, size_t cap, size_t *len, const char *s)
{
	append(buf, cap, len, "\"");
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			append(buf, cap, len, "\\%c", c);
		else if (c < 0x20)
			append(buf, cap, len, "\\u%04x", c);
		else
			append(buf, cap, len, "%c", c);
	}
	append(buf, cap, len, "\"");
}

int myco__box_report_json(const myco__box_report_t *r, char *buf, size_t cap)
{
	size_t len = 0;

	if (cap)
		buf[0] = '\0';
	append(buf, cap, &len, "{");
	for (int i = 0; i < MYCO__BOX_MECH_COUNT; i++) {
		const struct myco__box_item *it = &r->m[i];

		append(buf, cap, &len, "%s\"%s\":{\"state\":\"%s\",\"detail\":",
		       i ? "," : "", myco__box_mech_name((enum myco__box_mech)i),
		       myco__box_state_name((enum myco__box_state)it->state));
		append_json_str(buf, cap, &len, it->detail);
		append(buf, cap, &len, "}");
	}
	append(buf, cap, &len, "}");
	return (int)len;
}

void myco__box_report_log(const myco__box_spec_t *spec,
			  const myco__box_report_t *r)
{
	char line[256];

	for (int i = 0; i < MYCO__BOX_MECH_COUNT; i++) {
		const struct myco__box_item *it = &r->m[i];

		if (it->state != MYCO__BOX_DEGRADED)
			continue;
		if (spec->log) {
			snprintf(line, sizeof(line), "%s/%s: %s degraded: %s",
				 spec->system, spec->partition,
				 myco__box_mech_name((enum myco__box_mech)i),
				 it->detail);
			spec->log(spec->log_arg, line);
		} else {
			fprintf(stderr, "myco: box: %s/%s: warning: %s degraded: %s\n",
				spec->system, spec->partition,
				myco__box_mech_name((enum myco__box_mech)i),
				it->detail);
		}
	}
}

/* ------------------------------------------ allocation-free string helpers */

size_t myco__s_cpy(char *dst, size_t cap, const char *src)
{
	size_t i = 0;

	if (!cap)
		return 0;
	for (; src[i] && i + 1 < cap; i++)
		dst[i] = src[i];
	dst[i] = '\0';
	return i;
}

size_t myco__s_cat(char *dst, size_t cap, const char *src)
{
	size_t n = 0;

	while (n < cap && dst[n])
		n++;
	if (n >= cap)
		return n;
	return n + myco__s_cpy(dst + n, cap - n, src);
}

size_t myco__s_catu(char *dst, size_t cap, uint64_t v)
{
	char tmp[24];
	int i = (int)sizeof(tmp) - 1;

	tmp[i] = '\0';
	do {
		tmp[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v && i > 0);
	return myco__s_cat(dst, cap, tmp + i);
}
