/*
 * sendcmp.c: test replay-sendcmp.  How a replayed send that differs from
 * the recorded one is reported (docs/replay.md): a process records sends
 * of 20000 bytes through the real recorder (a record ring drained into a
 * real log, as the executive does), then replays of that log send payloads
 * that differ at byte 100, at byte 700, at byte 17000, in length, and not
 * at all.  The report must name the byte within the first 256, the
 * 256-byte block up to byte 16 639, say that only the hash covers beyond
 * it, and a faithful replay must end complete.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "myco/chan.h"
#include "myco_int.h"
#include "rlog.h"
#include "replay.h"

#define LEN 20000u

static char dir[128];
static int failures;

static int to_log(void *arg, uint16_t type, uint16_t chan, const uint8_t *b, uint32_t len)
{
	return myco__rlog_append(arg, type, chan, b, len);
}

static void payload(uint8_t *p)
{
	for (unsigned i = 0; i < LEN; i++)
		p[i] = (uint8_t)(i * 7 + 3);
}

/* Record: two sends of the payload on channel "out". */
static void record(void)
{
	myco_chan_config_t cfg;
	myco_chan_owner_t *o;
	int rfd, fds[MYCO_CHAN_MAX_FDS];
	struct myco__ring_rd *rd;
	struct myco__rlog_w *w;
	struct myco__rlog_cfg lc = { .dir = dir, .partition = "sendcmp" };

	myco_chan_config_init(&cfg, MYCO_CHAN_QUEUE);
	cfg.msg_size = LEN;
	cfg.depth = 4;
	if (myco_chan_create(&cfg, &o) < 0 || myco__ring_create(1u << 20, "sendcmp", &rfd) < 0 ||
	    myco__ring_open(rfd, &rd) < 0 || myco__rlog_open(&lc, &w) < 0) {
		fprintf(stderr, "sendcmp: setup failed\n");
		exit(1);
	}
	myco__ring_enable(rd, 1);
	pid_t pid = fork();
	if (pid == 0) {
		static uint8_t p[LEN];
		myco_chan_t *ch;
		int n = myco_chan_cap_fds(o, MYCO_CHAN_PRODUCER, 0, fds, MYCO_CHAN_MAX_FDS);
		if (myco__rec_attach(rfd) < 0 || n < 0 ||
		    myco_chan_attach(fds, (size_t)n, MYCO_CHAN_PRODUCER, 0, NULL, &ch) < 0)
			_exit(2);
		myco__rec_opened("out", 0, ch);
		payload(p);
		for (int i = 0; i < 2; i++)
			if (myco_chan_send(ch, p, LEN) < 0)
				_exit(3);
		_exit(0);
	}
	int st;
	waitpid(pid, &st, 0);
	if (!WIFEXITED(st) || WEXITSTATUS(st)) {
		fprintf(stderr, "sendcmp: the recording process failed (%d)\n", st);
		exit(1);
	}
	if (myco__ring_drain(rd, 1, to_log, w) < 0 || myco__rlog_flush(w) < 0) {
		fprintf(stderr, "sendcmp: drain failed\n");
		exit(1);
	}
	myco__rlog_close(w, 0);
	myco__ring_close(rd);
	close(rfd);
	myco_chan_owner_close(o);
}

/* Replay the log, sending a payload changed at byte AT (LEN2 bytes; AT
 * beyond it: unchanged); expect exit status EXIT and WANT in stderr. */
static void replay(unsigned at, size_t len2, int exit_want, const char *want)
{
	int pfd[2];
	if (pipe(pfd) < 0)
		exit(1);
	pid_t pid = fork();
	if (pid == 0) {
		static uint8_t p[LEN + 16];
		char err[256];
		myco_chan_t *ch;
		dup2(pfd[1], 2);
		if (myco__rec_replay_init(dir, err, sizeof err) < 0 ||
		    myco__rec_replay_open("out", &ch) < 0) {
			fprintf(stderr, "replay init: %s\n", err);
			_exit(2);
		}
		payload(p);
		myco_chan_send(ch, p, LEN);          /* the first: identical */
		if (at < len2)
			p[at] ^= 0x5a;
		myco_chan_send(ch, p, len2);
		myco_chan_send(ch, p, len2);         /* past the log's end */
		_exit(5);
	}
	close(pfd[1]);
	char out[8192];
	size_t n = 0;
	ssize_t r;
	while (n < sizeof out - 1 && (r = read(pfd[0], out + n, sizeof out - 1 - n)) > 0)
		n += (size_t)r;
	out[n] = 0;
	close(pfd[0]);
	int st;
	waitpid(pid, &st, 0);
	int code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
	if (code != exit_want || !strstr(out, want)) {
		fprintf(stderr, "FAIL: change at %u, length %zu: exit %d (want %d), want \"%s\" in:\n%s\n",
			at, len2, code, exit_want, want, out);
		failures++;
	} else {
		printf("ok: change at %u, length %zu: \"%s\"\n", at, len2, want);
		fflush(stdout);        /* a forked replay flushes what it inherits */
	}
}

int main(void)
{
	snprintf(dir, sizeof dir, "/tmp/myco-sendcmp-%d", (int)getpid());
	mkdir(dir, 0700);
	/* replay needs a START record: the recorder writes it at attach */
	record();
	replay(100, LEN, MYCO__REPLAY_DIVERGED, "first difference at byte 100");
	replay(700, LEN, MYCO__REPLAY_DIVERGED, "first difference in bytes 512 to 767 (the first 512 are equal)");
	replay(17000, LEN, MYCO__REPLAY_DIVERGED, "first difference after byte 16640");
	replay(LEN, LEN - 1, MYCO__REPLAY_DIVERGED, "the lengths differ");
	replay(LEN, LEN, 0, "2 sends compared, all identical");
	char cmd[200];
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "sendcmp: %s left behind\n", dir);
	return failures ? 1 : 0;
}
