/*
 * types.c: myco-kv's in-memory structures: byte strings, the chained hash
 * table (with Redis's SCAN cursor), lists as ring buffers, sorted sets as a
 * member dict plus a sorted array, value objects, and glob matching.
 * Not for: command semantics (cmd_*.c) or locking (db.c).
 *
 * The sorted array makes ZADD/ZREM O(n) memmove but O(log n) search; the
 * common sizes (thousands) stay in cache.  A skiplist is the change to make
 * if very large sorted sets matter.
 */
#include "kv_int.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

ks_t *ks_new(const void *p, size_t len)
{
	ks_t *s = malloc(sizeof(*s) + len + 1);
	if (!s)
		return NULL;
	s->len = len;
	s->cap = len;
	if (len)
		memcpy(s->d, p, len);
	s->d[len] = 0;
	return s;
}

ks_t *ks_grow(ks_t *s, size_t cap)
{
	ks_t *n;
	if (cap <= s->cap)
		return s;
	if (cap < s->cap * 2)
		cap = s->cap * 2;
	n = realloc(s, sizeof(*s) + cap + 1);
	if (!n)
		return NULL;
	n->cap = cap;
	return n;
}

void ks_free(ks_t *s)
{
	free(s);
}

/* ------------------------------------------------------------------ */

uint64_t kv_hash(const void *p, size_t len)
{
	const unsigned char *b = p;
	uint64_t h = 0xcbf29ce484222325ull ^ len;
	size_t i;

	for (i = 0; i + 8 <= len; i += 8) {
		uint64_t w;
		memcpy(&w, b + i, 8);
		h = (h ^ w) * 0x100000001b3ull;
		h ^= h >> 29;
	}
	for (; i < len; i++)
		h = (h ^ b[i]) * 0x100000001b3ull;
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ull;
	h ^= h >> 33;
	return h;
}

de_t *dict_find(const dict_t *d, const void *k, size_t kl)
{
	uint64_t h;
	de_t *e;

	if (!d->t)
		return NULL;
	h = kv_hash(k, kl);
	for (e = d->t[h & d->mask]; e; e = e->next)
		if (e->h == h && e->key->len == kl && memcmp(e->key->d, k, kl) == 0)
			return e;
	return NULL;
}

static int dict_resize(dict_t *d, size_t nb)
{
	de_t **nt = calloc(nb, sizeof(*nt));
	size_t i;

	if (!nt)
		return -ENOMEM;
	if (d->t) {
		for (i = 0; i <= d->mask; i++) {
			de_t *e = d->t[i], *n;
			for (; e; e = n) {
				n = e->next;
				e->next = nt[e->h & (nb - 1)];
				nt[e->h & (nb - 1)] = e;
			}
		}
		free(d->t);
	}
	d->t = nt;
	d->mask = nb - 1;
	return 0;
}

de_t *dict_upsert(dict_t *d, const void *k, size_t kl, bool *isnew)
{
	de_t *e = dict_find(d, k, kl);
	uint64_t h;

	if (e) {
		*isnew = false;
		return e;
	}
	if (!d->t || d->n >= d->mask + 1) {
		if (dict_resize(d, d->t ? (d->mask + 1) * 2 : 4) < 0 && !d->t)
			return NULL;
	}
	e = calloc(1, sizeof(*e));
	if (!e)
		return NULL;
	e->key = ks_new(k, kl);
	if (!e->key) {
		free(e);
		return NULL;
	}
	h = kv_hash(k, kl);
	e->h = h;
	e->next = d->t[h & d->mask];
	d->t[h & d->mask] = e;
	d->n++;
	*isnew = true;
	return e;
}

de_t *dict_unlink(dict_t *d, const void *k, size_t kl)
{
	uint64_t h;
	de_t **pp, *e;

	if (!d->t)
		return NULL;
	h = kv_hash(k, kl);
	for (pp = &d->t[h & d->mask]; (e = *pp); pp = &e->next) {
		if (e->h == h && e->key->len == kl && memcmp(e->key->d, k, kl) == 0) {
			*pp = e->next;
			d->n--;
			/* shrink when a tenth full, as Redis does (keeps SCAN sane) */
			if (d->mask > 3 && d->n * 10 < d->mask + 1)
				(void)dict_resize(d, (d->mask + 1) / 2);
			return e;
		}
	}
	return NULL;
}

