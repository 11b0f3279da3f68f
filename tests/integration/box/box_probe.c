/*
 * tests/integration/box/box_probe.c: the program the box tests run inside a
 * box.  Each mode does one thing and prints what it saw on stdout as
 * key=value lines, so the test can check the box from the inside:
 *   info            pid, hostname, Seccomp/NoNewPrivs/Cap* from /proc/self/status
 *   wait            block until stdin reaches EOF, then exit 0
 *   socket          try socket(AF_INET) and print the result
 *   fork            try fork() and print the result
 *   alloc MIB       allocate and touch MIB MiB, print "alloc=done"
 *   spin            burn CPU until killed
 *   fds             list the open fds
 *   view RWDIR      probe the mount view (hidden, read-only, writable paths)
 *   threads         start a thread, print its scheduling policy
 *   raise SIG       kill itself with signal SIG
 *   affinity        try to widen its CPU affinity to all CPUs, print it
 *   uring           try io_uring_setup
 * Not for: anything but the box tests (built without sanitizers: it runs
 * under seccomp and memory limits).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

static void status_lines(void)
{
	char line[256];
	FILE *f = fopen("/proc/self/status", "r");

	if (!f) {
		printf("status=%d\n", errno);
		return;
	}
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, "Seccomp:", 8) ||
		    !strncmp(line, "NoNewPrivs:", 11) ||
		    !strncmp(line, "CapBnd:", 7) || !strncmp(line, "CapEff:", 7) ||
		    !strncmp(line, "Cpus_allowed_list:", 18)) {
			char *c = strchr(line, ':');

			*c = '=';
			for (char *s = c + 1; *s == ' ' || *s == '\t'; )
				memmove(s, s + 1, strlen(s));
			fputs(line, stdout);
		}
	}
	fclose(f);
}

static void *thread_fn(void *arg)
{
	(void)arg;
	printf("thread_policy=%d\n", sched_getscheduler(0));
	return NULL;
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "info";

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (!strcmp(mode, "info")) {
		struct utsname u;
		char cwd[256] = "";

		uname(&u);
		printf("pid=%d\nhost=%s\n", (int)getpid(), u.nodename);
		printf("uid=%d gid=%d\n", (int)getuid(), (int)getgid());
		printf("policy=%d\n", sched_getscheduler(0));
		printf("cwd=%s\n", getcwd(cwd, sizeof(cwd)) ? cwd : "?");
		{
			struct rlimit rl;

			getrlimit(RLIMIT_NOFILE, &rl);
			printf("nofile=%llu/%llu\n", (unsigned long long)rl.rlim_cur,
			       (unsigned long long)rl.rlim_max);
		}
		status_lines();
		return 0;
	}
	if (!strcmp(mode, "wait")) {
		char buf[64];

		printf("waiting\n");
		while (read(0, buf, sizeof(buf)) > 0)
			;
		return 0;
	}
	if (!strcmp(mode, "socket")) {
		int s = socket(AF_INET, SOCK_STREAM, 0);

		printf("socket=%d errno=%d\n", s, s < 0 ? errno : 0);
		return 0;
	}
	if (!strcmp(mode, "fork")) {
		pid_t p = fork();

		if (p == 0)
			_exit(0);
		printf("fork=%d errno=%d\n", (int)p, p < 0 ? errno : 0);
		if (p > 0)
			waitpid(p, NULL, 0);
		return 0;
	}
	if (!strcmp(mode, "alloc") && argc > 2) {
		long mib = atol(argv[2]);

		static char *volatile keep;   /* escapes: not optimised away */

		for (long i = 0; i < mib; i++) {
			volatile char *m = malloc(1 << 20);

			if (!m) {
				printf("alloc=enomem at %ld\n", i);
				return 3;
			}
			for (long off = 0; off < (1 << 20); off += 4096)
				m[off] = (char)i;
			keep = (char *)m;
		}
		(void)keep;
		printf("alloc=done\n");
		return 0;
	}
	if (!strcmp(mode, "spin")) {
		volatile unsigned long x = 0;

		printf("spinning\n");
		for (;;)
			x++;
	}
	if (!strcmp(mode, "fds")) {
		DIR *d = opendir("/proc/self/fd");
		struct dirent *e;
		int self = d ? dirfd(d) : -1;

		printf("fds=");
		while (d && (e = readdir(d)))
			if (e->d_name[0] != '.' && atoi(e->d_name) != self)
				printf("%s,", e->d_name);
		printf("\n");
		if (d)
			closedir(d);
		return 0;
	}
	if (!strcmp(mode, "view") && argc > 2) {
		char path[512];
		int fd;

		printf("work=%d\n", access("/work", F_OK) == 0 ? 0 : errno);
		printf("root_home=%d\n", access("/root", F_OK) == 0 ? 0 : errno);
		printf("usr=%d\n", access("/usr/bin", F_OK) == 0 ? 0 : errno);
		fd = open("/etc/myco-box-probe", O_CREAT | O_WRONLY, 0644);
		printf("etc_write=%d\n", fd >= 0 ? 0 : errno);
		snprintf(path, sizeof(path), "%s/probe-file", argv[2]);
		fd = open(path, O_CREAT | O_WRONLY, 0644);
		printf("rw_write=%d\n", fd >= 0 ? 0 : errno);
		if (fd >= 0)
			close(fd);
		fd = open("/tmp/x", O_CREAT | O_WRONLY, 0644);
		printf("tmp_write=%d\n", fd >= 0 ? 0 : errno);
		/* opened for writing only, never written */
		fd = open("/proc/sys/kernel/core_pattern", O_WRONLY);
		printf("sysctl_write=%d\n", fd >= 0 ? 0 : errno);
		if (fd >= 0)
			close(fd);
		fd = open("/proc/sysrq-trigger", O_WRONLY);
		printf("sysrq_write=%d\n", fd >= 0 ? 0 : errno);
		if (fd >= 0)
			close(fd);
		fd = open("/etc/shadow", O_RDONLY);
		printf("shadow=%d\n", fd >= 0 ? 0 : errno);
		if (fd >= 0)
			close(fd);
		printf("passwd=%d\n", access("/etc/passwd", R_OK) == 0 ? 0 : errno);
		{
			DIR *d = opendir("/dev");
			struct dirent *e;
			int n = 0;

			while (d && (e = readdir(d)))
				n += e->d_name[0] != '.';
			if (d)
				closedir(d);
			printf("dev_entries=%d\n", n);
		}
		printf("run=%d\n", access("/run/systemd", F_OK) == 0 ? 0 : errno);
		return 0;
	}
	if (!strcmp(mode, "threads")) {
		pthread_t t;
		int rc = pthread_create(&t, NULL, thread_fn, NULL);

		printf("main_policy=%d create=%d\n", sched_getscheduler(0), rc);
		if (!rc)
			pthread_join(t, NULL);
		return 0;
	}
	if (!strcmp(mode, "affinity")) {
		cpu_set_t set;
		int rc;

		CPU_ZERO(&set);
		for (int i = 0; i < CPU_SETSIZE; i++)
			CPU_SET(i, &set);
		rc = sched_setaffinity(0, sizeof(set), &set);
		printf("setaffinity=%d errno=%d\n", rc, rc < 0 ? errno : 0);
		status_lines();
		return 0;
	}
	if (!strcmp(mode, "uring")) {
		struct { unsigned v[30]; } params;
		long fd;

		memset(&params, 0, sizeof(params));
		fd = syscall(SYS_io_uring_setup, 4, &params);
		printf("uring=%ld errno=%d\n", fd < 0 ? -1L : 0L, fd < 0 ? errno : 0);
		return 0;
	}
	if (!strcmp(mode, "raise") && argc > 2) {
		kill(getpid(), atoi(argv[2]));
		raise(atoi(argv[2]));
		return 99;
	}
	fprintf(stderr, "box_probe: unknown mode %s\n", mode);
	return 2;
}
