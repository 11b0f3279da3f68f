/*
 * ratelimit.c: token buckets per key (client address or a header) for
 * myco-gate's `rate_limit` setting: rate tokens per second up to burst,
 * one token per request.  Sharded hash tables under mutexes; memory is
 * bounded by max_keys (full buckets, i.e. idle keys, are dropped first).
 * Not for: deciding the key or answering 429 (gate.c).
 */
#include "gate_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define RL_SHARDS 16

typedef struct bucket {
	struct bucket *next;
	uint32_t hash;
	double tokens;
	uint64_t last;
	size_t klen;
	char key[];
} bucket_t;

typedef struct rl_shard {
	pthread_mutex_t mu;
	bucket_t *tab[256];
	size_t n;
} rl_shard_t;

struct myco__rl {
	double rate, burst;
	size_t max_per_shard;
	rl_shard_t sh[RL_SHARDS];
};

int myco__rl_create(myco__rl_t **out, double rate, double burst, size_t max_keys)
{
	myco__rl_t *rl;
	unsigned i;

	if (rate <= 0 || burst < 1)
		return -EINVAL;
	rl = calloc(1, sizeof(*rl));
	if (!rl)
		return -ENOMEM;
	rl->rate = rate;
	rl->burst = burst;
	rl->max_per_shard = (max_keys ? max_keys : 65536) / RL_SHARDS + 1;
	for (i = 0; i < RL_SHARDS; i++)
		pthread_mutex_init(&rl->sh[i].mu, NULL);
	*out = rl;
	return 0;
}

void myco__rl_destroy(myco__rl_t *rl)
{
	unsigned i, j;

	if (!rl)
		return;
	for (i = 0; i < RL_SHARDS; i++) {
		for (j = 0; j < 256; j++) {
			bucket_t *b = rl->sh[i].tab[j], *n;
			for (; b; b = n) {
				n = b->next;
				free(b);
			}
		}
		pthread_mutex_destroy(&rl->sh[i].mu);
	}
	free(rl);
}

static void refill(const myco__rl_t *rl, bucket_t *b, uint64_t now)
{
	if (now > b->last) {
		b->tokens += (double)(now - b->last) * rl->rate / 1e9;
		if (b->tokens > rl->burst)
			b->tokens = rl->burst;
		b->last = now;
	}
}

/* Drop idle keys (full buckets); if none is idle, the oldest touched. */
static void shrink(myco__rl_t *rl, rl_shard_t *s, uint64_t now)
{
	bucket_t **oldest = NULL;
	unsigned j;

	for (j = 0; j < 256; j++) {
		bucket_t **pp = &s->tab[j];
		while (*pp) {
			bucket_t *b = *pp;
			refill(rl, b, now);
			if (b->tokens >= rl->burst) {
				*pp = b->next;
				free(b);
				s->n--;
				continue;
			}
			if (!oldest || b->last < (*oldest)->last)
				oldest = pp;
			pp = &b->next;
		}
	}
	if (s->n >= rl->max_per_shard && oldest) {
		bucket_t *b = *oldest;
		*oldest = b->next;
		free(b);
		s->n--;
	}
}

bool myco__rl_take(myco__rl_t *rl, const char *key, size_t klen, uint64_t now,
		   uint64_t *retry_after_ns)
{
	uint32_t h = myco__hash32(key, klen);
	rl_shard_t *s = &rl->sh[h % RL_SHARDS];
	bucket_t *b;
	bool ok;

	pthread_mutex_lock(&s->mu);
	for (b = s->tab[(h >> 8) & 255]; b; b = b->next)
		if (b->hash == h && b->klen == klen && memcmp(b->key, key, klen) == 0)
			break;
	if (!b) {
		if (s->n >= rl->max_per_shard)
			shrink(rl, s, now);
		b = malloc(sizeof(*b) + klen);
		if (!b) {
			pthread_mutex_unlock(&s->mu);
			return true;            /* fail open under memory pressure */
		}
		b->hash = h;
		b->klen = klen;
		memcpy(b->key, key, klen);
		b->tokens = rl->burst;
		b->last = now;
		b->next = s->tab[(h >> 8) & 255];
		s->tab[(h >> 8) & 255] = b;
		s->n++;
	}
	refill(rl, b, now);
	ok = b->tokens >= 1.0;
	if (ok)
		b->tokens -= 1.0;
	else if (retry_after_ns)
		*retry_after_ns = (uint64_t)((1.0 - b->tokens) / rl->rate * 1e9) + 1;
	pthread_mutex_unlock(&s->mu);
	return ok;
}