void dict_free_entry(de_t *e)
{
	ks_free(e->key);
	free(e);
}

void dict_clear(dict_t *d, void (*freeval)(void *v))
{
	size_t i;

	if (d->t) {
		for (i = 0; i <= d->mask; i++) {
			de_t *e = d->t[i], *n;
			for (; e; e = n) {
				n = e->next;
				if (freeval)
					freeval(e->v);
				dict_free_entry(e);
			}
		}
	}
	free(d->t);
	d->t = NULL;
	d->mask = 0;
	d->n = 0;
}

static uint64_t rev64(uint64_t v)
{
	v = ((v >> 1) & 0x5555555555555555ull) | ((v & 0x5555555555555555ull) << 1);
	v = ((v >> 2) & 0x3333333333333333ull) | ((v & 0x3333333333333333ull) << 2);
	v = ((v >> 4) & 0x0f0f0f0f0f0f0f0full) | ((v & 0x0f0f0f0f0f0f0f0full) << 4);
	v = ((v >> 8) & 0x00ff00ff00ff00ffull) | ((v & 0x00ff00ff00ff00ffull) << 8);
	v = ((v >> 16) & 0x0000ffff0000ffffull) | ((v & 0x0000ffff0000ffffull) << 16);
	return (v >> 32) | (v << 32);
}

uint64_t dict_scan(const dict_t *d, uint64_t cur, void (*fn)(de_t *e, void *arg), void *arg)
{
	uint64_t m;
	de_t *e;

	if (!d->t || d->n == 0)
		return 0;
	m = d->mask;
	for (e = d->t[cur & m]; e; e = e->next)
		fn(e, arg);
	cur |= ~m;
	cur = rev64(cur);
	cur++;
	cur = rev64(cur);
	return cur;
}

de_t *dict_random(const dict_t *d)
{
	size_t b, len, i;
	de_t *e;

	if (!d->t || d->n == 0)
		return NULL;
	do {
		b = (size_t)random() & d->mask;
	} while (!d->t[b]);
	for (len = 0, e = d->t[b]; e; e = e->next)
		len++;
	i = (size_t)random() % len;
	for (e = d->t[b]; i--; e = e->next)
		;
	return e;
}

/* ------------------------------------------------------------------ */

int list_push(klist_t *l, ks_t *s, bool left)
{
	if (l->len == l->cap) {
		size_t nc = l->cap ? l->cap * 2 : 8, i;
		ks_t **na = malloc(nc * sizeof(*na));
		if (!na)
			return -ENOMEM;
		for (i = 0; i < l->len; i++)
			na[i] = l->a[(l->head + i) % l->cap];
		free(l->a);
		l->a = na;
		l->cap = nc;
		l->head = 0;
	}
	if (left) {
		l->head = (l->head + l->cap - 1) % l->cap;
		l->a[l->head] = s;
	} else {
		l->a[(l->head + l->len) % l->cap] = s;
	}
	l->len++;
	return 0;
}

ks_t *list_pop(klist_t *l, bool left)
{
	ks_t *s;
	if (!l->len)
		return NULL;
	if (left) {
		s = l->a[l->head];
		l->head = (l->head + 1) % l->cap;
	} else {
		s = l->a[(l->head + l->len - 1) % l->cap];
	}
	l->len--;
	return s;
}

ks_t *list_at(const klist_t *l, size_t i)
{
	return l->a[(l->head + i) % l->cap];
}

void list_set(klist_t *l, size_t i, ks_t *s)
{
	l->a[(l->head + i) % l->cap] = s;
}

int list_insert(klist_t *l, size_t i, ks_t *s)
{
	size_t j;
	if (list_push(l, s, false) < 0)
		return -ENOMEM;
	for (j = l->len - 1; j > i; j--)
		list_set(l, j, list_at(l, j - 1));
	list_set(l, i, s);
	return 0;
}

void list_remove(klist_t *l, size_t i)
{
	size_t j;
	for (j = i; j + 1 < l->len; j++)
		list_set(l, j, list_at(l, j + 1));
	l->len--;
}

/* ------------------------------------------------------------------ */

