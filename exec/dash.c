/*
 * dash.c: start and stop the dashboard process for `dashboard PORT;`.
 * The child is the same myco binary (/proc/self/exe) running `myco dash
 * --from-executive`, with the runtime dir, the system file and the
 * declared address; it dies with the executive (PR_SET_PDEATHSIG) and
 * costs the executive one `ps` and one `top` request per poll.
 * Not for: the server (cmd/myco/dash_cmds.c).
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "exec_int.h"
#include "dash.h"

static pid_t dash_pid;

void myco__ex_dash_start(struct ex_system *s)
{
	const myco_system_t *m = s->model;
	char file[PATH_MAX], port[8], acts[40] = "";
	if (!m || !m->dashboard_port)
		return;
	if (!realpath(s->opt.file, file))
		snprintf(file, sizeof(file), "%s", s->opt.file);
	snprintf(port, sizeof(port), "%u", m->dashboard_port);
	static const char *const an[] = { "kill", "restart", "stop", "chaos" };
	for (unsigned i = 0; i < 4; i++)
		if (m->dashboard_actions & (1u << i))
			snprintf(acts + strlen(acts), sizeof(acts) - strlen(acts), "%s%s",
				 acts[0] ? "," : "", an[i]);
	pid_t ppid = getpid();
	pid_t pid = fork();
	if (pid < 0) {
		myco__ex_event(s, NULL, "error", -1, -1, "dashboard: fork: %s", strerror(errno));
		return;
	}
	if (pid == 0) {
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);    /* the executive blocks them for signalfd */
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		if (getppid() != ppid)
			_exit(0);
		const char *argv[16] = { "myco", "dash", "--from-executive", "--quiet",
			"--runtime-dir", s->dir, "--file", file,
			"--addr", m->dashboard_addr ? m->dashboard_addr : "127.0.0.1",
			"--port", port };
		if (acts[0]) {
			argv[12] = "--actions";
			argv[13] = acts;
		}
		execv("/proc/self/exe", (char *const *)argv);
		_exit(127);
	}
	dash_pid = pid;
	myco__ex_event(s, NULL, "dashboard", -1, -1, "serving on http://%s%s%s:%u/ (pid %d)%s",
		       m->dashboard_addr && strchr(m->dashboard_addr, ':') ? "[" : "",
		       m->dashboard_addr ? m->dashboard_addr : "127.0.0.1",
		       m->dashboard_addr && strchr(m->dashboard_addr, ':') ? "]" : "",
		       m->dashboard_port, (int)pid,
		       acts[0] ? "; actions behind a token: myco dash --url" : "");
}

void myco__ex_dash_stop(struct ex_system *s)
{
	(void)s;
	if (dash_pid <= 0)
		return;
	kill(dash_pid, SIGTERM);
	for (int i = 0; i < 100; i++) {
		if (waitpid(dash_pid, NULL, WNOHANG) == dash_pid) {
			dash_pid = 0;
			return;
		}
		nanosleep(&(struct timespec){ .tv_nsec = 10000000 }, NULL);
	}
	kill(dash_pid, SIGKILL);
	waitpid(dash_pid, NULL, 0);
	dash_pid = 0;
}
