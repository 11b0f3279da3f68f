/*
 * store.c: the notes example's store partition.  It serves the `store` call
 * channel (examples/api/notes.myco): each request, read in place from the
 * channel's shared memory, is copied out and validated (the generated
 * StoreReq_validate: known op, NUL-terminated strings, bools 0/1), applied to
 * the notes in memory (notes_store.c) and answered with a reply carrying only
 * the notes it returns.  A request that does not validate is answered 400.
 * Runs only inside a system (myco run build/examples/api/notes.myco).
 * Not for: HTTP (the web partition, notes.c).
 */
#include "myco/chan.h"
#include "myco/part.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "notes_store.h"

int main(void)
{
	static StoreRep rep;
	myco_chan_t *ch;
	int rc;

	if (myco_in_system() != 1) {
		fprintf(stderr, "notes-store: runs as the store partition of notes.myco "
				"(myco run build/examples/api/notes.myco)\n");
		return 2;
	}
	rc = myco_chan_open("store", &ch);
	if (rc < 0) {
		fprintf(stderr, "notes-store: %s\n", myco_part_errmsg());
		return 1;
	}
	myco_ready();
	for (;;) {
		myco_chan_msg_t m;
		StoreReq q;
		size_t len;

		rc = myco_chan_recv(ch, &m, -1);
		if (rc == -EINTR || rc == -ETIMEDOUT || rc == -EAGAIN)
			continue;
		if (rc < 0) {
			fprintf(stderr, "notes-store: recv: %s\n", myco_strerror(rc));
			return 1;
		}
		/* the bytes are the client's: copy, then validate the copy */
		memset(&q, 0, sizeof(q));
		memcpy(&q, m.data, m.len < sizeof(q) ? m.len : sizeof(q));
		if (m.len != sizeof(q) || !StoreReq_validate(&q)) {
			memset(&rep, 0, offsetof(StoreRep, notes));
			rep.status = 400;
			len = offsetof(StoreRep, notes);
		} else {
			notes_store_apply(&q, &rep, &len);
		}
		rc = myco_chan_reply(ch, &m, &rep, len);
		if (rc < 0 && rc != -EAGAIN)
			fprintf(stderr, "notes-store: reply: %s\n", myco_strerror(rc));
		myco_chan_done(ch, &m);
	}
}
