/*
 * util.c: small shared helpers of lib/lang: the arena, growable arrays, the
 * string hash table, edit distance for "did you mean", units and number
 * scaling with overflow checks.  Not for: anything language-specific beyond
 * the unit names.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lang_int.h"

struct myco__chunk {
	struct myco__chunk *next;
	size_t used, cap;
	_Alignas(16) unsigned char data[];
};

void *myco__arena_alloc(myco__arena_t *a, size_t n)
{
	struct myco__chunk *c = a->head;
	n = (n + 15) & ~(size_t)15;
	if (n == 0)
		n = 16;
	if (!c || c->cap - c->used < n) {
		size_t cap = n > 65536 ? n : 65536;
		c = malloc(sizeof(*c) + cap);
		if (!c)
			return NULL;
		c->cap = cap;
		c->used = 0;
		/* keep the current (partly free) chunk at the head for big blocks */
		if (n > 65536 && a->head) {
			c->next = a->head->next;
			a->head->next = c;
		} else {
			c->next = a->head;
			a->head = c;
		}
	}
	void *p = c->data + c->used;
	c->used += n;
	memset(p, 0, n);
	return p;
}

char *myco__arena_strndup(myco__arena_t *a, const char *s, size_t n)
{
	char *p = myco__arena_alloc(a, n + 1);
	if (p) {
		memcpy(p, s, n);
		p[n] = 0;
	}
	return p;
}

char *myco__arena_strdup(myco__arena_t *a, const char *s)
{
	return myco__arena_strndup(a, s, strlen(s));
}

void myco__arena_free(myco__arena_t *a)
{
	struct myco__chunk *c = a->head;
	while (c) {
		struct myco__chunk *n = c->next;
		free(c);
		c = n;
	}
	a->head = NULL;
}

int myco__grow(void **v, size_t *cap, size_t n, size_t elem)
{
	if (n <= *cap)
		return 0;
	size_t nc = *cap ? *cap * 2 : 8;
	while (nc < n)
		nc *= 2;
	if (nc > SIZE_MAX / elem)
		return -ENOMEM;
	void *p = realloc(*v, nc * elem);
	if (!p)
		return -ENOMEM;
	*v = p;
	*cap = nc;
	return 0;
}

/* FNV-1a */
uint32_t myco__hash(const char *s)
{
	uint32_t h = 2166136261u;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

static int htab_resize(myco__htab_t *h, size_t ncap)
{
	myco__hent_t *e = calloc(ncap, sizeof(*e));
	if (!e)
		return -ENOMEM;
	for (size_t i = 0; i < h->cap; i++) {
		if (!h->e[i].key)
			continue;
		size_t j = h->e[i].hash & (ncap - 1);
		while (e[j].key)
			j = (j + 1) & (ncap - 1);
		e[j] = h->e[i];
	}
	free(h->e);
	h->e = e;
	h->cap = ncap;
	return 0;
}

int myco__htab_put(myco__htab_t *h, const char *key, uint32_t val, uint32_t *old)
{
	if ((h->n + 1) * 2 > h->cap) {
		int rc = htab_resize(h, h->cap ? h->cap * 2 : 64);
		if (rc)
			return rc;
	}
	uint32_t hv = myco__hash(key);
	size_t j = hv & (h->cap - 1);
	while (h->e[j].key) {
		if (h->e[j].hash == hv && !strcmp(h->e[j].key, key)) {
			if (old)
				*old = h->e[j].val;
			return -EEXIST;
		}
		j = (j + 1) & (h->cap - 1);
	}
	h->e[j].key = key;
	h->e[j].hash = hv;
	h->e[j].val = val;
	h->n++;
	return 0;
}

uint32_t myco__htab_get(const myco__htab_t *h, const char *key)
{
	if (!h->cap)
		return MYCO_LANG_NONE;
	uint32_t hv = myco__hash(key);
	size_t j = hv & (h->cap - 1);
	while (h->e[j].key) {
		if (h->e[j].hash == hv && !strcmp(h->e[j].key, key))
			return h->e[j].val;
		j = (j + 1) & (h->cap - 1);
	}
	return MYCO_LANG_NONE;
}

void myco__htab_free(myco__htab_t *h)
{
	free(h->e);
	h->e = NULL;
	h->cap = h->n = 0;
}

/* Levenshtein distance, bounded to short words (names are <= 128 bytes). */
static size_t edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	size_t row[MYCO__MAX_IDENT + 2];
	if (la > MYCO__MAX_IDENT || lb > MYCO__MAX_IDENT)
		return SIZE_MAX;
	for (size_t j = 0; j <= lb; j++)
		row[j] = j;
	for (size_t i = 1; i <= la; i++) {
		size_t prev = row[0];
		row[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t cur = row[j];
			size_t best = prev + (a[i - 1] != b[j - 1]);
			if (row[j] + 1 < best)
				best = row[j] + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			row[j] = best;
			prev = cur;
		}
	}
	return row[lb];
}

