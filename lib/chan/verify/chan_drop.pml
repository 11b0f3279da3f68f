/*
 * chan_drop.pml: Promela model of a DROP_OLDEST lane (lib/chan/queue.c:
 * claim() with the head CAS, slot_write()'s seqlock, take(), commit()).
 * The producer never waits: when the ring is full it moves head forward by
 * CAS (dropping the oldest message), marks the slot busy (seq = 0), writes
 * the payload in two halves (so a torn read is visible), then seq = pos + 1
 * and tail.  The consumer reads in place and re-checks seq when it commits.
 * Checked: every message the consumer accepts (seq unchanged at done) is
 * whole and in increasing order (FIFO, no duplicate); a mismatching seq is
 * never reported as corruption when head explains it; the newest message is
 * always delivered; indices stay within head <= tail <= head + DEPTH.
 * Sequentially consistent model: see chan_spsc.pml for what that means.
 */
#define DEPTH 2
#define N 6

byte sseq[DEPTH];        /* slot seq (0 = being written) */
byte sa[DEPTH];          /* payload, first half */
byte sb[DEPTH];          /* payload, second half */
byte tail = 0;
byte head = 0;
bit pdone = 0;

proctype producer()
{
	byte pos, h, need;
	do
	:: tail < N ->
		pos = tail;
		if
		:: pos + 1 > DEPTH -> need = pos + 1 - DEPTH
		:: else -> need = 0
		fi;
		do                                           /* claim: drop oldest */
		:: h = head;
		   if
		   :: h >= need -> break
		   :: else ->
		      atomic {
			if
			:: head == h -> head = need; break   /* CAS succeeded */
			:: else -> skip                      /* consumer moved it */
			fi
		      }
		   fi
		od;
		sseq[pos % DEPTH] = 0;                       /* seqlock: busy */
		sa[pos % DEPTH] = pos;
		sb[pos % DEPTH] = pos;
		sseq[pos % DEPTH] = pos + 1;
		tail = pos + 1                               /* publish */
	:: else -> break
	od;
	pdone = 1
}

proctype consumer()
{
	byte rpos = 0, chead = 0, t, t1, h, s, s2, a, b, pos;
	short last = -1;
	do
	:: (rpos < tail || pdone) ->
		/* load_tail: t1, head, t again; at the moment head was read
		 * the true tail was in [t1, t], so h <= t and t1 <= h + DEPTH;
		 * positions below max(h, t - DEPTH) are gone */
		t1 = tail; h = head; t = tail;
		assert(h <= t && t1 <= h + DEPTH && h >= chead);
		if
		:: rpos < h -> rpos = h
		:: else -> skip
		fi;
		if
		:: t > DEPTH && rpos < t - DEPTH -> rpos = t - DEPTH
		:: else -> skip
		fi;
		if
		:: h > chead -> chead = h
		:: else -> skip
		fi;
		if
		:: rpos >= t && pdone && t == tail -> break
		:: rpos >= t -> skip
		:: else ->
			pos = rpos;
			s = sseq[pos % DEPTH];
			if
			:: s != pos + 1 ->
				/* take(): reload; head (or tail - DEPTH) must explain it */
				t1 = tail; h = head; t = tail;
				assert(h > pos || (t > DEPTH && t - DEPTH > pos))
			:: else ->
				a = sa[pos % DEPTH];
				b = sb[pos % DEPTH];
				rpos = pos + 1;
				/* commit(): seqlock re-check, then head = max(head, pos+1) */
				s2 = sseq[pos % DEPTH];
				if
				:: s2 == pos + 1 ->
					assert(a == pos && b == pos);    /* whole */
					assert(pos > last);              /* FIFO, no dup */
					last = pos
				:: else -> skip                      /* -ESTALE: discarded */
				fi;
				do
				:: h = head;
				   if
				   :: h >= pos + 1 -> break
				   :: else ->
				      atomic {
					if
					:: head == h -> head = pos + 1; break
					:: else -> skip
					fi
				      }
				   fi
				od;
				chead = pos + 1
			fi
		fi
	od;
	assert(last == N - 1)                                /* newest delivered */
}

init
{
	atomic {
		run producer();
		run consumer()
	}
}
