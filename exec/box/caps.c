/*
 * exec/box/caps.c: privilege mechanisms applied in the spawned child just
 * before the seccomp filter: rlimits, no_new_privs, dropping the capability
 * bounding set and the ambient set, and the optional uid/gid switch.  Runs
 * between clone and exec: raw syscalls only, no allocation, no stdio.
 * Not for: seccomp (seccomp.c builds it, spawn.c loads it).
 */
#include <errno.h>
#include <grp.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "box_int.h"

#ifndef PR_CAP_AMBIENT
#define PR_CAP_AMBIENT 47
#define PR_CAP_AMBIENT_CLEAR_ALL 4
#endif

void myco__child_rlimits(const struct myco__plan *p)
{
	const myco__box_spec_t *s = p->spec;
	char detail[MYCO__BOX_DETAIL_MAX] = "";

	if (!(p->want & MYCO__BOX_WANT(MYCO__BOX_RLIMITS)) || !s->nrlimits)
		return;
	for (size_t i = 0; i < s->nrlimits; i++) {
		struct rlimit rl = {
			.rlim_cur = (rlim_t)s->rlimits[i].soft,
			.rlim_max = (rlim_t)s->rlimits[i].hard,
		};

		if (syscall(SYS_prlimit64, 0, s->rlimits[i].resource, &rl,
			    NULL) < 0) {
			int err = -errno;

			myco__s_cpy(detail, sizeof(detail), "resource ");
			myco__s_catu(detail, sizeof(detail),
				     (uint64_t)s->rlimits[i].resource);
			myco__s_cat(detail, sizeof(detail), ": ");
			myco__s_cat(detail, sizeof(detail), myco__errname(err));
			myco__s_cat(detail, sizeof(detail),
				    err == -EPERM ? " (raising a hard limit needs root)"
						  : "");
			myco__child_item(p, MYCO__BOX_RLIMITS, MYCO__BOX_DEGRADED,
					 err, detail);
			return;
		}
	}
	myco__s_catu(detail, sizeof(detail), (uint64_t)s->nrlimits);
	myco__s_cat(detail, sizeof(detail), " limits set");
	myco__child_item(p, MYCO__BOX_RLIMITS, MYCO__BOX_APPLIED, 0, detail);
}

int myco__child_privs(const struct myco__plan *p)
{
	const myco__box_spec_t *s = p->spec;
	char detail[MYCO__BOX_DETAIL_MAX];
	int err;

	if (p->want & MYCO__BOX_WANT(MYCO__BOX_NO_NEW_PRIVS)) {
		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0)
			myco__child_item(p, MYCO__BOX_NO_NEW_PRIVS,
					 MYCO__BOX_APPLIED, 0, "");
		else
			myco__child_item(p, MYCO__BOX_NO_NEW_PRIVS,
					 MYCO__BOX_DEGRADED, -errno,
					 myco__errname(-errno));
	}

	if (p->want & MYCO__BOX_WANT(MYCO__BOX_CAPS)) {
		int dropped = 0;

		err = 0;
		for (int c = 0; c <= p->last_cap; c++) {
			if (prctl(PR_CAPBSET_DROP, c, 0, 0, 0) == 0) {
				dropped++;
			} else if (errno != EINVAL) {
				err = -errno;
				break;
			}
		}
		prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
		if (err) {
			myco__s_cpy(detail, sizeof(detail), myco__errname(err));
			myco__s_cat(detail, sizeof(detail),
				    " (not root; no_new_privs still stops gaining capabilities)");
			myco__child_item(p, MYCO__BOX_CAPS, MYCO__BOX_DEGRADED,
					 err, detail);
		} else {
			myco__s_cpy(detail, sizeof(detail), "empty (");
			myco__s_catu(detail, sizeof(detail), (uint64_t)dropped);
			myco__s_cat(detail, sizeof(detail), " dropped)");
			if (p->userns)
				myco__s_cat(detail, sizeof(detail),
					    ", in user namespace");
			myco__child_item(p, MYCO__BOX_CAPS, MYCO__BOX_APPLIED, 0,
					 detail);
		}
	}

	/* Run-as: failure is fatal, never a silently different identity. */
	if (s->gid != (gid_t)-1) {
		if (syscall(SYS_setgroups, 0, NULL) < 0 ||
		    syscall(SYS_setresgid, s->gid, s->gid, s->gid) < 0)
			return -errno;
	}
	if (s->uid != (uid_t)-1) {
		if (syscall(SYS_setresuid, s->uid, s->uid, s->uid) < 0)
			return -errno;
	}
	return 0;
}