const char *myco__closest(const char *word, const char *const *cands, size_t n)
{
	size_t len = strlen(word);
	size_t limit = len / 3 > 1 ? len / 3 : 1;
	size_t best = SIZE_MAX;
	const char *bw = NULL;
	/* bound the work per call (hostile input: millions of long names) */
	uint64_t cells = 0, budget = 5000000;
	for (size_t i = 0; i < n && cells < budget; i++) {
		if (!cands[i] || !strcmp(cands[i], word))
			continue;
		size_t dl = strlen(cands[i]);
		size_t diff = dl > len ? dl - len : len - dl;
		if (diff > limit)
			continue;
		cells += (uint64_t)(len + 1) * (dl + 1);
		size_t dist = edit_distance(word, cands[i]);
		if (dist <= limit && dist < best) {
			best = dist;
			bw = cands[i];
		}
	}
	return bw;
}

bool myco__is_time_unit(const char *u, uint64_t *ns)
{
	static const struct { const char *n; uint64_t v; } t[] = {
		{ "ns", 1 }, { "us", 1000 }, { "ms", 1000000 },
		{ "s", 1000000000 },
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (!strcmp(u, t[i].n)) {
			if (ns)
				*ns = t[i].v;
			return true;
		}
	return false;
}

bool myco__is_size_unit(const char *u, uint64_t *bytes)
{
	static const struct { const char *n; uint64_t v; } t[] = {
		{ "B", 1 }, { "KiB", 1ull << 10 }, { "MiB", 1ull << 20 },
		{ "GiB", 1ull << 30 },
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (!strcmp(u, t[i].n)) {
			if (bytes)
				*bytes = t[i].v;
			return true;
		}
	return false;
}

int myco__num_scale(const char *text, uint64_t mul, uint64_t *out)
{
	uint64_t ip = 0, fp = 0, fdiv = 1;
	const char *p = text;
	for (; *p >= '0' && *p <= '9'; p++) {
		if (__builtin_mul_overflow(ip, 10, &ip) ||
		    __builtin_add_overflow(ip, (uint64_t)(*p - '0'), &ip))
			return -ERANGE;
	}
	if (*p == '.') {
		for (p++; *p >= '0' && *p <= '9'; p++) {
			if (fdiv > UINT64_MAX / 10 / 10)
				return -ERANGE;   /* too many decimals */
			fp = fp * 10 + (uint64_t)(*p - '0');
			fdiv *= 10;
		}
	}
	if (*p)
		return -EDOM;
	uint64_t r;
	if (__builtin_mul_overflow(ip, mul, &r))
		return -ERANGE;
	if (fp) {
		/* fp * mul / fdiv must be a whole number */
		unsigned __int128 f = (unsigned __int128)fp * mul;
		if (f % fdiv)
			return -EDOM;
		unsigned __int128 q = f / fdiv;
		if (q > UINT64_MAX || __builtin_add_overflow(r, (uint64_t)q, &r))
			return -ERANGE;
	}
	*out = r;
	return 0;
}

static int kw_cmp(const void *a, const void *b)
{
	return strcmp(a, *(const char *const *)b);
}

bool myco__is_c_keyword(const char *s)
{
	/* sorted (strcmp order) for bsearch */
	static const char *const kw[] = {
		"NULL", "alignas", "alignof", "asm", "auto", "bool", "break", "case",
		"char", "const", "continue", "default", "do", "double", "else", "enum",
		"extern", "false", "float", "for", "goto", "if", "inline", "int",
		"long", "register", "restrict", "return", "short", "signed", "sizeof",
		"static", "static_assert", "struct", "switch", "thread_local", "true",
		"typedef", "typeof", "union", "unsigned", "void", "volatile", "while",
	};
	if (s[0] == '_' && (s[1] == '_' || (s[1] >= 'A' && s[1] <= 'Z')))
		return true;
	return bsearch(s, kw, sizeof(kw) / sizeof(kw[0]), sizeof(kw[0]), kw_cmp) != NULL;
}
