/*
 * chan_drop.pml: Promela model of a DROP_OLDEST lane, region ABI 2
 * (lib/chan/queue.c: claim() and load_head(), slot_write()'s seqlock,
 * load_tail(), take(), commit()).  Each side writes only its own words:
 * the consumer its committed head (`head`, in its segment), the producer
 * its `dhead` (in its lane segment: how far it dropped) and `tail`.  The
 * producer never waits: when the ring is full it reads the consumer's head,
 * takes hc = max(head, dhead), and when that is short of what it needs it
 * publishes dhead = need (dropping the oldest), marks the slot busy (seq =
 * 0), writes the payload in two halves (so a torn read is visible), then
 * seq = pos + 1 and tail.  The consumer's effective head is max(its own
 * head, dhead); it reads in place and re-checks seq when it commits.
 * Checked: every message the consumer accepts (seq unchanged at done) is
 * whole and in increasing order (FIFO, no duplicate); a mismatching seq is
 * never reported as corruption when dhead explains it; neither side's
 * corruption checks fire on an honest run (load_head's and load_tail's
 * bounds); the newest message is always delivered.
 * Sequentially consistent model: see chan_spsc.pml for what that means.
 */
#define DEPTH 2
#define N 6

byte sseq[DEPTH];        /* slot seq (0 = being written) */
byte sa[DEPTH];          /* payload, first half */
byte sb[DEPTH];          /* payload, second half */
byte tail = 0;           /* producer-written */
byte dhead = 0;          /* producer-written: dropped up to here */
byte head = 0;           /* consumer-written: committed up to here */
bit pdone = 0;

proctype producer()
{
	byte pos, hc = 0, h, need;
	do
	:: tail < N ->
		pos = tail;
		/* load_head(): the consumer's head, at least our own dhead;
		 * never above tail, never more than DEPTH behind, never back */
		h = head;
		assert(h <= pos);
		if
		:: h < dhead -> h = dhead
		:: else -> skip
		fi;
		assert(pos - h <= DEPTH && h >= hc);
		hc = h;
		if
		:: pos + 1 > DEPTH -> need = pos + 1 - DEPTH
		:: else -> need = 0
		fi;
		if
		:: hc < need -> dhead = need; hc = need       /* drop oldest */
		:: else -> skip
		fi;
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
		/* load_tail: t1, dhead, t again; at the moment dhead was read
		 * the true tail was in [t1, t], so dhead <= t, and with
		 * h = max(dhead, chead), t1 <= h + DEPTH; positions below
		 * max(h, t - DEPTH) are gone */
		t1 = tail; h = dhead; t = tail;
		assert(h <= t);
		if
		:: h < chead -> h = chead
		:: else -> skip
		fi;
		assert(t1 <= h + DEPTH);
		if
		:: rpos < h -> rpos = h
		:: else -> skip
		fi;
		if
		:: t > DEPTH && rpos < t - DEPTH -> rpos = t - DEPTH
		:: else -> skip
		fi;
		chead = h;
		if
		:: rpos >= t && pdone && t == tail -> break
		:: rpos >= t -> skip
		:: else ->
			pos = rpos;
			s = sseq[pos % DEPTH];
			if
			:: s != pos + 1 ->
				/* take(): reload; dhead (or tail - DEPTH) must explain it */
				t1 = tail; h = dhead; t = tail;
				assert(h > pos || (t > DEPTH && t - DEPTH > pos))
			:: else ->
				a = sa[pos % DEPTH];
				b = sb[pos % DEPTH];
				rpos = pos + 1;
				/* commit(): seqlock re-check, then our head only grows */
				s2 = sseq[pos % DEPTH];
				if
				:: s2 == pos + 1 ->
					assert(a == pos && b == pos);    /* whole */
					assert(pos > last);              /* FIFO, no dup */
					last = pos
				:: else -> skip                      /* -ESTALE: discarded */
				fi;
				if
				:: pos + 1 > head -> head = pos + 1
				:: else -> skip
				fi;
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
