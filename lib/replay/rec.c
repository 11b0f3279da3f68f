/*
 * rec.c: the partition side of record and replay (replay.h).
 * Record mode: every data-moving channel operation of a bound handle, every
 * myco_now() and myco_random() the partition makes, its channel opens and
 * its start-up inputs are appended to the record ring the executive owns
 * (rec_abi.h; the writer never waits: a full ring refuses the record and
 * counts an overrun).  Replay mode (MYCO_REPLAY=LOG, set by `myco replay`):
 * the same operations are served from the log in order; what the partition
 * sends is compared with what the original run sent, and the first
 * difference ends the replay with a report (exit MYCO__REPLAY_DIVERGED).
 * Not for: draining the ring or writing the log (log.c, exec/record.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../chan/chan_int.h"
#include "rec_abi.h"
#include "replay.h"
#include "rlog.h"

extern char **environ;

static struct {
	struct myco__ring_hdr *hdr;  /* record mode */
	uint8_t *data;
	uint64_t cap;
	uint16_t nchan;
	_Atomic uint64_t tail_seen;  /* the ring's tail as some thread last read it (acquire/release: whoever
				      * writes into room it frees has seen the drain finish with it) */
	/* replay mode */
	int replaying;
	struct myco__rlog *log;
	size_t next;                 /* next record to serve */
	uint64_t until;              /* stop before this record (UINT64_MAX: none) */
	uint64_t sends;              /* sends compared */
	int joined;                  /* the log has a JOIN record (begun mid-run) */
	int joining;                 /* past a JOIN record, before the first input */
	uint64_t joined_live;        /* start-up reads served live, sends not compared */
	uint64_t joined_skipped;     /* records skipped before the first input */
	char names[256][64];         /* channel names by id, for reports */
	pthread_mutex_t lock;
	int status_fd;
	volatile uint64_t *progress; /* `myco replay`'s view of R.next */
} R = { .until = UINT64_MAX, .status_fd = -1, .lock = PTHREAD_MUTEX_INITIALIZER };

int myco__rec_rt;

/* Log version 1's send hash: FNV-1a 64, a byte at a time. */
static uint64_t hash_v1(const void *p, size_t n)
{
	const uint8_t *b = p;
	uint64_t h = 0xcbf29ce484222325ull;

	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 0x100000001b3ull;
	return h;
}

/* One block of a send (at most MYCO__REC_SEND_KEEP bytes), eight bytes a
 * step: a multiply and a shift each. */
static inline uint64_t hash_block(const uint8_t *p, size_t n, uint64_t seed)
{
	uint64_t h = seed ^ (n * 0x9e3779b97f4a7c15ull), w;

	for (; n >= 8; p += 8, n -= 8) {
		memcpy(&w, p, 8);
		h = (h ^ w) * 0xff51afd7ed558ccdull;
		h ^= h >> 32;
	}
	if (n) {
		w = 0;
		memcpy(&w, p, n);
		h = (h ^ w) * 0xc4ceb9fe1a85ec53ull;
		h ^= h >> 29;
	}
	return h;
}

uint64_t myco__rec_hash(const void *p, size_t n, uint64_t *blk, unsigned *nblk)
{
	const uint8_t *b = p;
	uint64_t h = 0x243f6a8885a308d3ull;
	unsigned k = 0;

	for (size_t at = 0, i = 0; at < n || i == 0; at += MYCO__REC_SEND_KEEP, i++) {
		size_t m = n - at < MYCO__REC_SEND_KEEP ? n - at : MYCO__REC_SEND_KEEP;
		uint64_t hb = hash_block(b + at, m, i);
		if (i >= 1 && i <= MYCO__REC_SEND_BLOCKS && blk)
			blk[k++] = hb;
		h = (h ^ hb) * 0x9fb21c651e98df25ull;
		h ^= h >> 31;
		if (n == 0)
			break;
	}
	if (nblk)
		*nblk = k;
	return h;
}

/* ---- the ring writer --------------------------------------------------- */

static int ring_on(void)
{
	return R.hdr && atomic_load_explicit(&R.hdr->enable, memory_order_relaxed) != 0;
}

/* Claim room for a record of BODY bytes; returns its body pointer (and
 * its position in *pos) or NULL when the ring is full (counted). */
static uint8_t *ring_claim(size_t body, uint16_t type, uint16_t chan, uint64_t *pos)
{
	struct myco__ring_hdr *h = R.hdr;
	uint64_t size = (sizeof(struct myco__ring_rec) + body + 15) & ~15ull;
	uint64_t head, tail, off, pad;

	if (size > R.cap / 4) {
		atomic_fetch_add_explicit(&h->overruns, 1, memory_order_relaxed);
		return NULL;
	}
	head = atomic_load_explicit(&h->head, memory_order_relaxed);
	tail = atomic_load_explicit(&R.tail_seen, memory_order_acquire);
	for (;;) {
		off = head & (R.cap - 1);
		pad = off + size > R.cap ? R.cap - off : 0;
		if (head + pad + size - tail > R.cap) {
			/* the executive's line only when the cached tail says
			 * full: one shared load per lap, not per record */
			uint64_t t = atomic_load_explicit(&h->tail, memory_order_acquire);
			if (t != tail) {
				tail = t;
				atomic_store_explicit(&R.tail_seen, t, memory_order_release);
				continue;
			}
			atomic_fetch_add_explicit(&h->overruns, 1, memory_order_relaxed);
			return NULL;
		}
		if (atomic_compare_exchange_weak_explicit(&h->head, &head, head + pad + size,
							  memory_order_relaxed,
							  memory_order_relaxed))
			break;
	}
	if (pad) {
		struct myco__ring_rec *p = (struct myco__ring_rec *)(R.data + off);
		p->size = (uint32_t)pad;
		p->type = MYCO__REC_PAD;
		p->chan = 0;
		atomic_store_explicit(&p->commit, head + 1, memory_order_release);
		head += pad;
	}
	struct myco__ring_rec *r = (struct myco__ring_rec *)(R.data + (head & (R.cap - 1)));
	r->size = (uint32_t)(sizeof *r + body);     /* exact; the slot is rounded up */
	r->type = type;
	r->chan = chan;
	*pos = head;
	return (uint8_t *)(r + 1);
}

