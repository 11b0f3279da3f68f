/*
 * cache.c: myco-gate's response cache: a sharded hash table of byte values
 * with a time to live, bounded in bytes, with two eviction policies:
 * hyperbolic caching (evict, among a random sample, the entry with the
 * lowest hits / time-in-cache; Blankstein, Sen, Freedman, USENIX ATC 2017)
 * and plain LRU, kept for comparison (bench/gate replays a Zipf trace
 * through both).  Not for: deciding what is cacheable (gate.c).
 */
#include "gate_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

typedef struct entry {
	struct entry *hnext;             /* hash chain */
	struct entry *prev, *next;       /* LRU list, most recent first */
	size_t slot;                     /* index in shard->all */
	uint32_t hash;
	uint64_t expires, born, hits;
	size_t klen, vlen;
	char data[];                     /* key then value */
} entry_t;

typedef struct shard {
	pthread_mutex_t mu;
	entry_t **buckets;
	size_t nbuckets, n;
	entry_t **all;                   /* dense array for sampling */
	size_t cap_all;
	entry_t *head, *tail;
	size_t bytes, cap;
	uint64_t rng;
	uint64_t hits, misses, evictions;
} shard_t;

struct myco__cache {
	myco__cache_policy_t pol;
	unsigned sample;
	unsigned nshards;
	shard_t shards[];
};

uint32_t myco__hash32(const void *p, size_t n)
{
	const unsigned char *s = p;
	uint32_t h = 2166136261u;
	size_t i;

	for (i = 0; i < n; i++) {
		h ^= s[i];
		h *= 16777619u;
	}
	/* finalise (murmur3 fmix) so that low bits spread */
	h ^= h >> 16;
	h *= 0x85ebca6bu;
	h ^= h >> 13;
	h *= 0xc2b2ae35u;
	h ^= h >> 16;
	return h;
}

int myco__cache_create(myco__cache_t **out, size_t cap_bytes, myco__cache_policy_t pol,
		       unsigned sample)
{
	unsigned ns = cap_bytes >= (16u << 20) ? 16 : 1, i;
	myco__cache_t *c = calloc(1, sizeof(*c) + ns * sizeof(shard_t));

	if (!c)
		return -ENOMEM;
	c->pol = pol;
	c->sample = sample ? sample : 64;
	c->nshards = ns;
	for (i = 0; i < ns; i++) {
		shard_t *s = &c->shards[i];
		pthread_mutex_init(&s->mu, NULL);
		s->cap = cap_bytes / ns;
		s->rng = 0x9e3779b97f4a7c15ull * (i + 1);
		s->nbuckets = 1024;
		s->buckets = calloc(s->nbuckets, sizeof(*s->buckets));
		if (!s->buckets) {
			c->nshards = i + 1;
			myco__cache_destroy(c);
			return -ENOMEM;
		}
	}
	*out = c;
	return 0;
}

void myco__cache_destroy(myco__cache_t *c)
{
	unsigned i;

	if (!c)
		return;
	for (i = 0; i < c->nshards; i++) {
		shard_t *s = &c->shards[i];
		entry_t *e = s->head, *n;
		for (; e; e = n) {
			n = e->next;
			free(e);
		}
		free(s->buckets);
		free(s->all);
		pthread_mutex_destroy(&s->mu);
	}
	free(c);
}

static uint64_t rnd(shard_t *s)
{
	/* xorshift64* */
	s->rng ^= s->rng >> 12;
	s->rng ^= s->rng << 25;
	s->rng ^= s->rng >> 27;
	return s->rng * 2685821657736338717ull;
}

static entry_t **find(shard_t *s, uint32_t h, const char *k, size_t kl)
{
	entry_t **pp = &s->buckets[h & (s->nbuckets - 1)];

	for (; *pp; pp = &(*pp)->hnext)
		if ((*pp)->hash == h && (*pp)->klen == kl && memcmp((*pp)->data, k, kl) == 0)
			return pp;
	return pp;
}

static void unlink_entry(shard_t *s, entry_t *e)
{
	entry_t **pp = find(s, e->hash, e->data, e->klen);

	if (*pp == e)
		*pp = e->hnext;
	if (e->prev)
		e->prev->next = e->next;
	else
		s->head = e->next;
	if (e->next)
		e->next->prev = e->prev;
	else
		s->tail = e->prev;
	s->all[e->slot] = s->all[s->n - 1];
	s->all[e->slot]->slot = e->slot;
	s->n--;
	s->bytes -= e->klen + e->vlen + sizeof(*e);
	free(e);
}

static void to_front(shard_t *s, entry_t *e)
{
	if (s->head == e)
		return;
	e->prev->next = e->next;
	if (e->next)
		e->next->prev = e->prev;
	else
		s->tail = e->prev;
	e->prev = NULL;
	e->next = s->head;
	s->head->prev = e;
	s->head = e;
}

