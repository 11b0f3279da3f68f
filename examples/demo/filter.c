/*
 * filter.c: demo partition between producer and sink: receives `numbers`
 * in place, sends value = seq * 3 on `filtered`, and only then marks the
 * input done.  Killed at any point, its replacement gets every input it had
 * not marked done, so nothing is lost; a kill between its send and its done
 * makes the replacement forward that one message again (at-least-once),
 * which the sink drops by sequence number and counts as a redelivery.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "myco/chan.h"
#include "myco/part.h"
#include "demo_msg.h"

int main(void)
{
	myco_chan_t *in, *out;
	int rc = myco_init();
	if (rc < 0)
		return 1;
	if ((rc = myco_chan_open("numbers", &in)) < 0 ||
	    (rc = myco_chan_open("filtered", &out)) < 0) {
		fprintf(stderr, "filter: %s\n", myco_part_errmsg());
		return 1;
	}
	myco_ready();
	printf("filter: forwarding numbers -> filtered\n");
	fflush(stdout);
	uint64_t n = 0;
	for (;;) {
		myco_chan_msg_t msg;
		rc = myco_chan_recv(in, &msg, 100 * 1000000ll);
		if (rc == -ETIMEDOUT || rc == -EAGAIN) {
			myco_heartbeat();
			continue;
		}
		if (rc < 0) {
			fprintf(stderr, "filter: recv: %s\n", myco_strerror(rc));
			return 1;
		}
		struct demo_num m;
		if (msg.len != sizeof(m)) {
			fprintf(stderr, "filter: bad message length %zu\n", msg.len);
			myco_chan_done(in, &msg);
			continue;
		}
		memcpy(&m, msg.data, sizeof(m));
		m.value = m.seq * 3;
		while ((rc = myco_chan_send_timeout(out, &m, sizeof(m), 100 * 1000000ll)) == -ETIMEDOUT)
			myco_heartbeat();
		if (rc < 0) {
			fprintf(stderr, "filter: send: %s\n", myco_strerror(rc));
			return 1;
		}
		myco_chan_done(in, &msg);
		myco_heartbeat();
		if (++n % 10000 == 0) {
			printf("filter: forwarded %llu since start\n", (unsigned long long)n);
			fflush(stdout);
		}
	}
}
