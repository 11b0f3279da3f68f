/*
 * producer.c: demo partition that numbers messages 1, 2, 3 ... and sends
 * them on channel `numbers` (queue, overflow block) at DEMO_RATE messages
 * per second (default 2000), DEMO_COUNT of them (0 = forever), then idles.
 * It heartbeats after every message.  It keeps no state across a restart:
 * a restarted producer starts again at 1, which the sink reports as a
 * producer restart, not as loss.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "myco/chan.h"
#include "myco/part.h"
#include "demo_msg.h"

int main(void)
{
	myco_chan_t *out;
	int rc = myco_init();
	if (rc < 0) {
		fprintf(stderr, "producer: myco_init: %s %s\n", myco_strerror(rc), myco_part_errmsg());
		return 1;
	}
	rc = myco_chan_open("numbers", &out);
	if (rc < 0) {
		fprintf(stderr, "producer: %s\n", myco_part_errmsg());
		return 1;
	}
	myco_ready();
	uint64_t rate = demo_env_u64("DEMO_RATE", 2000), count = demo_env_u64("DEMO_COUNT", 0);
	uint64_t gap = rate ? 1000000000ull / rate : 0, next = myco_now();
	printf("producer: sending %s messages at %llu/s\n", count ? "numbered" : "endless numbered",
	       (unsigned long long)rate);
	fflush(stdout);
	for (uint64_t seq = 1;; seq++) {
		if (count && seq > count) {
			myco_heartbeat();
			demo_sleep_ns(50 * 1000000ull);
			continue;
		}
		struct demo_num m = { seq, seq };
		while ((rc = myco_chan_send_timeout(out, &m, sizeof(m), 100 * 1000000ll)) == -ETIMEDOUT)
			myco_heartbeat();       /* full: the consumer is slow or restarting */
		if (rc < 0) {
			fprintf(stderr, "producer: send: %s\n", myco_strerror(rc));
			return 1;
		}
		myco_heartbeat();
		if (seq % 10000 == 0) {
			printf("producer: sent %llu\n", (unsigned long long)seq);
			fflush(stdout);
		}
		if (gap) {
			next += gap;
			uint64_t now = myco_now();
			if (next > now)
				demo_sleep_ns(next - now);
			else if (now - next > 100 * gap)
				next = now;     /* fell far behind (budget): do not burst */
		}
	}
}