static void evict_one(myco__cache_t *c, shard_t *s, uint64_t now)
{
	entry_t *victim = NULL;

	if (!s->n)
		return;
	if (c->pol == MYCO__CACHE_LRU) {
		victim = s->tail;
	} else {
		double best = 0;
		unsigned i, k = c->sample < s->n ? c->sample : (unsigned)s->n;
		for (i = 0; i < k; i++) {
			entry_t *e = s->all[rnd(s) % s->n];
			double age = (double)(now - e->born) + 1.0;
			double p = e->expires <= now ? -1.0 : (double)e->hits / age;
			if (!victim || p < best) {
				victim = e;
				best = p;
			}
		}
	}
	s->evictions++;
	unlink_entry(s, victim);
}

int myco__cache_get(myco__cache_t *c, const char *key, size_t klen, char **val, size_t *vlen,
		    uint64_t now)
{
	uint32_t h = myco__hash32(key, klen);
	shard_t *s = &c->shards[h % c->nshards];
	entry_t *e;
	int rc = -ENOENT;

	pthread_mutex_lock(&s->mu);
	e = *find(s, h, key, klen);
	if (e && e->expires <= now) {
		unlink_entry(s, e);
		e = NULL;
	}
	if (e) {
		e->hits++;
		if (c->pol == MYCO__CACHE_LRU)
			to_front(s, e);
		rc = 0;
		if (val) {
			*val = malloc(e->vlen ? e->vlen : 1);
			if (!*val)
				rc = -ENOMEM;
			else
				memcpy(*val, e->data + e->klen, e->vlen);
		}
		if (vlen)
			*vlen = e->vlen;
		s->hits++;
	} else {
		s->misses++;
	}
	pthread_mutex_unlock(&s->mu);
	return rc;
}

int myco__cache_put(myco__cache_t *c, const char *key, size_t klen, const void *val,
		    size_t vlen, uint64_t now, uint64_t ttl_ns)
{
	uint32_t h = myco__hash32(key, klen);
	shard_t *s = &c->shards[h % c->nshards];
	size_t sz = sizeof(entry_t) + klen + vlen;
	entry_t *e, **pp;

	if (sz > s->cap)
		return -E2BIG;
	e = malloc(sz);
	if (!e)
		return -ENOMEM;
	memset(e, 0, sizeof(*e));
	e->hash = h;
	e->klen = klen;
	e->vlen = vlen;
	e->born = now;
	e->hits = 1;
	e->expires = now + ttl_ns;
	memcpy(e->data, key, klen);
	memcpy(e->data + klen, val, vlen);

	pthread_mutex_lock(&s->mu);
	pp = find(s, h, key, klen);
	if (*pp)
		unlink_entry(s, *pp);
	while (s->n && s->bytes + sz > s->cap)
		evict_one(c, s, now);
	if (s->n == s->cap_all) {
		size_t nc = s->cap_all ? s->cap_all * 2 : 256;
		entry_t **na = realloc(s->all, nc * sizeof(*na));
		if (!na) {
			pthread_mutex_unlock(&s->mu);
			free(e);
			return -ENOMEM;
		}
		s->all = na;
		s->cap_all = nc;
	}
	if (s->n + 1 > s->nbuckets) {
		size_t nb = s->nbuckets * 2, i;
		entry_t **b = calloc(nb, sizeof(*b));
		if (b) {
			for (i = 0; i < s->nbuckets; i++) {
				entry_t *x = s->buckets[i], *n;
				for (; x; x = n) {
					n = x->hnext;
					x->hnext = b[x->hash & (nb - 1)];
					b[x->hash & (nb - 1)] = x;
				}
			}
			free(s->buckets);
			s->buckets = b;
			s->nbuckets = nb;
		}
	}
	pp = &s->buckets[h & (s->nbuckets - 1)];
	e->hnext = *pp;
	*pp = e;
	e->next = s->head;
	if (s->head)
		s->head->prev = e;
	s->head = e;
	if (!s->tail)
		s->tail = e;
	e->slot = s->n;
	s->all[s->n++] = e;
	s->bytes += sz;
	pthread_mutex_unlock(&s->mu);
	return 0;
}

void myco__cache_stats(myco__cache_t *c, uint64_t *hits, uint64_t *misses, uint64_t *evictions,
		       size_t *bytes, size_t *entries)
{
	unsigned i;
	uint64_t h = 0, m = 0, ev = 0;
	size_t b = 0, n = 0;

	for (i = 0; i < c->nshards; i++) {
		shard_t *s = &c->shards[i];
		pthread_mutex_lock(&s->mu);
		h += s->hits;
		m += s->misses;
		ev += s->evictions;
		b += s->bytes;
		n += s->n;
		pthread_mutex_unlock(&s->mu);
	}
	if (hits) *hits = h;
	if (misses) *misses = m;
	if (evictions) *evictions = ev;
	if (bytes) *bytes = b;
	if (entries) *entries = n;
}