static void ring_commit(uint8_t *body, uint64_t pos)
{
	struct myco__ring_rec *r = (struct myco__ring_rec *)body - 1;

	atomic_store_explicit(&r->commit, pos + 1, memory_order_release);
}

/* One record of a fixed part and an optional tail of bytes. */
static void put(uint16_t type, uint16_t chan, const void *fix, size_t nfix,
		const void *tail, size_t ntail)
{
	uint64_t pos;
	uint8_t *b = ring_claim(nfix + ntail, type, chan, &pos);

	if (!b)
		return;
	memcpy(b, fix, nfix);
	if (ntail)
		memcpy(b + nfix, tail, ntail);
	ring_commit(b, pos);
}

/* A SEND record of BUF (LEN bytes; NULL: nothing captured) built in place
 * in the ring: the hash, the first bytes, the block hashes after them.
 * The caller stores the result in ->rc and commits (ring_commit). */
static struct myco__rb_send *send_claim(uint16_t chan, const void *buf, size_t len,
					uint64_t *pos)
{
	size_t keep = 0, nb = 0;

	if (buf) {
		keep = len < MYCO__REC_SEND_KEEP ? len : MYCO__REC_SEND_KEEP;
		nb = len <= MYCO__REC_SEND_KEEP ? 0
			: (len - MYCO__REC_SEND_KEEP + MYCO__REC_SEND_KEEP - 1) / MYCO__REC_SEND_KEEP;
		if (nb > MYCO__REC_SEND_BLOCKS)
			nb = MYCO__REC_SEND_BLOCKS;
	}
	uint8_t *b = ring_claim(sizeof(struct myco__rb_send) + keep + nb * 8, MYCO__REC_SEND,
				chan, pos);
	if (!b)
		return NULL;
	struct myco__rb_send *s = (struct myco__rb_send *)b;
	s->len = (uint32_t)len;
	if (!buf) {
		s->hash = 0;
		return s;
	}
	uint64_t blk[MYCO__REC_SEND_BLOCKS];
	unsigned k;
	s->hash = myco__rec_hash(buf, len, blk, &k);
	memcpy(b + sizeof *s, buf, keep);
	if (k)
		memcpy(b + sizeof *s + keep, blk, (size_t)k * 8);
	return s;
}

static void put_send(uint16_t chan, int rc, const void *buf, size_t len)
{
	uint64_t pos;
	struct myco__rb_send *s = send_claim(chan, buf, len, &pos);

	if (s) {
		s->rc = rc;
		ring_commit((uint8_t *)s, pos);
	}
}

static void put_recv(uint16_t chan, int rc, const myco_chan_msg_t *m)
{
	/* the receive time to the kernel's tick: a precise clock read would
	 * be the hook's largest cost (docs/replay-format.md) */
	struct myco__rb_recv r = { .rc = rc, .t_ns = myco__now_coarse() };

	if (m) {
		r.lane = m->lane;
		r.seq = m->seq;
		r.len = (uint32_t)m->len;
		r.flags = m->flags;
	}
	put(MYCO__REC_RECV, chan, &r, sizeof r, m ? m->data : NULL, m ? m->len : 0);
}

/* ---- record-mode operations -------------------------------------------- */

static int rec_send(myco_chan_t *ch, const void *buf, size_t len, int64_t t)
{
	int rc = myco__chan_send_raw(ch, buf, len, t);

	if (ring_on())
		put_send(ch->rec_id, rc, buf, len);
	return rc;
}

static int rec_send_batch(myco_chan_t *ch, const struct iovec *msgs, size_t n)
{
	int rc = myco__chan_send_batch_raw(ch, msgs, n);

	if (!ring_on())
		return rc;
	if (rc <= 0)
		put_send(ch->rec_id, rc < 0 ? rc : 0, NULL, 0);
	for (int i = 0; i < rc; i++)     /* rc (the count) in every record */
		put_send(ch->rec_id, rc, msgs[i].iov_base, msgs[i].iov_len);
	return rc;
}

static __thread void *reserved_slot;

static int rec_reserve(myco_chan_t *ch, void **slot, int64_t t)
{
	int rc = myco__chan_reserve_raw(ch, slot, t);

	reserved_slot = rc == 0 ? *slot : NULL;
	if (rc < 0 && ring_on())
		put_send(ch->rec_id, rc, NULL, 0);
	return rc;
}

static int rec_publish(myco_chan_t *ch, size_t len)
{
	void *slot = reserved_slot;
	uint64_t pos;
	struct myco__rb_send *s = NULL;

	/* captured before the slot is handed over */
	if (ring_on())
		s = send_claim(ch->rec_id, slot && len <= ch->g.msg_size ? slot : NULL, len, &pos);
	int rc = myco__chan_publish_raw(ch, len);
	if (s) {
		s->rc = rc;
		ring_commit((uint8_t *)s, pos);
	}
	reserved_slot = NULL;
	return rc;
}

static int rec_recv(myco_chan_t *ch, myco_chan_msg_t *msg, int64_t t)
{
	int rc = myco__chan_recv_raw(ch, msg, t);

	if (ring_on())
		put_recv(ch->rec_id, rc, rc == 0 ? msg : NULL);
	return rc;
}

