/*
 * chan_spsc.pml: Promela model of one channel lane (lib/chan/queue.c and the
 * sleep/wake code in region.c), checked with spin:
 *   - the ring: producer writes the slot, then publishes tail; consumer reads
 *     the slot at head, then commits head (done);
 *   - waiting: spin count 0 (every wait goes to sleep), the sleep flag +
 *     futex word handshake on both sides (consumer waits for data, producer
 *     for space under the BLOCK policy);
 *   - a consumer that may die at any step (between recv and done included),
 *     owner recovery (clear its sleep flag, wake the producer), and a
 *     replacement consumer that starts at the committed head.
 * Checked: FIFO, no loss, no duplicate past the commit point (assertions),
 * and no lost wake-up (a sleeper never waits forever while its condition
 * holds: spin reports that as an invalid end state).
 * Not checked: weak memory ordering (Promela is sequentially consistent; the
 * C code gets the same order from release/acquire pairs plus a seq_cst fence
 * between "publish index" and "read peer's sleep flag"), corruption handling
 * (the fuzz harness covers that).
 * Run: lib/chan/verify/run.sh (also the meson test chan_spin).
 */
#define DEPTH 2
#define N 5

byte ring[DEPTH];
byte tail = 0;           /* producer writes */
byte head = 0;           /* consumer writes (done) */
bit c_sleep = 0;         /* consumer says it sleeps */
bit p_sleep = 0;         /* producer says it sleeps */
byte c_futex = 0;        /* woken side waits for a change */
byte p_futex = 0;
bit c1_dead = 0;         /* consumer 1 died (or finished) */
byte received2 = 0;      /* messages the replacement got */

/* FUTEX_WAIT(word, v): returns when word != v (wakers always increment
 * the word before FUTEX_WAKE, and a changed word returns EAGAIN at once);
 * spurious returns are harmless because every caller re-checks. */

proctype producer()
{
	byte i = 0, v;
	do
	:: i < N ->
		if
		:: tail - head < DEPTH -> skip
		:: else ->
			do
			:: p_sleep = 1;                 /* fetch_or, seq_cst */
			   v = p_futex;
			   if
			   :: tail - head < DEPTH -> p_sleep = 0; break
			   :: else ->
			      (p_futex != v);           /* futex_wait */
			      p_sleep = 0;
			      if
			      :: tail - head < DEPTH -> break
			      :: else -> skip
			      fi
			   fi
			od
		fi;
		ring[tail % DEPTH] = i;                 /* slot_write */
		tail = tail + 1;                        /* publish: store release */
		if                                      /* fence; load c_sleep */
		:: c_sleep -> c_futex = c_futex + 1     /* fetch_add + FUTEX_WAKE */
		:: else -> skip
		fi;
		i++
	:: else -> break
	od
}

inline consume(expect, mayDie)
{
	do
	:: expect < N ->
		if
		:: head < tail -> skip
		:: else ->
			do
			:: c_sleep = 1;
			   v = c_futex;
			   if
			   :: head < tail -> c_sleep = 0; break
			   :: else ->
			      (c_futex != v);
			      c_sleep = 0;
			      if
			      :: head < tail -> break
			      :: else -> skip
			      fi
			   fi
			od
		fi;
		/* recv: in place; the message at head is the next one in order */
		assert(ring[head % DEPTH] == head);
		assert(head == expect);
		if
		:: mayDie -> goto died                  /* killed after recv, before done */
		:: true -> skip
		fi;
		expect++;
		head = head + 1;                        /* done: store release */
		if                                      /* fence; load p_sleep */
		:: p_sleep -> p_futex = p_futex + 1
		:: else -> skip
		fi;
		if
		:: mayDie -> goto died                  /* killed after done */
		:: true -> skip
		fi
	:: else -> break
	od
}

proctype consumer1()
{
	byte expect = 0, v;
	consume(expect, true);
died:
	/* owner recovery (myco_chan_recover): clear the dead one's sleep
	 * flag, wake the producer so it re-checks */
	atomic {
		c_sleep = 0;
		p_futex = p_futex + 1;
		c1_dead = 1
	}
}

proctype consumer2()
{
	byte expect, v;
	c1_dead == 1;
	expect = head;                                /* attach: rpos = head */
	consume(expect, false);
died:
	received2 = expect;
	assert(received2 == N)                      /* nothing lost */
}

init
{
	atomic {
		run producer();
		run consumer1();
		run consumer2()
	}
}
