/*
 * sink.c: demo partition at the end of the pipeline: checks that the
 * numbered stream arrives complete and in order.  Per message: seq equal
 * to the last + 1 is accepted; seq <= last is a redelivery (the filter died
 * between its send and its done) and is dropped; seq == 1 after more is a
 * producer restart; the first message a restarted sink sees sets its
 * position (the channel resumes it where the dead one stopped); anything
 * else is a gap (loss) and is reported loudly.
 * Prints a status line every second.  With DEMO_COUNT=N it prints
 * "sink: RESULT received N gaps G redelivered R order_errors O" once
 * message N arrived (and writes the same to DEMO_RESULT=path if set and
 * writable in its view).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "myco/chan.h"
#include "myco/part.h"
#include "demo_msg.h"

int main(void)
{
	myco_chan_t *in;
	int rc = myco_init();
	if (rc < 0)
		return 1;
	if ((rc = myco_chan_open("filtered", &in)) < 0) {
		fprintf(stderr, "sink: %s\n", myco_part_errmsg());
		return 1;
	}
	myco_ready();
	uint64_t count = demo_env_u64("DEMO_COUNT", 0);
	const char *result = getenv("DEMO_RESULT");
	uint64_t last = 0, received = 0, gaps = 0, redelivered = 0, bad = 0, restarts = 0;
	uint64_t t_print = myco_now() + 1000000000ull;
	bool written = false;
	printf("sink: checking the numbered stream for gaps and duplicates\n");
	fflush(stdout);
	for (;;) {
		myco_chan_msg_t msg;
		rc = myco_chan_recv(in, &msg, 100 * 1000000ll);
		if (rc < 0 && rc != -ETIMEDOUT && rc != -EAGAIN) {
			fprintf(stderr, "sink: recv: %s\n", myco_strerror(rc));
			return 1;
		}
		if (rc == 0) {
			struct demo_num m;
			if (msg.len == sizeof(m)) {
				memcpy(&m, msg.data, sizeof(m));
				if (m.value != m.seq * 3) {
					bad++;
				} else if (last == 0 && m.seq != 1) {
					/* this sink was restarted: the channel kept its
					 * place (the first message the dead sink had not
					 * finished), so re-learn the position, not a gap */
					printf("sink: resuming at seq %llu\n",
					       (unsigned long long)m.seq);
					fflush(stdout);
					last = m.seq;
					received++;
				} else if (m.seq == last + 1) {
					last = m.seq;
					received++;
				} else if (m.seq <= last && m.seq != 1) {
					redelivered++;
				} else if (m.seq == 1) {
					restarts++;
					last = 1;
					received++;
				} else {
					fprintf(stderr, "sink: GAP: expected %llu, got %llu\n",
						(unsigned long long)last + 1, (unsigned long long)m.seq);
					gaps += m.seq - last - 1;
					last = m.seq;
					received++;
				}
			} else {
				bad++;
			}
			myco_chan_done(in, &msg);
		}
		myco_heartbeat();
		if (count && !written && last >= count) {
			char line[200];
			snprintf(line, sizeof(line),
				 "received %llu gaps %llu redelivered %llu order_errors %llu\n",
				 (unsigned long long)received, (unsigned long long)gaps,
				 (unsigned long long)redelivered, (unsigned long long)bad);
			printf("sink: RESULT %s", line);
			fflush(stdout);
			FILE *f = result ? fopen(result, "w") : NULL;
			if (f) {
				fputs(line, f);
				fclose(f);
			}
			written = true;
		}
		uint64_t now = myco_now();
		if (now >= t_print) {
			t_print = now + 1000000000ull;
			printf("sink: received %llu, last seq %llu, gaps %llu, redelivered %llu, "
			       "bad %llu, producer restarts %llu\n",
			       (unsigned long long)received, (unsigned long long)last,
			       (unsigned long long)gaps, (unsigned long long)redelivered,
			       (unsigned long long)bad, (unsigned long long)restarts);
			fflush(stdout);
		}
	}
}