static int rec_recv_batch(myco_chan_t *ch, myco_chan_msg_t *msgs, size_t max, int64_t t)
{
	int rc = myco__chan_recv_batch_raw(ch, msgs, max, t);

	if (!ring_on())
		return rc;
	if (rc <= 0)
		put_recv(ch->rec_id, rc, NULL);
	for (int i = 0; i < rc; i++)     /* rc (the count) in every record */
		put_recv(ch->rec_id, rc, &msgs[i]);
	return rc;
}

static int rec_done(myco_chan_t *ch, const myco_chan_msg_t *msg)
{
	int rc = myco__chan_done_raw(ch, msg);

	if (rc != 0 && ring_on()) {
		struct myco__rb_value v = { (uint64_t)(int64_t)rc };
		put(MYCO__REC_DONE, ch->rec_id, &v, sizeof v, NULL, 0);
	}
	return rc;
}

static int rec_done_all(myco_chan_t *ch)
{
	int rc = myco__chan_done_all_raw(ch);

	if (rc != 0 && ring_on()) {
		struct myco__rb_value v = { (uint64_t)(int64_t)rc };
		put(MYCO__REC_DONE, ch->rec_id, &v, sizeof v, NULL, 0);
	}
	return rc;
}

static int rec_reply(myco_chan_t *ch, const myco_chan_msg_t *req, const void *rep, size_t len)
{
	int rc = myco__chan_reply_raw(ch, req, rep, len);

	if (ring_on())
		put_send(ch->rec_id, rc, rep, len);
	return rc;
}

static int rec_call_wait(myco_chan_t *ch, uint64_t corr, void *rep, size_t cap,
			 size_t *rep_len, int64_t t)
{
	size_t got = 0;
	int rc = myco__chan_call_wait_raw(ch, corr, rep, cap, &got, t);

	if (rep_len)
		*rep_len = got;
	if (ring_on()) {
		struct myco__rb_reply r = { .rc = rc, .len = (uint32_t)got, .corr = corr };
		put(MYCO__REC_REPLY, ch->rec_id, &r, sizeof r, rep,
		    rc == 0 && got <= cap ? got : 0);
	}
	return rc;
}

static int rec_sample_write(myco_chan_t *ch, const void *buf, size_t len)
{
	int rc = myco__chan_sample_write_raw(ch, buf, len);

	if (ring_on())
		put_send(ch->rec_id, rc, buf, len);
	return rc;
}

static int rec_sample_read(myco_chan_t *ch, void *buf, size_t cap, myco_chan_sample_info_t *info)
{
	myco_chan_sample_info_t in = { 0 };
	int rc = myco__chan_sample_read_raw(ch, buf, cap, &in);

	if (info)
		*info = in;
	if (ring_on()) {
		struct myco__rb_sample s = { .rc = rc, .len = (uint32_t)in.len, .seq = in.seq,
					     .age_ns = in.age_ns };
		put(MYCO__REC_SAMPLE, ch->rec_id, &s, sizeof s, buf,
		    rc == 0 && in.len <= cap ? in.len : 0);
	}
	return rc;
}

static void rec_close(myco_chan_t *ch)
{
	ch->rec = NULL;
	myco__chan_close_raw(ch);
}

static const struct myco__rec_ops rec_ops = {
	.send = rec_send, .send_batch = rec_send_batch, .reserve = rec_reserve,
	.publish = rec_publish, .recv = rec_recv, .recv_batch = rec_recv_batch,
	.done = rec_done, .done_all = rec_done_all, .reply = rec_reply,
	.call_wait = rec_call_wait, .sample_write = rec_sample_write,
	.sample_read = rec_sample_read, .close = rec_close,
};

static uint64_t rec_clock(uint64_t raw)
{
	if (ring_on()) {
		struct myco__rb_value v = { raw };
		put(MYCO__REC_CLOCK, 0, &v, sizeof v, NULL, 0);
	}
	return raw;
}

static uint64_t rec_random(uint64_t raw)
{
	if (ring_on()) {
		struct myco__rb_value v = { raw };
		put(MYCO__REC_RANDOM, 0, &v, sizeof v, NULL, 0);
	}
	return raw;
}

void myco__rec_rt_wake(unsigned kind, unsigned loop, uint32_t serial, uint64_t picks)
{
	if (ring_on()) {
		struct myco__rb_wake w = { .kind = (uint16_t)kind, .loop = (uint16_t)loop,
					   .serial = serial, .picks = picks };
		put(MYCO__REC_WAKE, 0, &w, sizeof w, NULL, 0);
	}
}

void myco__rec_rt_cwait(uint16_t chan, uint32_t serial, int rc)
{
	if (ring_on()) {
		struct myco__rb_cwait c = { .rc = rc, .serial = serial };
		put(MYCO__REC_CWAIT, chan, &c, sizeof c, NULL, 0);
	}
}

/* ---- record mode: attach, start, open ---------------------------------- */

static size_t read_file(const char *path, char *buf, size_t cap)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	size_t n = 0;
	ssize_t r;

	if (fd < 0)
		return 0;
	while (n < cap && (r = read(fd, buf + n, cap - n)) > 0)
		n += (size_t)r;
	close(fd);
	return n;
}

