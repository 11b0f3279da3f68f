/*
 * victim.c: the partition program restarted by myco-bench-restart, both by
 * the executive and by the bench's plain fork+exec supervisor: myco_init()
 * (parks when it is a standby), myco_ready(), then myco_heartbeat() every
 * millisecond.  Its first heartbeat after activation is the "first call"
 * the bench measures.
 */
#include <time.h>

#include "myco/part.h"

int main(void)
{
	struct timespec ms = { 0, 1000000 };
	if (myco_init() < 0)
		return 1;
	myco_ready();
	for (;;) {
		myco_heartbeat();
		nanosleep(&ms, NULL);
	}
}
