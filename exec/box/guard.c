/*
 * guard.c: the guard, a small process that outlives the executive so that
 * nothing of a system outlives it.  A partition frozen outside its frame
 * window (cgroup v1 freezer) cannot act on a signal, PR_SET_PDEATHSIG
 * included, so when the executive is killed (kill -9) its frozen partitions
 * and standbys would stay frozen forever with ppid 1.  The guard is forked
 * by the executive at start and watches it (a pidfd, plus a pipe for the
 * "dismissed" byte); the executive's end without that byte means it died: it thaws and kills every
 * process of the system's cgroups and removes them (the stale cleanup), then
 * exits.  At a normal shutdown the executive dismisses it.
 * Not for: the executive's own cleanup (cgroup.c), supervision.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "box.h"
#include "myco_int.h"

#define GUARD_DISMISS 'D'

int myco__box_guard_start(const char *system, int *ctl)
{
	pid_t parent = getpid(), pid;
	int p[2];

	*ctl = -1;
	if (pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	pid = fork();
	if (pid < 0) {
		int e = errno;
		close(p[0]);
		close(p[1]);
		return -e;
	}
	if (pid == 0) {
		struct sigaction sa;
		char c;
		ssize_t r;
		int pfd;

		/* Only the pipe: holding the executive's sockets or memfds
		 * open would keep them alive after it. */
		for (int fd = 0; fd < 65536; fd++)
			if (fd != p[0] && fd > 2)
				close(fd);
		/* Out of the terminal's process group: a ^C is for the
		 * executive, which then shuts down and dismisses us. */
		setsid();
		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = SIG_IGN;
		sigaction(SIGINT, &sa, NULL);
		sigaction(SIGTERM, &sa, NULL);
		sigaction(SIGHUP, &sa, NULL);
		sigaction(SIGPIPE, &sa, NULL);
		prctl(PR_SET_NAME, "myco-guard", 0, 0, 0);
		/* Watch the executive itself (a pidfd becomes readable when it
		 * exits), not only the pipe: a child it spawned that is frozen
		 * before its exec still holds the pipe's write end. */
		pfd = (int)syscall(SYS_pidfd_open, parent, 0);
		if (getppid() == parent) {
			struct pollfd pf[2] = {
				{ .fd = p[0], .events = POLLIN },
				{ .fd = pfd, .events = POLLIN },
			};

			for (;;) {
				int n = poll(pf, pfd >= 0 ? 2 : 1, -1);

				if (n < 0 && errno == EINTR)
					continue;
				if (n < 0 || pf[1].revents)
					break;          /* the executive is gone */
				if (pf[0].revents) {
					do
						r = read(p[0], &c, 1);
					while (r < 0 && errno == EINTR);
					if (r == 1 && c == GUARD_DISMISS)
						_exit(0);
					break;          /* EOF: it is gone */
				}
			}
		}
		/* the executive is gone without dismissing us */
		myco__box_cleanup_stale(system);
		_exit(0);
	}
	close(p[0]);
	*ctl = p[1];
	return (int)pid;
}

void myco__box_guard_dismiss(int ctl)
{
	char c = GUARD_DISMISS;

	if (ctl < 0)
		return;
	myco__write_full(ctl, &c, 1);
	close(ctl);
}