/* START: exe, cwd, then argv and the environment, NUL-terminated. */
static void put_start(void)
{
	static char buf[64 * 1024];
	struct myco__rb_start st = { .pid = (uint32_t)getpid() };
	size_t n = 0;
	ssize_t l = readlink("/proc/self/exe", buf, sizeof buf - 1);

	n = l > 0 ? (size_t)l : 0;
	buf[n++] = 0;
	if (!getcwd(buf + n, sizeof buf - n - 1))
		strcpy(buf + n, "/");
	n += strlen(buf + n) + 1;
	size_t a = read_file("/proc/self/cmdline", buf + n, sizeof buf - n - 1);
	for (size_t i = 0; i < a; i++)
		if (!buf[n + i])
			st.argc++;
	n += a;
	for (char **e = environ; e && *e; e++) {
		size_t el = strlen(*e) + 1;
		if (n + el > sizeof buf)
			break;
		memcpy(buf + n, *e, el);
		n += el;
		st.envc++;
	}
	st.bytes = (uint32_t)n;
	put(MYCO__REC_START, 0, &st, sizeof st, buf, n);
}

int myco__rec_attach(int fd)
{
	struct stat sb;
	struct myco__ring_hdr h;

	if (fstat(fd, &sb) < 0)
		return -errno;
	if (pread(fd, &h, sizeof h, 0) != (ssize_t)sizeof h)
		return -EPROTO;
	if (h.magic != MYCO__RING_MAGIC)
		return -EPROTO;
	if (h.version != MYCO__RING_VERSION)
		return -MYCO_EVERSION;
	if (h.features || h.check != myco__rec_fnv32(&h, offsetof(struct myco__ring_hdr, check)) ||
	    h.cap < MYCO__RING_MIN || h.cap > MYCO__RING_MAX || (h.cap & (h.cap - 1)) ||
	    h.size != MYCO__RING_DATA_OFF + h.cap || (uint64_t)sb.st_size != h.size)
		return -EPROTO;
	/* populated now: no page fault on the hot path (the first lap) */
	void *m = mmap(NULL, h.size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, 0);
	if (m == MAP_FAILED)
		return -errno;
	R.hdr = m;
	R.data = (uint8_t *)m + MYCO__RING_DATA_OFF;
	R.cap = h.cap;
	atomic_store_explicit(&R.hdr->pid, (uint32_t)getpid(), memory_order_relaxed);
	put_start();
	myco__clock_hook = rec_clock;
	myco__random_hook = rec_random;
	myco__rec_rt = 1;
	return 0;
}

void myco__rec_bind(myco_chan_t *ch, const struct myco__rec_ops *ops, uint16_t id)
{
	ch->rec = ops;
	ch->rec_id = id;
}

uint16_t myco__rec_chan_id(const myco_chan_t *ch)
{
	return ch->rec_id;
}

void myco__rec_opened(const char *name, int rc, myco_chan_t *ch)
{
	if (!R.hdr)
		return;
	struct myco__rb_open o = { .rc = rc, .name_len = (uint32_t)strlen(name) };
	uint16_t id = 0;
	if (rc == 0 && ch) {
		id = ++R.nchan;
		o.role = (uint32_t)ch->role;
		o.index = ch->index;
		o.kind = ch->g.kind;
		o.msg_size = ch->g.msg_size;
		myco__rec_bind(ch, &rec_ops, id);
	}
	put(MYCO__REC_OPEN, id, &o, sizeof o, name, o.name_len + 1);
}

/* ---- replay mode ------------------------------------------------------- */

static const char *type_name(unsigned t)
{
	static const char *const n[] = { "pad", "start", "open", "receive", "send", "call reply",
					 "clock read", "random draw", "sample read", "done",
					 "gap", "crash", "wake-up", "channel wait",
					 "join" };
	return t < sizeof n / sizeof n[0] ? n[t] : "?";
}