int zcmp(double s1, const char *m1, size_t l1, double s2, const char *m2, size_t l2)
{
	int c;
	if (s1 < s2)
		return -1;
	if (s1 > s2)
		return 1;
	c = memcmp(m1, m2, l1 < l2 ? l1 : l2);
	if (c)
		return c;
	return l1 < l2 ? -1 : l1 > l2 ? 1 : 0;
}

size_t zset_rank(const kzset_t *z, double score, const ks_t *m)
{
	size_t lo = 0, hi = z->n;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		const zent_t *e = &z->a[mid];
		if (zcmp(e->score, e->member->d, e->member->len, score, m->d, m->len) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

int zset_insert(kzset_t *z, double score, ks_t *m)
{
	size_t i;
	if (z->n == z->cap) {
		size_t nc = z->cap ? z->cap * 2 : 8;
		zent_t *na = realloc(z->a, nc * sizeof(*na));
		if (!na)
			return -ENOMEM;
		z->a = na;
		z->cap = nc;
	}
	i = zset_rank(z, score, m);
	memmove(&z->a[i + 1], &z->a[i], (z->n - i) * sizeof(*z->a));
	z->a[i].score = score;
	z->a[i].member = m;
	z->n++;
	return 0;
}

void zset_remove_at(kzset_t *z, size_t i)
{
	memmove(&z->a[i], &z->a[i + 1], (z->n - i - 1) * sizeof(*z->a));
	z->n--;
}

/* ------------------------------------------------------------------ */

kobj_t *obj_new(int type)
{
	kobj_t *o = calloc(1, sizeof(*o));
	if (!o)
		return NULL;
	o->type = (uint8_t)type;
	atomic_init(&o->refs, 1);
	o->expire = -1;
	switch (type) {
	case T_STRING: o->s = ks_new("", 0); break;
	case T_LIST: o->l = calloc(1, sizeof(*o->l)); break;
	case T_HASH: o->h = calloc(1, sizeof(*o->h)); break;
	case T_SET: o->set = calloc(1, sizeof(*o->set)); break;
	case T_ZSET: o->z = calloc(1, sizeof(*o->z)); break;
	}
	if (!o->s) {
		free(o);
		return NULL;
	}
	return o;
}

static void free_ks(void *v)
{
	ks_free(v);
}

/* Copy every entry of src into the empty dst; dup_v copies a value (NULL:
 * the union is copied as is).  -ENOMEM leaves dst partly filled. */
static int dict_copy(dict_t *dst, const dict_t *src, void *(*dup_v)(const void *v))
{
	size_t i;
	bool isnew;

	if (!src->t)
		return 0;
	for (i = 0; i <= src->mask; i++) {
		const de_t *e;
		for (e = src->t[i]; e; e = e->next) {
			de_t *n = dict_upsert(dst, e->key->d, e->key->len, &isnew);
			if (!n)
				return -ENOMEM;
			if (dup_v) {
				n->v = dup_v(e->v);
				if (!n->v)
					return -ENOMEM;
			} else {
				n->d = e->d;
			}
		}
	}
	return 0;
}

static void *dup_ks(const void *v)
{
	const ks_t *s = v;
	return ks_new(s->d, s->len);
}

kobj_t *obj_dup(const kobj_t *o)
{
	kobj_t *n = obj_new(o->type);
	size_t i;
	int rc = 0;

	if (!n)
		return NULL;
	n->expire = o->expire;
	switch (o->type) {
	case T_STRING:
		ks_free(n->s);
		n->s = ks_new(o->s->d, o->s->len);
		if (!n->s) {
			free(n);
			return NULL;
		}
		break;
	case T_LIST:
		for (i = 0; i < o->l->len && rc == 0; i++) {
			const ks_t *s = list_at(o->l, i);
			ks_t *c = ks_new(s->d, s->len);
			rc = c ? list_push(n->l, c, false) : -ENOMEM;
			if (rc < 0)
				ks_free(c);
		}
		break;
	case T_HASH:
		rc = dict_copy(n->h, o->h, dup_ks);
		break;
	case T_SET:
		rc = dict_copy(n->set, o->set, NULL);
		break;
	case T_ZSET:
		/* the array shares its members with the dict's keys */
		rc = dict_copy(&n->z->d, &o->z->d, NULL);
		if (rc == 0 && o->z->n) {
			n->z->a = malloc(o->z->n * sizeof(*n->z->a));
			if (!n->z->a) {
				rc = -ENOMEM;
				break;
			}
			n->z->cap = o->z->n;
			for (i = 0; i < o->z->n; i++) {
				const ks_t *m = o->z->a[i].member;
				n->z->a[i].score = o->z->a[i].score;
				n->z->a[i].member = dict_find(&n->z->d, m->d, m->len)->key;
			}
			n->z->n = o->z->n;
		}
		break;
	}
	if (rc < 0) {
		obj_free(n);
		return NULL;
	}
	return n;
}

void obj_free(void *p)
{
	kobj_t *o = p;
	size_t i;

	if (!o || atomic_fetch_sub(&o->refs, 1) > 1)
		return;
	switch (o->type) {
	case T_STRING:
		ks_free(o->s);
		break;
	case T_LIST:
		for (i = 0; i < o->l->len; i++)
			ks_free(list_at(o->l, i));
		free(o->l->a);
		free(o->l);
		break;
	case T_HASH:
		dict_clear(o->h, free_ks);
		free(o->h);
		break;
	case T_SET:
		dict_clear(o->set, NULL);
		free(o->set);
		break;
	case T_ZSET:
		dict_clear(&o->z->d, NULL);
		free(o->z->a);
		free(o->z);
		break;
	}
	free(o);
}

const char *obj_type_name(int type)
{
	static const char *n[] = { "string", "list", "hash", "set", "zset" };
	return type >= 0 && type <= T_ZSET ? n[type] : "none";
}

/* ------------------------------------------------------------------ */

static int lower(int c, bool nocase)
{
	return nocase && c >= 'A' && c <= 'Z' ? c + 32 : c;
}

/* Redis's stringmatchlen: * ? [abc] [^a-z] and \ escapes. */
static bool match_rec(const char *p, size_t pl, const char *s, size_t sl, bool nc, int depth)
{
	if (depth > 1000)
		return false;
	while (pl) {
		switch (*p) {
		case '*':
			while (pl > 1 && p[1] == '*') {
				p++;
				pl--;
			}
			if (pl == 1)
				return true;
			while (sl) {
				if (match_rec(p + 1, pl - 1, s, sl, nc, depth + 1))
					return true;
				s++;
				sl--;
			}
			return match_rec(p + 1, pl - 1, s, 0, nc, depth + 1);
		case '?':
			if (!sl)
				return false;
			s++;
			sl--;
			break;
		case '[': {
			bool not = false, hit = false;
			p++;
			pl--;
			if (pl && *p == '^') {
				not = true;
				p++;
				pl--;
			}
			for (;;) {
				if (!pl) {
					/* unterminated: Redis treats the end as ']' */
					break;
				}
				if (*p == '\\' && pl >= 2) {
					p++;
					pl--;
					if (sl && *p == *s)
						hit = true;
				} else if (*p == ']') {
					break;
				} else if (pl >= 3 && p[1] == '-') {
					int a = lower((unsigned char)p[0], nc), b = lower((unsigned char)p[2], nc);
					int c = sl ? lower((unsigned char)*s, nc) : -1;
					if (a > b) {
						int t = a;
						a = b;
						b = t;
					}
					if (c >= a && c <= b)
						hit = true;
					p += 2;
					pl -= 2;
				} else if (sl && lower((unsigned char)*p, nc) == lower((unsigned char)*s, nc)) {
					hit = true;
				}
				p++;
				pl--;
			}
			if (not)
				hit = !hit;
			if (!hit || !sl)
				return false;
			s++;
			sl--;
			if (!pl)
				return sl == 0;
			break;
		}
		case '\\':
			if (pl >= 2) {
				p++;
				pl--;
			}
			/* fall through */
		default:
			if (!sl || lower((unsigned char)*p, nc) != lower((unsigned char)*s, nc))
				return false;
			s++;
			sl--;
			break;
		}
		p++;
		pl--;
		if (!sl) {
			while (pl && *p == '*') {
				p++;
				pl--;
			}
			break;
		}
	}
	return pl == 0 && sl == 0;
}

bool kv_match(const char *pat, size_t pl, const char *s, size_t sl, bool nocase)
{
	return match_rec(pat, pl, s, sl, nocase, 0);
}