static void status(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void status(const char *fmt, ...)
{
	char line[512];
	va_list ap;

	va_start(ap, fmt);
	int n = vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	if (R.status_fd >= 0 && n > 0)
		(void)!write(R.status_fd, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
}

static void hexdump(const char *who, const uint8_t *p, size_t n, size_t total)
{
	fprintf(stderr, "  %s (%zu bytes):", who, total);
	for (size_t i = 0; i < n && i < 64; i++)
		fprintf(stderr, "%s%02x", i % 16 ? " " : "\n    ", p[i]);
	if (n > 64 || n < total)
		fprintf(stderr, "\n    ... (%zu bytes shown)", n < 64 ? n : 64);
	fputc('\n', stderr);
}

static const char *chan_name(unsigned id)
{
	return id && id < 256 && R.names[id][0] ? R.names[id] : "-";
}

/* The replay can go no further: say why, once, and end the process.
 * REFUSED: the program depends on something replay cannot reproduce at
 * all (not replayable) rather than on something the log did not hold
 * at this record (diverged). */
static void __attribute__((noreturn)) stop_replay(int refused, size_t at, const char *fmt,
						   va_list ap)
{
	char why[400];

	vsnprintf(why, sizeof why, fmt, ap);
	fflush(stdout);
	if (refused) {
		fprintf(stderr, "myco replay: NOT REPLAYABLE: %s.\n"
			"  Replay reproduces what a partition gets through channels and libmyco; "
			"this\n  program depends on something else, so no replay of it would be "
			"faithful.\n", why);
		status("unreplayable %s\n", why);
	} else {
		fprintf(stderr, "myco replay: DIVERGED at record %zu: %s\n"
			"  the partition did not do what the recorded run did with the same inputs:\n"
			"  it depends on something libmyco does not record (its own clock or random\n"
			"  reads, files, sockets, thread timing). The replay is not faithful from here.\n",
			at, why);
		status("diverged %zu %s\n", at, why);
	}
	_exit(MYCO__REPLAY_DIVERGED);
}

static void __attribute__((noreturn)) diverged(size_t at, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void diverged(size_t at, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	stop_replay(0, at, fmt, ap);
}

/* The log ends: everything recorded was replayed. */
static void __attribute__((noreturn)) complete(size_t at)
{
	fflush(stdout);
	fprintf(stderr, "myco replay: end of the log at record %zu: %llu sends compared, "
		"all identical to the recorded run\n", at, (unsigned long long)R.sends);
	if (R.joined)
		fprintf(stderr, "myco replay: recording began while the process ran: %llu "
			"records before its first recorded input were skipped, and %llu start-up "
			"clock/random reads and sends of the replay were not compared\n",
			(unsigned long long)R.joined_skipped, (unsigned long long)R.joined_live);
	status("complete %zu %llu\n", at, (unsigned long long)R.sends);
	_exit(0);
}

/* A breakpoint for `myco replay --until N --gdb`: the process stops here
 * just before record INDEX is served (what it is: REC). */
__attribute__((noinline)) void myco_replay_stop(size_t index, const struct myco__rlog_rec *rec);
__attribute__((noinline)) void myco_replay_stop(size_t index, const struct myco__rlog_rec *rec)
{
	__asm__ volatile("" ::"r"(index), "r"(rec) : "memory");
}

static int is_input(unsigned type)
{
	return type == MYCO__REC_RECV || type == MYCO__REC_REPLY || type == MYCO__REC_SAMPLE;
}

/* A log begun while the process ran (a JOIN record after the prologue)
 * holds no inputs from before: until the replay takes its first input,
 * the program's own start-up clock/random reads, sends and dones were
 * never recorded (served live, not compared: take() returns NULL), and the
 * records between the JOIN and the first recorded input answer inputs that
 * were not recorded (skipped).  Called with R.lock held. */
static int join_live(unsigned type)
{
	if (type == MYCO__REC_OPEN)  /* opens are the prologue's, before any JOIN */
		return 0;
	if (R.next < R.log->n && R.log->recs[R.next].type == MYCO__REC_JOIN) {
		R.joined = R.joining = 1;
		R.next++;
	}
	if (!R.joining)
		return 0;
	if (type == MYCO__REC_SEND || type == MYCO__REC_CLOCK || type == MYCO__REC_RANDOM ||
	    type == MYCO__REC_DONE) {
		R.joined_live++;
		return 1;
	}
	/* the program's first input (or a runtime wake-up): skip to the log's */
	size_t i = R.next;
	while (i < R.log->n && !is_input(R.log->recs[i].type) &&
	       R.log->recs[i].type != MYCO__REC_CRASH && R.log->recs[i].type != MYCO__REC_GAP &&
	       i != R.until)
		i++;
	if (i < R.log->n && (is_input(R.log->recs[i].type) || i == R.until)) {
		R.joined_skipped += i - R.next;
		R.next = i;
	}
	R.joining = 0;
	return 0;
}

/* The next record, which must be of TYPE on channel CHAN (0 = any
 * channel for clock/random).  Holds R.lock on return; NULL (lock held)
 * when the operation is served live (join_live). */
static const struct myco__rlog_rec *take(unsigned type, uint16_t chan, const char *what)
{
	pthread_mutex_lock(&R.lock);
	if (join_live(type))
		return NULL;
	size_t at = R.next;
	if (at >= R.log->n)
		complete(at);
	const struct myco__rlog_rec *r = &R.log->recs[at];
	if (at == R.until) {
		fflush(stdout);
		fprintf(stderr, "myco replay: stopped before record %zu (%s on %s)\n", at,
			type_name(r->type), chan_name(r->chan));
		status("until %zu\n", at);
		myco_replay_stop(at, r);
		if (!getenv("MYCO_REPLAY_GDB"))
			_exit(0);
	}
	if (r->type == MYCO__REC_CRASH) {
		struct myco__rb_crash c;
		memcpy(&c, r->body, sizeof c);
		if (c.sig == 0)          /* the recorded run ended here */
			complete(at);
		diverged(at, "the recorded run ended here (%s %d); the replay goes on with a %s",
			 c.sig ? "signal" : "exit status", c.sig ? c.sig : c.status, what);
	}
	if (r->type == MYCO__REC_GAP) {
		struct myco__rb_value v;
		memcpy(&v, r->body, sizeof v);
		diverged(at, "%llu records were lost while recording (the ring overran): "
			 "the inputs after this point are incomplete", (unsigned long long)v.v);
	}
	if (r->type != type || (chan && r->chan != chan))
		diverged(at, "the partition made a %s on channel '%s', the recorded run a %s on "
			 "channel '%s'", what, chan_name(chan), type_name(r->type),
			 chan_name(r->chan));
	R.next++;
	if (R.progress)
		*R.progress = R.next;
	return r;
}

static void compare_send(const struct myco__rlog_rec *r, size_t at, int *rc,
			 const void *buf, size_t len, uint16_t chan)
{
	struct myco__rb_send s;
	uint64_t blk[MYCO__REC_SEND_BLOCKS];
	unsigned nb = 0;

	memcpy(&s, r->body, sizeof s);
	const uint8_t *kept = r->body + sizeof s;
	size_t nk = r->len - sizeof s, rb = 0;
	if (R.log->version >= 2 && nk) {       /* first bytes, then block hashes */
		rb = s.len <= MYCO__REC_SEND_KEEP ? 0 : (nk - MYCO__REC_SEND_KEEP) / 8;
		nk -= rb * 8;
	}
	uint64_t h = !buf ? 0 : R.log->version >= 2 ? myco__rec_hash(buf, len, blk, &nb)
						  : hash_v1(buf, len);
	if (s.len != len || s.hash != h || (nk && buf && memcmp(kept, buf, nk))) {
		size_t off = 0;
		const char *where = "";
		char at_s[160];
		while (buf && off < nk && off < len && kept[off] == ((const uint8_t *)buf)[off])
			off++;
		if (buf && off < nk && off < len) {
			snprintf(at_s, sizeof at_s, "first difference at byte %zu", off);
		} else if (s.len != len) {
			snprintf(at_s, sizeof at_s, "the first %zu bytes are equal, the lengths "
				 "differ", off);
		} else {
			unsigned i = 0;
			while (i < rb && i < nb && !memcmp(kept + nk + i * 8, &blk[i], 8))
				i++;
			if (i < rb && i < nb)
				snprintf(at_s, sizeof at_s, "first difference in bytes %zu to %zu "
					 "(the first %zu are equal)",
					 (size_t)(i + 1) * MYCO__REC_SEND_KEEP,
					 (size_t)(i + 2) * MYCO__REC_SEND_KEEP - 1,
					 (size_t)(i + 1) * MYCO__REC_SEND_KEEP);
			else
				snprintf(at_s, sizeof at_s, "first difference after byte %zu (only "
					 "the payload's hash covers it)",
					 (size_t)(rb + 1) * MYCO__REC_SEND_KEEP);
		}
		where = at_s;
		fflush(stdout);
		fprintf(stderr, "myco replay: send %llu on channel '%s' differs: %s\n",
			(unsigned long long)R.sends + 1, chan_name(chan), where);
		hexdump("recorded", kept, nk, s.len);
		hexdump("replayed", buf, len, len);
		diverged(at, "send on channel '%s' differs from the recorded one (length %u, "
			 "now %zu; %s)", chan_name(chan), s.len, len, where);
	}
	R.sends++;
	*rc = s.rc;
}

static int rp_send(myco_chan_t *ch, const void *buf, size_t len, int64_t t)
{
	(void)t;
	int rc;
	const struct myco__rlog_rec *r = take(MYCO__REC_SEND, ch->rec_id, "send");
	if (!r) {                    /* before the first input of a joined log */
		pthread_mutex_unlock(&R.lock);
		return 0;
	}
	compare_send(r, R.next - 1, &rc, buf, len, ch->rec_id);
	pthread_mutex_unlock(&R.lock);
	return rc;
}

static int rp_send_batch(myco_chan_t *ch, const struct iovec *msgs, size_t n)
{
	const struct myco__rlog_rec *r = take(MYCO__REC_SEND, ch->rec_id, "batch send");
	struct myco__rb_send s;
	int rc;

	if (!r) {                    /* before the first input of a joined log */
		pthread_mutex_unlock(&R.lock);
		return (int)n;
	}
	memcpy(&s, r->body, sizeof s);
	if (s.rc <= 0) {
		pthread_mutex_unlock(&R.lock);
		return s.rc;
	}
	int cnt = s.rc;
	if ((size_t)cnt > n)
		diverged(R.next - 1, "a batch send of %zu messages, the recorded one sent %d", n, cnt);
	compare_send(r, R.next - 1, &rc, msgs[0].iov_base, msgs[0].iov_len, ch->rec_id);
	pthread_mutex_unlock(&R.lock);
	for (int i = 1; i < cnt; i++) {
		r = take(MYCO__REC_SEND, ch->rec_id, "batch send");
		if (r)
			compare_send(r, R.next - 1, &rc, msgs[i].iov_base, msgs[i].iov_len,
				     ch->rec_id);
		pthread_mutex_unlock(&R.lock);
	}
	return cnt;
}

static __thread void *rp_slot;

static int rp_reserve(myco_chan_t *ch, void **slot, int64_t t)
{
	(void)t;
	*slot = NULL;
	pthread_mutex_lock(&R.lock);
	if (R.next < R.log->n) {
		const struct myco__rlog_rec *r = &R.log->recs[R.next];
		struct myco__rb_send s;
		if (r->type == MYCO__REC_SEND && r->chan == ch->rec_id && r->len >= sizeof s) {
			memcpy(&s, r->body, sizeof s);
			if (s.rc < 0 && s.len == 0) {    /* the recorded reserve failed */
				R.next++;
				pthread_mutex_unlock(&R.lock);
				return s.rc;
			}
		}
	}
	pthread_mutex_unlock(&R.lock);
	free(rp_slot);
	rp_slot = calloc(1, ch->g.msg_size ? ch->g.msg_size : 1);
	if (!rp_slot)
		return -ENOMEM;
	*slot = rp_slot;
	return 0;
}

static int rp_publish(myco_chan_t *ch, size_t len)
{
	if (!rp_slot)
		return -EINVAL;
	int rc = rp_send(ch, rp_slot, len, 0);
	free(rp_slot);
	rp_slot = NULL;
	return rc;
}

static void fill_msg(const struct myco__rlog_rec *r, myco_chan_msg_t *m, int *rc)
{
	struct myco__rb_recv v;

	memcpy(&v, r->body, sizeof v);
	*rc = v.rc;
	memset(m, 0, sizeof *m);
	m->data = r->body + sizeof v;
	m->len = r->len - sizeof v;
	m->seq = v.seq;
	m->lane = v.lane;
	m->flags = v.flags;
	m->pos_ = R.next - 1;
}

static int rp_recv(myco_chan_t *ch, myco_chan_msg_t *msg, int64_t t)
{
	(void)t;
	int rc;
	const struct myco__rlog_rec *r = take(MYCO__REC_RECV, ch->rec_id, "receive");
	fill_msg(r, msg, &rc);
	pthread_mutex_unlock(&R.lock);
	return rc < 0 ? rc : 0;
}

static int rp_recv_batch(myco_chan_t *ch, myco_chan_msg_t *msgs, size_t max, int64_t t)
{
	(void)t;
	int rc;
	const struct myco__rlog_rec *r = take(MYCO__REC_RECV, ch->rec_id, "batch receive");
	fill_msg(r, &msgs[0], &rc);
	pthread_mutex_unlock(&R.lock);
	if (rc <= 0)
		return rc;
	if ((size_t)rc > max)
		diverged(R.next - 1, "a batch receive of at most %zu, the recorded one got %d", max, rc);
	for (int i = 1; i < rc; i++) {
		int x;
		r = take(MYCO__REC_RECV, ch->rec_id, "batch receive");
		fill_msg(r, &msgs[i], &x);
		pthread_mutex_unlock(&R.lock);
	}
	return rc;
}

/* done: the recorded run's result if it was not 0 (a DONE record). */
static int rp_done_any(myco_chan_t *ch)
{
	int rc = 0;

	pthread_mutex_lock(&R.lock);
	if (R.next < R.log->n && R.log->recs[R.next].type == MYCO__REC_DONE &&
	    R.log->recs[R.next].chan == ch->rec_id && R.next != R.until) {
		struct myco__rb_value v;
		memcpy(&v, R.log->recs[R.next].body, sizeof v);
		rc = (int)(int64_t)v.v;
		R.next++;
	}
	pthread_mutex_unlock(&R.lock);
	return rc;
}

static int rp_done(myco_chan_t *ch, const myco_chan_msg_t *msg)
{
	(void)msg;
	return rp_done_any(ch);
}

static int rp_done_all(myco_chan_t *ch)
{
	return rp_done_any(ch);
}

static int rp_reply(myco_chan_t *ch, const myco_chan_msg_t *req, const void *rep, size_t len)
{
	(void)req;
	return rp_send(ch, rep, len, 0);
}

static int rp_call_wait(myco_chan_t *ch, uint64_t corr, void *rep, size_t cap,
			size_t *rep_len, int64_t t)
{
	(void)corr;
	(void)t;
	const struct myco__rlog_rec *r = take(MYCO__REC_REPLY, ch->rec_id, "call");
	struct myco__rb_reply v;

	memcpy(&v, r->body, sizeof v);
	size_t n = r->len - sizeof v;
	if (rep && n)
		memcpy(rep, r->body + sizeof v, n < cap ? n : cap);
	if (rep_len)
		*rep_len = v.len;
	pthread_mutex_unlock(&R.lock);
	return v.rc;
}

static int rp_sample_read(myco_chan_t *ch, void *buf, size_t cap, myco_chan_sample_info_t *info)
{
	const struct myco__rlog_rec *r = take(MYCO__REC_SAMPLE, ch->rec_id, "sample read");
	struct myco__rb_sample v;

	memcpy(&v, r->body, sizeof v);
	size_t n = r->len - sizeof v;
	if (buf && n)
		memcpy(buf, r->body + sizeof v, n < cap ? n : cap);
	if (info) {
		memset(info, 0, sizeof *info);
		info->len = v.len;
		info->seq = v.seq;
		info->age_ns = v.age_ns;
	}
	pthread_mutex_unlock(&R.lock);
	return v.rc;
}

static int rp_sample_write(myco_chan_t *ch, const void *buf, size_t len)
{
	return rp_send(ch, buf, len, 0);
}

static void rp_close(myco_chan_t *ch)
{
	free(ch);
}

static void __attribute__((noreturn)) rp_not_served(const char *what)
{
	myco__rec_refuse("the program %s itself: when the recorded channel became ready is "
			 "not recorded (replay serves receives, sends and the runtime's "
			 "channel waits)", what);
}

static const struct myco__rec_ops rp_ops = {
	.send = rp_send, .send_batch = rp_send_batch, .reserve = rp_reserve,
	.publish = rp_publish, .recv = rp_recv, .recv_batch = rp_recv_batch,
	.done = rp_done, .done_all = rp_done_all, .reply = rp_reply,
	.call_wait = rp_call_wait, .sample_write = rp_sample_write,
	.sample_read = rp_sample_read, .close = rp_close, .not_served = rp_not_served,
};

static uint64_t rp_value(unsigned type, const char *what, uint64_t raw)
{
	const struct myco__rlog_rec *r = take(type, 0, what);
	struct myco__rb_value v;

	if (!r) {                    /* before the first input of a joined log */
		pthread_mutex_unlock(&R.lock);
		return raw;
	}
	memcpy(&v, r->body, sizeof v);
	pthread_mutex_unlock(&R.lock);
	return v.v;
}

static uint64_t rp_clock(uint64_t raw)
{
	return rp_value(MYCO__REC_CLOCK, "clock read (myco_now)", raw);
}

static uint64_t rp_random(uint64_t raw)
{
	return rp_value(MYCO__REC_RANDOM, "random draw (myco_random)", raw);
}

/* ---- replay mode: the runtime ------------------------------------------ */

static const char *wake_name(unsigned k)
{
	static const char *const n[] = { "?", "a channel wait of coroutine",
					 "the timeout of coroutine", "timer",
					 "an I/O completion (outside channels) of coroutine",
					 "work posted by another thread, serial" };
	return k < sizeof n / sizeof n[0] ? n[k] : "?";
}

int myco__rec_rt_peek(struct myco__rb_wake *w)
{
	int yes = 0;

	pthread_mutex_lock(&R.lock);
	if (R.next < R.log->n && R.log->recs[R.next].type == MYCO__REC_WAKE) {
		memcpy(w, R.log->recs[R.next].body, sizeof *w);
		yes = 1;
	}
	pthread_mutex_unlock(&R.lock);
	return yes;
}

void myco__rec_rt_take_wake(void)
{
	const struct myco__rlog_rec *r = take(MYCO__REC_WAKE, 0, "wake-up");
	struct myco__rb_wake w;

	memcpy(&w, r->body, sizeof w);
	size_t at = R.next - 1;
	pthread_mutex_unlock(&R.lock);
	if (w.kind == MYCO__RTW_IO)
		myco__rec_refuse("at record %zu the recorded run's coroutine %u was woken by an "
				 "I/O completion outside channels (a socket or file read through "
				 "the runtime): its result is not recorded", at, w.serial);
	if (w.kind == MYCO__RTW_POST)
		myco__rec_refuse("at record %zu the recorded loop ran work posted by another "
				 "thread: the order of threads is not recorded", at);
}

int myco__rec_rt_cwait_next(uint16_t chan, uint32_t serial)
{
	int yes = 0;

	pthread_mutex_lock(&R.lock);
	if (R.next < R.log->n) {
		const struct myco__rlog_rec *r = &R.log->recs[R.next];
		struct myco__rb_cwait c;
		if (r->type == MYCO__REC_CWAIT && r->chan == chan) {
			memcpy(&c, r->body, sizeof c);
			yes = c.serial == serial;
		}
	}
	pthread_mutex_unlock(&R.lock);
	return yes;
}

int myco__rec_rt_cwait_take(uint16_t chan)
{
	const struct myco__rlog_rec *r = take(MYCO__REC_CWAIT, chan, "channel wait");
	struct myco__rb_cwait c;

	memcpy(&c, r->body, sizeof c);
	pthread_mutex_unlock(&R.lock);
	return c.rc;
}

void myco__rec_rt_stalled(unsigned loop, uint64_t picks)
{
	pthread_mutex_lock(&R.lock);
	size_t at = R.next;
	if (at >= R.log->n)
		complete(at);
	const struct myco__rlog_rec *r = &R.log->recs[at];
	if (r->type == MYCO__REC_CRASH || r->type == MYCO__REC_GAP) {
		pthread_mutex_unlock(&R.lock);
		take(MYCO__REC_WAKE, 0, "wake-up");     /* reports the end or the gap */
	}
	if (r->type == MYCO__REC_WAKE) {
		struct myco__rb_wake w;
		memcpy(&w, r->body, sizeof w);
		diverged(at, "the recorded loop %u woke %s %u after %llu coroutine switches; the "
			 "replay's loop %u has made %llu and has nothing ready to run", w.loop,
			 wake_name(w.kind), w.serial, (unsigned long long)w.picks, loop,
			 (unsigned long long)picks);
	}
	diverged(at, "the replay's loop %u has nothing ready to run (after %llu coroutine "
		 "switches), but the recorded run's next input is a %s on channel '%s'", loop,
		 (unsigned long long)picks, type_name(r->type), chan_name(r->chan));
}

void myco__rec_refuse(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	stop_replay(1, R.next, fmt, ap);
}

void myco__rec_replay_idle(void)
{
	pthread_mutex_lock(&R.lock);
	size_t at = R.next;
	if (at >= R.log->n)
		complete(at);
	const struct myco__rlog_rec *r = &R.log->recs[at];
	if (r->type == MYCO__REC_CRASH) {
		struct myco__rb_crash c;
		memcpy(&c, r->body, sizeof c);
		if (c.sig == 0)          /* the recorded run ended (stopped) here */
			complete(at);
	}
	pthread_mutex_unlock(&R.lock);
}

int myco__rec_replaying(void)
{
	return R.replaying;
}

int myco__rec_replay_init(const char *log, char *err, size_t cap)
{
	const char *e;
	int rc = myco__rlog_load(log, &R.log, err, cap);

	if (rc < 0)
		return rc;
	R.replaying = 1;
	R.next = R.log->run_start;
	/* skip the START record: the program is running with its inputs */
	if (R.next < R.log->n && R.log->recs[R.next].type == MYCO__REC_START)
		R.next++;
	if ((e = getenv("MYCO_REPLAY_UNTIL")) && *e)
		R.until = strtoull(e, NULL, 10);
	if ((e = getenv("MYCO_REPLAY_STATUS")) && *e)
		R.status_fd = atoi(e);
	if ((e = getenv("MYCO_REPLAY_PROGRESS")) && *e) {
		void *m = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, atoi(e), 0);
		if (m != MAP_FAILED)
			R.progress = m;
	}
	myco__clock_hook = rp_clock;
	myco__random_hook = rp_random;
	myco__rec_rt = 2;
	return 0;
}

int myco__rec_replay_open(const char *name, myco_chan_t **out)
{
	const struct myco__rlog_rec *r = take(MYCO__REC_OPEN, 0, "channel open");
	struct myco__rb_open o;

	memcpy(&o, r->body, sizeof o);
	const char *rn = (const char *)r->body + sizeof o;
	size_t at = R.next - 1;
	if (strcmp(rn, name))
		diverged(at, "the partition opened channel '%s', the recorded run '%s'", name, rn);
	pthread_mutex_unlock(&R.lock);
	*out = NULL;
	if (o.rc < 0)
		return o.rc;
	struct myco_chan *ch = calloc(1, sizeof *ch);
	if (!ch)
		return -ENOMEM;
	ch->role = (myco_chan_role_t)o.role;
	ch->index = o.index;
	ch->g.kind = o.kind;
	ch->g.msg_size = o.msg_size;
	ch->efd_self = ch->efd_main = -1;
	if (r->chan < 256)
		snprintf(R.names[r->chan], sizeof R.names[0], "%s", name);
	myco__rec_bind(ch, &rp_ops, r->chan);
	*out = ch;
	return 0;
}
