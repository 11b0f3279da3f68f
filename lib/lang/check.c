/*
 * check.c: from statement trees to the checked model.  Loads the root file
 * and its imports (cycles, missing files and depth are errors), lowers each
 * statement following its production in docs/language.md (argument shapes,
 * units, overflow), resolves names through hash tables, lays out message
 * types, and runs the system checks (channel ends, budgets, per-core
 * utilisation, frame windows, memory, call cycles, groups).
 * Every error is reported; a statement that failed to parse is skipped
 * quietly so that one typo does not cascade.  Not for: syntax (parse.c),
 * output formats (json.c, gen.c, graph.c, fmt.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lang_int.h"

/* --------------------------------------------------------------- builders */

typedef struct bmsg {
	myco_msgtype_t m;
	myco__stmt_t *st;
	myco_field_t *f;           /* malloc'd until finalised */
	size_t nf, fcap;
	int state;                 /* layout: 0 not yet, 1 in progress, 2 done, 3 bad */
	bool bad;
} bmsg_t;

typedef struct benum {
	myco_enum_t e;
	myco__stmt_t *st;
	myco_enum_value_t *v;      /* malloc'd until finalised */
	size_t nv, vcap;
	bool bad;
} benum_t;

typedef struct bchan {
	myco_channel_t c;
	myco__stmt_t *st;
	uint32_t *snd, *rcv, *cli;
	size_t nsnd, csnd, nrcv, crcv, ncli, ccli;
	uint32_t nserve;
	myco_pos_t serve_pos[2];
	myco_pos_t rcv_pos[2];
	myco_pos_t snd_pos[2];
	bool bad;
	bool unsure;               /* a misspelt reference may have meant it */
} bchan_t;

typedef struct bpart {
	myco_partition_t p;
	myco__stmt_t *st;
	myco_end_t *ends;
	size_t nends, cends;
	bool bad;
	bool has_window;
	myco_pos_t mode_pos, mem_pos, group_pos;
} bpart_t;

typedef struct bgroup {
	myco_group_t g;
	myco__stmt_t *st;
	bool bad;
} bgroup_t;

typedef struct bfile {
	char *real;                /* realpath, malloc'd */
	const char *name;          /* model arena */
	bool done;
	myco__tree_t tree;
} bfile_t;

typedef struct ctx {
	myco__arena_t ma;          /* model: survives on success */
	myco__arena_t pa;          /* parse trees: freed at the end */
	myco_diags_t *d;
	unsigned flags;
	bfile_t *files;
	size_t nfiles, cfiles;
	size_t *stack;             /* import chain (indices into files) */
	size_t nstack, cstack;
	myco__stmt_t *system;      /* the system statement */
	bmsg_t *msgs;     size_t nmsgs, cmsgs;
	benum_t *enums;   size_t nenums, cenums;
	bchan_t *chans;   size_t nchans, cchans;
	bpart_t *parts;   size_t nparts, cparts;
	bgroup_t *groups; size_t ngroups, cgroups;
	myco__htab_t hmsg, hchan, hpart, hgroup, henum;
	const char **ntype;        /* message and enum names */
	const char **nmsg, **nchan, **npart, **ngroup;   /* names for "did you mean" */
	myco_system_t *sys;
	myco_schedule_t sched;
	myco__stmt_t *sched_st;
	uint32_t *port_owner;      /* port -> partition index + 1 (65536 entries) */
	bool oom;
} ctx_t;

#define MYCO__LOAD_TOO_BIG 0x80000000u   /* internal flag of load() */

typedef struct sys_internal {
	myco__arena_t arena;
	myco__htab_t hmsg, hchan, hpart, hgroup, henum;
} sys_internal_t;

#define ERR(c, code, pos, len, hint, ...) \
	myco__diag((c)->d, MYCO_SEV_ERROR, code, pos, len, hint, __VA_ARGS__)
#define WARN(c, code, pos, len, hint, ...) \
	myco__diag((c)->d, MYCO_SEV_WARNING, code, pos, len, hint, __VA_ARGS__)

/* A "did you mean `x`?" hint in the parse arena, or fallback. */
static const char *mean(ctx_t *c, const char *w, const char *const *cands, size_t n,
			const char *fallback)
{
	if (c->d->stopped)
		return fallback;   /* nothing is printed any more */
	const char *best = myco__closest(w, cands, n);
	if (!best)
		return fallback;
	char buf[300];
	snprintf(buf, sizeof(buf), "did you mean `%s`?", best);
	const char *r = myco__arena_strdup(&c->pa, buf);
	return r ? r : fallback;
}

static const char *astr(ctx_t *c, const char *s)
{
	char *r = myco__arena_strdup(&c->ma, s);
	if (!r)
		c->oom = true;
	return r ? r : "";
}

/* ------------------------------------------------------------ arg cursor */

typedef struct cur {
	ctx_t *c;
	myco__stmt_t *s;
	size_t i;
	bool failed;
	const char *usage;         /* shape of the statement, for hints */
} cur_t;

static cur_t cur_of(ctx_t *c, myco__stmt_t *s, const char *usage)
{
	cur_t k = { c, s, 1, false, usage };
	return k;
}

static const char *arg_desc(const myco__arg_t *a, char *buf, size_t n)
{
	switch (a->kind) {
	case MYCO__A_IDENT: snprintf(buf, n, "`%s`", a->text); break;
	case MYCO__A_NUM: snprintf(buf, n, "number `%s`", a->text); break;
	case MYCO__A_QTY: snprintf(buf, n, "`%s %s`", a->text, a->unit); break;
	case MYCO__A_STR: snprintf(buf, n, "a string"); break;
	default: snprintf(buf, n, "`%c`", a->punct); break;
	}
	return buf;
}

static char hintbuf_dummy;

static const char *usage_hint(cur_t *k)
{
	if (!k->usage)
		return NULL;
	char buf[300];
	snprintf(buf, sizeof(buf), "write it as: %s", k->usage);
	const char *r = myco__arena_strdup(&k->c->pa, buf);
	return r ? r : &hintbuf_dummy;
}

/* Report "expected X" at the current argument or at the statement end. */
static void expected(cur_t *k, const char *what)
{
	char buf[160];
	if (k->failed)
		return;
	k->failed = true;
	if (k->s->bad)
		return;   /* the statement had a syntax error, already reported */
	if (k->i < k->s->nargs) {
		myco__arg_t *a = &k->s->args[k->i];
		ERR(k->c, "E011", a->pos, a->len, usage_hint(k), "expected %s, found %s",
		    what, arg_desc(a, buf, sizeof(buf)));
	} else {
		myco_pos_t p = k->s->end;
		if (!k->s->block && k->s->nargs) {
			myco__arg_t *a = &k->s->args[k->s->nargs - 1];
			p = a->pos;
			p.col += a->len;
		}
		ERR(k->c, "E011", p, 1, usage_hint(k), "expected %s", what);
	}
}

static myco__arg_t *peek(cur_t *k)
{
	return k->i < k->s->nargs ? &k->s->args[k->i] : NULL;
}

static bool at_punct(cur_t *k, char ch)
{
	myco__arg_t *a = peek(k);
	return a && a->kind == MYCO__A_PUNCT && a->punct == ch;
}

static bool want_punct(cur_t *k, char ch)
{
	if (k->failed)
		return false;
	if (at_punct(k, ch)) {
		k->i++;
		return true;
	}
	char w[8] = { '`', ch, '`', 0 };
	expected(k, w);
	return false;
}

static myco__arg_t *want_ident(cur_t *k, const char *what)
{
	if (k->failed)
		return NULL;
	myco__arg_t *a = peek(k);
	if (a && a->kind == MYCO__A_IDENT) {
		k->i++;
		return a;
	}
	expected(k, what);
	return NULL;
}

/* The keyword `word` (e.g. `per` in `budget 2 ms per 10 ms`); what names it
 * in the diagnostic. */
static bool want_word(cur_t *k, const char *word, const char *what)
{
	if (k->failed)
		return false;
	myco__arg_t *a = peek(k);
	if (a && a->kind == MYCO__A_IDENT && !strcmp(a->text, word)) {
		k->i++;
		return true;
	}
	expected(k, what);
	return false;
}

static myco__arg_t *want_str(cur_t *k, const char *what)
{
	if (k->failed)
		return NULL;
	myco__arg_t *a = peek(k);
	if (a && a->kind == MYCO__A_STR) {
		k->i++;
		return a;
	}
	expected(k, what);
	return NULL;
}

/* A bare whole number in [lo, hi]. */
static bool want_uint(cur_t *k, const char *what, uint64_t lo, uint64_t hi, uint64_t *out)
{
	if (k->failed)
		return false;
	myco__arg_t *a = peek(k);
	if (!a || a->kind != MYCO__A_NUM) {
		if (a && a->kind == MYCO__A_QTY) {
			k->failed = true;
			ERR(k->c, "E030", a->pos, a->len, "write a plain number here",
			    "%s takes no unit", what);
			return false;
		}
		expected(k, what);
		return false;
	}
	k->i++;
	uint64_t v;
	int rc = myco__num_scale(a->text, 1, &v);
	if (rc == -EDOM) {
		k->failed = true;
		ERR(k->c, "E032", a->pos, a->len, "write a whole number", "%s must be a whole number", what);
		return false;
	}
	if (rc || v < lo || v > hi) {
		k->failed = true;
		char h[96];
		snprintf(h, sizeof(h), "allowed range is %llu to %llu",
			 (unsigned long long)lo, (unsigned long long)hi);
		const char *w = what;
		if (!strncmp(w, "a ", 2))
			w += 2;
		else if (!strncmp(w, "the ", 4))
			w += 4;
		ERR(k->c, rc ? "E031" : "E032", a->pos, a->len, myco__arena_strdup(&k->c->pa, h),
		    "%s %s is out of range", w, a->text);
		return false;
	}
	*out = v;
	return true;
}

/* A quantity with a time (is_time) or size unit, converted. */
static bool want_qty(cur_t *k, bool is_time, const char *what, uint64_t *out)
{
	if (k->failed)
		return false;
	myco__arg_t *a = peek(k);
	const char *hint = is_time ? "time units are ns, us, ms and s"
				   : "size units are B, KiB, MiB and GiB";
	if (a && a->kind == MYCO__A_NUM) {
		myco__arg_t *u = k->i + 1 < k->s->nargs ? &k->s->args[k->i + 1] : NULL;
		k->failed = true;
		if (u && u->kind == MYCO__A_IDENT && u->pos.line == a->pos.line) {
			static const char *const tu[] = { "ns", "us", "ms", "s" };
			static const char *const su[] = { "B", "KiB", "MiB", "GiB" };
			ERR(k->c, "E030", u->pos, u->len,
			    mean(k->c, u->text, is_time ? tu : su, 4, hint), "unknown unit `%s`", u->text);
			return false;
		}
		ERR(k->c, "E030", a->pos, a->len, hint, "%s needs a unit", what);
		return false;
	}
	if (!a || a->kind != MYCO__A_QTY) {
		if (a && a->kind == MYCO__A_IDENT) {
			static const char *const units[] = { "ns", "us", "ms", "s", "B", "KiB",
							     "MiB", "GiB" };
			const char *b = myco__closest(a->text, units, 8);
			if (b) {
				k->failed = true;
				ERR(k->c, "E030", a->pos, a->len, hint, "unknown unit `%s`", a->text);
				return false;
			}
		}
		expected(k, is_time ? "a time such as `10 ms`" : "a size such as `64 MiB`");
		return false;
	}
	uint64_t mul;
	bool ok = is_time ? myco__is_time_unit(a->unit, &mul) : myco__is_size_unit(a->unit, &mul);
	if (!ok) {
		k->failed = true;
		ERR(k->c, "E030", a->pos, a->len, hint, "%s must be a %s, not a %s", what,
		    is_time ? "time" : "size", is_time ? "size" : "time");
		return false;
	}
	k->i++;
	int rc = myco__num_scale(a->text, mul, out);
	if (rc == -ERANGE) {
		k->failed = true;
		ERR(k->c, "E031", a->pos, a->len, "values must fit in 64 bits after conversion",
		    "%s %s %s overflows", what, a->text, a->unit);
		return false;
	}
	if (rc) {
		k->failed = true;
		ERR(k->c, "E031", a->pos, a->len,
		    is_time ? "use a smaller unit, e.g. `1500 us` for 1.5 ms"
			    : "use a smaller unit so the value is whole bytes",
		    "%s %s %s is not a whole number of %s", what, a->text, a->unit,
		    is_time ? "nanoseconds" : "bytes");
		return false;
	}
	return true;
}

/* No arguments left (a block may follow). */
static bool args_done(cur_t *k)
{
	if (k->failed)
		return false;
	if (k->i < k->s->nargs) {
		char buf[160];
		myco__arg_t *a = &k->s->args[k->i];
		k->failed = true;
		ERR(k->c, "E012", a->pos, a->len, usage_hint(k), "unexpected %s",
		    arg_desc(a, buf, sizeof(buf)));
		return false;
	}
	return true;
}

/* No arguments left and no block: a simple statement is complete. */
static bool want_end(cur_t *k)
{
	if (!args_done(k))
		return false;
	if (k->s->block) {
		k->failed = true;
		ERR(k->c, "E013", k->s->pos, (uint32_t)strlen(k->s->args[0].text), usage_hint(k),
		    "`%s` takes no { } block", k->s->args[0].text);
		return false;
	}
	return true;
}

static bool want_block(ctx_t *c, myco__stmt_t *s, const char *usage)
{
	if (s->block)
		return true;
	char buf[300];
	snprintf(buf, sizeof(buf), "write it as: %s", usage);
	ERR(c, "E013", s->pos, (uint32_t)strlen(s->args[0].text),
	    myco__arena_strdup(&c->pa, buf), "`%s` needs a { } block", s->args[0].text);
	return false;
}

/* An identifier from a fixed set; index or -1 (reported). */
static int want_choice(cur_t *k, const char *what, const char *const *set, size_t n)
{
	myco__arg_t *a = want_ident(k, what);
	if (!a)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (!strcmp(a->text, set[i]))
			return (int)i;
	char buf[256] = "one of:";
	for (size_t i = 0; i < n; i++) {
		strncat(buf, " ", sizeof(buf) - strlen(buf) - 1);
		strncat(buf, set[i], sizeof(buf) - strlen(buf) - 1);
	}
	k->failed = true;
	ERR(k->c, "E011", a->pos, a->len, mean(k->c, a->text, set, n, myco__arena_strdup(&k->c->pa, buf)),
	    "unknown %s `%s`", what, a->text);
	return -1;
}

/* Unknown statement word in a block. */
static void unknown_stmt(ctx_t *c, myco__stmt_t *s, const char *ctxname, const char *where)
{
	size_t n;
	const char *const *kw = myco__keywords(ctxname, &n);
	char buf[300] = "";
	if (n) {
		snprintf(buf, sizeof(buf), "%s allows:", where);
		for (size_t i = 0; i < n; i++) {
			strncat(buf, " ", sizeof(buf) - strlen(buf) - 1);
			strncat(buf, kw[i], sizeof(buf) - strlen(buf) - 1);
		}
	}
	ERR(c, "E010", s->pos, (uint32_t)strlen(s->args[0].text),
	    mean(c, s->args[0].text, kw, n, n ? myco__arena_strdup(&c->pa, buf) : NULL),
	    "unknown statement `%s` in %s", s->args[0].text, where);
}

/* Duplicate-statement guard: bit i of *seen for keyword i. */
static bool once(ctx_t *c, myco__stmt_t *s, uint64_t *seen, unsigned bit)
{
	if (*seen & (1ull << bit)) {
		ERR(c, "E022", s->pos, (uint32_t)strlen(s->args[0].text), "keep only one of them",
		    "`%s` is given more than once", s->args[0].text);
		return false;
	}
	*seen |= 1ull << bit;
	return true;
}

static int kw_index(const char *ctxname, const char *w)
{
	size_t n;
	const char *const *kw = myco__keywords(ctxname, &n);
	for (size_t i = 0; i < n; i++)
		if (!strcmp(kw[i], w))
			return (int)i;
	return -1;
}

/* Name of a declaration (args[1]); reports and returns NULL when missing. */
static myco__arg_t *decl_name(ctx_t *c, myco__stmt_t *s, const char *usage)
{
	cur_t k = cur_of(c, s, usage);
	char what[64];
	snprintf(what, sizeof(what), "a name for the %s", s->args[0].text);
	myco__arg_t *a = want_ident(&k, what);
	if (a && myco__is_c_keyword(a->text)) {
		ERR(c, "E045", a->pos, a->len, "names become C identifiers in generated code; pick another",
		    "`%s` is a reserved word", a->text);
	}
	return a;
}

/* -------------------------------------------------------------- registries */

static int reg_name(ctx_t *c, myco__htab_t *h, size_t idx, myco__arg_t *a, const char *kind)
{
	uint32_t old;
	int rc = myco__htab_put(h, a->text, (uint32_t)idx, &old);
	if (rc == -EEXIST) {
		ERR(c, "E021", a->pos, a->len, "rename one of them", "duplicate %s `%s`", kind, a->text);
		return -EEXIST;
	}
	if (rc)
		c->oom = true;
	return rc;
}

/* ---------------------------------------------------------------- imports */

static int read_file(const char *path, char **buf, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	int rc = 0;
	struct stat st;
	char *b = NULL;
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st)) {
		rc = -errno;
		goto out;
	}
	if (S_ISDIR(st.st_mode)) {
		rc = -EISDIR;
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		rc = -EINVAL;
		goto out;
	}
	if ((uint64_t)st.st_size > MYCO__MAX_FILE) {
		rc = -EFBIG;
		goto out;
	}
	b = malloc((size_t)st.st_size + 1);
	if (!b) {
		rc = -ENOMEM;
		goto out;
	}
	size_t n = 0;
	while (n < (size_t)st.st_size) {
		ssize_t r = read(fd, b + n, (size_t)st.st_size - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			rc = -errno;
			goto out;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	b[n] = 0;
	*buf = b;
	*len = n;
	b = NULL;
out:
	free(b);
	close(fd);
	return rc;
}

static void collect_messages(ctx_t *c, myco__stmt_t **v, size_t n);
static void collect_enum(ctx_t *c, myco__stmt_t *s);

/* Parse one file's text into c->files[fi].tree and process its imports and
 * top-level messages.  root: the system file (may declare a system). */
static int load_text(ctx_t *c, size_t fi, const char *buf, size_t len, bool root);

static char *join_dir(const char *base, const char *rel)
{
	if (rel[0] == '/')
		return strdup(rel);
	const char *slash = strrchr(base, '/');
	if (!slash)
		return strdup(rel);
	size_t dl = (size_t)(slash - base);
	char *r = malloc(dl + 1 + strlen(rel) + 1);
	if (r) {
		memcpy(r, base, dl);
		r[dl] = '/';
		strcpy(r + dl + 1, rel);
	}
	return r;
}

static int do_import(ctx_t *c, size_t fi, myco__stmt_t *s)
{
	cur_t k = cur_of(c, s, "import \"file.myco\";");
	myco__arg_t *a = want_str(&k, "a file name in quotes");
	if (!a || !want_end(&k))
		return 0;
	if (c->flags & MYCO_LANG_NO_IMPORTS) {
		ERR(c, "E093", a->pos, a->len, "this caller loads files without imports",
		    "imports are disabled here");
		return 0;
	}
	if (c->nfiles >= MYCO__MAX_IMPORTS) {
		ERR(c, "E094", a->pos, a->len, "merge some files", "too many imported files (at most %d)",
		    MYCO__MAX_IMPORTS);
		return 0;
	}
	char *path = join_dir(c->files[fi].name, a->text);
	char *real = NULL, *buf = NULL;
	size_t len = 0;
	int rc = 0;
	if (!path)
		return -ENOMEM;
	if (strlen(a->text) != a->textlen || !a->textlen) {
		ERR(c, "E090", a->pos, a->len, "check the file name", "cannot import an empty file name");
		goto out;
	}
	real = realpath(path, NULL);
	if (!real) {
		ERR(c, "E090", a->pos, a->len, "paths are relative to the importing file's folder",
		    "cannot import \"%s\": %s", a->text, strerror(errno));
		goto out;
	}
	for (size_t i = 0; i < c->nstack; i++) {
		if (c->files[c->stack[i]].real && !strcmp(c->files[c->stack[i]].real, real)) {
			char chain[512] = "";
			for (size_t j = i; j < c->nstack; j++) {
				const char *nm = c->files[c->stack[j]].name;
				const char *base = strrchr(nm, '/');
				strncat(chain, base ? base + 1 : nm, sizeof(chain) - strlen(chain) - 1);
				strncat(chain, " -> ", sizeof(chain) - strlen(chain) - 1);
			}
			const char *base = strrchr(path, '/');
			strncat(chain, base ? base + 1 : path, sizeof(chain) - strlen(chain) - 1);
			ERR(c, "E091", a->pos, a->len, "move the shared types into a file both import",
			    "import cycle: %s", chain);
			goto out;
		}
	}
	for (size_t i = 0; i < c->nfiles; i++)
		if (c->files[i].real && !strcmp(c->files[i].real, real))
			goto out;   /* already loaded (diamond) */
	rc = read_file(real, &buf, &len);
	if (rc) {
		ERR(c, "E090", a->pos, a->len, "paths are relative to the importing file's folder",
		    "cannot import \"%s\": %s", a->text, strerror(-rc));
		rc = 0;
		goto out;
	}
	bfile_t f = { 0 };
	f.real = real;
	f.name = myco__arena_strdup(&c->ma, path);
	if (!f.name || MYCO__PUSH(c->files, c->nfiles, c->cfiles, f)) {
		rc = -ENOMEM;
		goto out;
	}
	real = NULL;
	rc = load_text(c, c->nfiles - 1, buf, len, false);
out:
	free(path);
	free(real);
	free(buf);
	return rc;
}

static int load_text(ctx_t *c, size_t fi, const char *buf, size_t len, bool root)
{
	int rc;
	const char *name = c->files[fi].name;
	if (myco__diags_add_src(c->d, name, buf, len) < 0)
		return -ENOMEM;
	if (len > MYCO__MAX_FILE) {
		myco_pos_t p = { name, 1, 1 };
		ERR(c, "E015", p, 1, "split the file", "file too large (more than 16 MiB)");
		return 0;
	}
	myco__tree_t t;
	rc = myco__parse(name, buf, len, &c->pa, c->d, &t);
	c->files[fi].tree = t;
	if (rc)
		return rc;
	if (MYCO__PUSH(c->stack, c->nstack, c->cstack, fi))
		return -ENOMEM;
	for (size_t i = 0; i < t.ntop && !rc && !c->d->stopped; i++) {
		myco__stmt_t *s = t.top[i];
		const char *w = s->args[0].text;
		if (s->bad && strcmp(w, "system") && strcmp(w, "message") && strcmp(w, "enum"))
			continue;
		if (!strcmp(w, "import")) {
			rc = do_import(c, fi, s);
		} else if (!strcmp(w, "message")) {
			collect_messages(c, &t.top[i], 1);
		} else if (!strcmp(w, "enum")) {
			collect_enum(c, s);
		} else if (!strcmp(w, "system")) {
			if (!root) {
				ERR(c, "E092", s->pos, 6, "imported files hold message types only",
				    "an imported file cannot declare a system");
			} else if (c->system) {
				ERR(c, "E095", s->pos, 6, "one file describes one system",
				    "more than one system in this file");
			} else {
				c->system = s;
			}
		} else {
			unknown_stmt(c, s, NULL, "a file");
		}
	}
	c->nstack--;
	c->files[fi].done = true;
	return rc;
}

/* --------------------------------------------------------------- messages */

static const char *const ftype_names[] = { "u8", "u16", "u32", "u64", "i8", "i16", "i32",
	"i64", "f32", "f64", "bool", "bytes", "string" };
static const uint32_t ftype_size[] = { 1, 2, 4, 8, 1, 2, 4, 8, 4, 8, 1, 1, 1 };

static void collect_messages(ctx_t *c, myco__stmt_t **v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		myco__stmt_t *s = v[i];
		myco__arg_t *a = decl_name(c, s, "message Name { field: type = 1; ... }");
		if (!a)
			continue;
		for (size_t t = 0; t < sizeof(ftype_names) / sizeof(ftype_names[0]); t++)
			if (!strcmp(a->text, ftype_names[t])) {
				ERR(c, "E021", a->pos, a->len, "pick a name that is not a field type",
				    "`%s` is a built-in type", a->text);
				goto next;
			}
		{
			cur_t k = cur_of(c, s, "message Name { field: type = 1; ... }");
			k.i = 2;
			if (!args_done(&k))
				continue;
			if (!s->block) {
				want_block(c, s, "message Name { field: type = 1; ... }");
				continue;
			}
		}
		if (myco__htab_get(&c->henum, a->text) != MYCO_LANG_NONE) {
			ERR(c, "E021", a->pos, a->len, "messages and enums share one name space; rename one",
			    "`%s` is already an enum", a->text);
			continue;
		}
		bmsg_t m = { 0 };
		m.st = s;
		m.m.name = astr(c, a->text);
		m.m.pos = a->pos;
		m.bad = s->bad;
		if (reg_name(c, &c->hmsg, c->nmsgs, a, "message type"))
			continue;
		if (MYCO__PUSH(c->msgs, c->nmsgs, c->cmsgs, m)) {
			c->oom = true;
			return;
		}
	next:;
	}
}

static const char *const enum_bases[] = { "u8", "u16", "u32" };

/* Register `enum Name : base { ... }` declarations (bodies: lower_enum). */
static void collect_enum(ctx_t *c, myco__stmt_t *s)
{
	const char *usage = "enum Name: u8 { first = 0; second = 1; }";
	myco__arg_t *a = decl_name(c, s, usage);
	if (!a)
		return;
	cur_t k = cur_of(c, s, usage);
	k.i = 2;
	if (!want_punct(&k, ':'))
		return;
	int base = want_choice(&k, "enum base type", enum_bases, 3);
	if (base < 0 || !args_done(&k) || !want_block(c, s, usage))
		return;
	for (size_t t = 0; t < sizeof(ftype_names) / sizeof(ftype_names[0]); t++)
		if (!strcmp(a->text, ftype_names[t])) {
			ERR(c, "E021", a->pos, a->len, "pick a name that is not a field type",
			    "`%s` is a built-in type", a->text);
			return;
		}
	if (myco__htab_get(&c->hmsg, a->text) != MYCO_LANG_NONE) {
		ERR(c, "E021", a->pos, a->len, "messages and enums share one name space; rename one",
		    "`%s` is already a message type", a->text);
		return;
	}
	benum_t e = { 0 };
	e.st = s;
	e.bad = s->bad;
	e.e.name = astr(c, a->text);
	e.e.pos = a->pos;
	e.e.base = base == 0 ? MYCO_FT_U8 : base == 1 ? MYCO_FT_U16 : MYCO_FT_U32;
	e.e.size = base == 0 ? 1 : base == 1 ? 2 : 4;
	if (reg_name(c, &c->henum, c->nenums, a, "enum"))
		return;
	if (MYCO__PUSH(c->enums, c->nenums, c->cenums, e))
		c->oom = true;
}

static void lower_enum(ctx_t *c, benum_t *e)
{
	myco__htab_t names = { 0 }, vals = { 0 };
	const char *usage = "name = value;   e.g. `idle = 1;`";
	uint64_t max = e->e.size == 1 ? 0xff : e->e.size == 2 ? 0xffff : 0xffffffffu;
	char key[24];
	for (size_t i = 0; i < e->st->nkids; i++) {
		myco__stmt_t *s = e->st->kids[i];
		if (s->bad) {
			e->bad = true;
			continue;
		}
		cur_t k = cur_of(c, s, usage);
		myco__arg_t *n = &s->args[0];
		uint64_t v;
		if (myco__is_c_keyword(n->text)) {
			ERR(c, "E045", n->pos, n->len,
			    "names become C identifiers in generated code; pick another",
			    "`%s` is a reserved word", n->text);
			e->bad = true;
			continue;
		}
		if (!want_punct(&k, '='))
			continue;
		myco__arg_t *va = peek(&k);
		if (!want_uint(&k, "the enum value", 0, max, &v) || !want_end(&k)) {
			e->bad = true;
			continue;
		}
		uint32_t old;
		if (myco__htab_put(&names, n->text, (uint32_t)e->nv, &old) == -EEXIST) {
			ERR(c, "E021", n->pos, n->len, "rename one of them",
			    "duplicate value name `%s` in enum `%s`", n->text, e->e.name);
			e->bad = true;
			continue;
		}
		snprintf(key, sizeof(key), "%llu", (unsigned long long)v);
		const char *kk = myco__arena_strdup(&c->pa, key);
		if (kk && myco__htab_put(&vals, kk, (uint32_t)e->nv, &old) == -EEXIST) {
			char h[200];
			snprintf(h, sizeof(h), "`%s` already has value %llu", e->v[old].name,
				 (unsigned long long)v);
			ERR(c, "E046", va->pos, va->len, myco__arena_strdup(&c->pa, h),
			    "duplicate value %llu in enum `%s`", (unsigned long long)v, e->e.name);
			e->bad = true;
			continue;
		}
		myco_enum_value_t ev = { astr(c, n->text), v, n->pos };
		if (MYCO__PUSH(e->v, e->nv, e->vcap, ev)) {
			c->oom = true;
			break;
		}
	}
	if (!e->nv && !e->bad) {
		ERR(c, "E044", e->e.pos, (uint32_t)strlen(e->e.name), "add at least one value",
		    "enum `%s` has no values", e->e.name);
		e->bad = true;
	}
	myco__htab_free(&names);
	myco__htab_free(&vals);
}

static void lower_fields(ctx_t *c, bmsg_t *m)
{
	myco__htab_t names = { 0 }, ords = { 0 };
	char ordbuf[24];
	const char *usage = "name: type = ordinal;   e.g. `temp: f32 = 1;`, `tag: string[16] = 2;`";
	for (size_t i = 0; i < m->st->nkids; i++) {
		myco__stmt_t *s = m->st->kids[i];
		if (s->bad) {
			m->bad = true;
			continue;
		}
		cur_t k = cur_of(c, s, usage);
		myco__arg_t *fname = &s->args[0];
		myco_field_t f = { 0 };
		f.name = astr(c, fname->text);
		f.pos = fname->pos;
		f.msg = MYCO_LANG_NONE;
		if (myco__is_c_keyword(fname->text) || !strncmp(fname->text, "myco_pad", 8)) {
			ERR(c, "E045", fname->pos, fname->len,
			    "names become C identifiers in generated code; pick another",
			    "`%s` is a reserved word", fname->text);
			m->bad = true;
			continue;
		}
		if (!want_punct(&k, ':')) {
			m->bad = true;
			continue;
		}
		myco__arg_t *ta = want_ident(&k, "a field type");
		if (!ta) {
			m->bad = true;
			continue;
		}
		int t = -1;
		for (size_t j = 0; j < sizeof(ftype_names) / sizeof(ftype_names[0]); j++)
			if (!strcmp(ta->text, ftype_names[j]))
				t = (int)j;
		uint64_t n1 = 0, n2 = 0;
		f.enum_type = MYCO_LANG_NONE;
		uint32_t ei = t < 0 ? myco__htab_get(&c->henum, ta->text) : MYCO_LANG_NONE;
		if (ei != MYCO_LANG_NONE) {
			if (c->enums[ei].bad) {
				m->bad = true;
				continue;
			}
			f.type = MYCO_FT_ENUM;
			f.enum_type = ei;
			f.elem_size = c->enums[ei].e.size;
			f.align = c->enums[ei].e.size;
		} else if (t < 0) {
			uint32_t mi = myco__htab_get(&c->hmsg, ta->text);
			if (mi == MYCO_LANG_NONE) {
				const char *best = myco__closest(ta->text, ftype_names, 13);
				if (!best)
					best = myco__closest(ta->text, c->ntype, c->nmsgs + c->nenums);
				char h[200];
				if (best)
					snprintf(h, sizeof(h), "did you mean `%s`?", best);
				else
					snprintf(h, sizeof(h), "types are u8..u64, i8..i64, f32, f64, bool, bytes[N], string[N], a message type or an enum");
				ERR(c, "E040", ta->pos, ta->len, myco__arena_strdup(&c->pa, h),
				    "unknown type `%s`", ta->text);
				m->bad = true;
				continue;
			}
			f.type = MYCO_FT_MSG;
			f.msg = mi;
		} else {
			f.type = (myco_ftype_t)t;
			f.elem_size = ftype_size[t];
			f.align = ftype_size[t];
		}
		if (f.type == MYCO_FT_BYTES || f.type == MYCO_FT_STRING) {
			if (!at_punct(&k, '[')) {
				k.failed = true;
				ERR(c, "E040", ta->pos, ta->len, "give the length, e.g. `string[32]`",
				    "`%s` needs a length", ta->text);
				m->bad = true;
				continue;
			}
			k.i++;
			if (!want_uint(&k, "the length", 1, MYCO__MAX_MSG_SIZE, &n1) || !want_punct(&k, ']')) {
				m->bad = true;
				continue;
			}
			f.length = (uint32_t)n1;
			f.elem_size = (uint32_t)n1;
			f.align = 1;
		}
		if (at_punct(&k, '[')) {
			k.i++;
			if (!want_uint(&k, "the array length", 1, MYCO__MAX_MSG_SIZE, &n2) ||
			    !want_punct(&k, ']')) {
				m->bad = true;
				continue;
			}
			f.array_len = (uint32_t)n2;
		}
		if (!want_punct(&k, '=')) {
			m->bad = true;
			continue;
		}
		myco__arg_t *oa = peek(&k);
		uint64_t ord;
		if (!want_uint(&k, "the field's ordinal", 1, 65535, &ord) || !want_end(&k)) {
			m->bad = true;
			continue;
		}
		f.ordinal = (uint32_t)ord;
		uint32_t old;
		if (myco__htab_put(&names, f.name, (uint32_t)m->nf, &old) == -EEXIST) {
			ERR(c, "E021", fname->pos, fname->len, "rename one of them",
			    "duplicate field `%s` in message `%s`", f.name, m->m.name);
			m->bad = true;
			continue;
		}
		snprintf(ordbuf, sizeof(ordbuf), "%u", f.ordinal);
		const char *okey = myco__arena_strdup(&c->pa, ordbuf);
		if (okey && myco__htab_put(&ords, okey, (uint32_t)m->nf, &old) == -EEXIST) {
			char h[200];
			snprintf(h, sizeof(h), "field `%s` already has ordinal %u; ordinals are unique",
				 m->f[old].name, f.ordinal);
			ERR(c, "E041", oa->pos, oa->len, myco__arena_strdup(&c->pa, h),
			    "duplicate ordinal %u in message `%s`", f.ordinal, m->m.name);
			m->bad = true;
			continue;
		}
		if (MYCO__PUSH(m->f, m->nf, m->fcap, f)) {
			c->oom = true;
			break;
		}
	}
	if (m->nf == 0 && !m->bad) {
		ERR(c, "E044", m->m.pos, (uint32_t)strlen(m->m.name), "add at least one field",
		    "message `%s` has no fields", m->m.name);
		m->bad = true;
	}
	myco__htab_free(&names);
	myco__htab_free(&ords);
}

static int field_ord_cmp(const void *a, const void *b)
{
	const myco_field_t *x = a, *y = b;
	return x->ordinal < y->ordinal ? -1 : x->ordinal > y->ordinal;
}

/* Compute the layout of message mi (and the messages it nests, depth-bounded). */
static bool layout(ctx_t *c, uint32_t mi, unsigned depth)
{
	bmsg_t *m = &c->msgs[mi];
	if (m->state == 2)
		return true;
	if (m->state == 3)
		return false;
	if (m->state == 1) {
		ERR(c, "E042", m->m.pos, (uint32_t)strlen(m->m.name),
		    "a message cannot contain itself, directly or through other messages",
		    "message `%s` contains itself", m->m.name);
		m->state = 3;
		return false;
	}
	if (depth > MYCO__MAX_MSG_NEST) {
		ERR(c, "E042", m->m.pos, (uint32_t)strlen(m->m.name), "nest messages at most 64 deep",
		    "messages nested too deeply");
		m->state = 3;
		return false;
	}
	if (m->bad) {
		m->state = 3;
		return false;
	}
	m->state = 1;
	if (m->nf)
		qsort(m->f, m->nf, sizeof(*m->f), field_ord_cmp);
	uint64_t off = 0, align = 1;
	bool ok = true;
	for (size_t i = 0; i < m->nf; i++) {
		myco_field_t *f = &m->f[i];
		if (f->type == MYCO_FT_MSG) {
			if (!layout(c, f->msg, depth + 1)) {
				ok = false;
				continue;
			}
			f->elem_size = c->msgs[f->msg].m.size;
			f->align = c->msgs[f->msg].m.align;
		}
		uint64_t total = (uint64_t)f->elem_size * (f->array_len ? f->array_len : 1);
		off = (off + f->align - 1) / f->align * f->align;
		if (total > MYCO__MAX_MSG_SIZE || off + total > MYCO__MAX_MSG_SIZE) {
			ERR(c, "E043", f->pos, (uint32_t)strlen(f->name), "messages are at most 16 MiB",
			    "message `%s` is too large", m->m.name);
			ok = false;
			break;
		}
		f->offset = (uint32_t)off;
		f->size = (uint32_t)total;
		off += total;
		if (f->align > align)
			align = f->align;
	}
	if (!ok) {
		if (m->state == 1)
			m->state = 3;
		return false;
	}
	if (m->state == 3)
		return false;
	off = (off + align - 1) / align * align;
	m->m.size = (uint32_t)off;
	m->m.align = (uint32_t)align;
	m->state = 2;
	return true;
}

/* ---------------------------------------------------------------- machine */

static void lower_machine(ctx_t *c, myco__stmt_t *s, myco_system_t *sys)
{
	uint64_t seen = 0;
	cur_t k0 = cur_of(c, s, "machine { cores 4; memory 8 GiB; }");
	if (!args_done(&k0) || !want_block(c, s, "machine { cores 4; memory 8 GiB; }"))
		return;
	for (size_t i = 0; i < s->nkids; i++) {
		myco__stmt_t *x = s->kids[i];
		if (x->bad)
			continue;
		const char *w = x->args[0].text;
		int ki = kw_index("machine", w);
		if (ki < 0) {
			unknown_stmt(c, x, "machine", "a machine block");
			continue;
		}
		if (!once(c, x, &seen, (unsigned)ki))
			continue;
		uint64_t v;
		if (!strcmp(w, "cores")) {
			cur_t k = cur_of(c, x, "cores 4;");
			if (want_uint(&k, "the number of cores", 1, 4096, &v) && want_end(&k))
				sys->machine_cores = (uint32_t)v;
		} else {
			cur_t k = cur_of(c, x, "memory 8 GiB;");
			if (want_qty(&k, false, "memory", &v) && want_end(&k))
				sys->machine_memory = v;
		}
	}
}

/* --------------------------------------------------------------- channels */

static const char *const kind_names[] = { "queue", "sample", "call" };
static const char *const overflow_names[] = { "block", "reject", "drop_oldest" };

static uint32_t want_msg(cur_t *k, const char *what)
{
	myco__arg_t *a = want_ident(k, what);
	if (!a)
		return MYCO_LANG_NONE;
	uint32_t mi = myco__htab_get(&k->c->hmsg, a->text);
	if (mi == MYCO_LANG_NONE && myco__htab_get(&k->c->henum, a->text) != MYCO_LANG_NONE) {
		k->failed = true;
		ERR(k->c, "E020", a->pos, a->len, "channels carry messages; wrap the enum in a message",
		    "`%s` is an enum, not a message type", a->text);
		return MYCO_LANG_NONE;
	}
	if (mi == MYCO_LANG_NONE) {
		k->failed = true;
		ERR(k->c, "E020", a->pos, a->len,
		    mean(k->c, a->text, k->c->nmsg, k->c->nmsgs, "declare it with `message` or import it"),
		    "unknown message type `%s`", a->text);
	}
	return mi;
}

static void lower_channel(ctx_t *c, bchan_t *b)
{
	myco__stmt_t *s = b->st;
	myco_channel_t *ch = &b->c;
	uint64_t seen = 0;
	ch->msg = ch->request = ch->reply = ch->receiver = ch->server = MYCO_LANG_NONE;
	ch->depth = 16;
	for (size_t i = 0; i < s->nkids; i++) {
		myco__stmt_t *x = s->kids[i];
		if (x->bad) {
			b->bad = true;
			continue;
		}
		const char *w = x->args[0].text;
		int ki = kw_index("channel", w);
		if (ki < 0) {
			unknown_stmt(c, x, "channel", "a channel");
			b->bad = true;
			continue;
		}
		if (!once(c, x, &seen, (unsigned)ki))
			continue;
		bool forq = ki == 1 /* depth */ || ki == 2 /* overflow */;
		bool fors = ki == 3 /* refresh */;
		bool forc = ki == 4 /* request */ || ki == 5 /* reply */ || ki == 6 /* timeout */;
		bool fit = (ch->kind == MYCO_LANG_QUEUE && (forq || ki == 0 /* type */)) ||
			   (ch->kind == MYCO_LANG_SAMPLE && (fors || ki == 0 /* type */)) ||
			   (ch->kind == MYCO_LANG_CALL && forc);
		if (!fit) {
			const char *h = ch->kind == MYCO_LANG_QUEUE ? "a queue takes: type, depth, overflow"
				: ch->kind == MYCO_LANG_SAMPLE ? "a sample channel takes: type, refresh"
				: "a call channel takes: request, reply, timeout";
			ERR(c, "E050", x->pos, (uint32_t)strlen(w), h, "`%s` does not apply to a %s channel",
			    w, kind_names[ch->kind]);
			b->bad = true;
			continue;
		}
		uint64_t v;
		if (ki == 0 /* type */) {
			cur_t k = cur_of(c, x, "type MessageName;");
			uint32_t mi = want_msg(&k, "a message type");
			if (mi != MYCO_LANG_NONE && want_end(&k))
				ch->msg = mi;
			else
				b->bad = true;
		} else if (ki == 1 /* depth */) {
			cur_t k = cur_of(c, x, "depth 64;");
			myco__arg_t *a = peek(&k);
			if (a && a->kind == MYCO__A_NUM && !strcmp(a->text, "0")) {
				ERR(c, "E032", a->pos, a->len, "a queue holds at least one message",
				    "queue depth must be at least 1");
				b->bad = true;
			} else if (want_uint(&k, "the queue depth", 1, 1u << 24, &v) && want_end(&k)) {
				ch->depth = (uint32_t)v;
			}
		} else if (ki == 2 /* overflow */) {
			cur_t k = cur_of(c, x, "overflow block;  (or reject, drop_oldest)");
			int o = want_choice(&k, "overflow policy", overflow_names, 3);
			if (o >= 0 && want_end(&k))
				ch->overflow = (myco_overflow_t)o;
		} else if (ki == 3 /* refresh */) {
			cur_t k = cur_of(c, x, "refresh 10 ms;");
			if (want_qty(&k, true, "refresh", &v) && want_end(&k))
				ch->refresh_ns = v;
		} else if (ki == 4 /* request */ || ki == 5 /* reply */) {
			cur_t k = cur_of(c, x, ki == 4 /* request */ ? "request MessageName;" : "reply MessageName;");
			uint32_t mi = want_msg(&k, "a message type");
			if (mi != MYCO_LANG_NONE && want_end(&k)) {
				if (ki == 4 /* request */)
					ch->request = mi;
				else
					ch->reply = mi;
			} else {
				b->bad = true;
			}
		} else if (ki == 6 /* timeout */) {
			cur_t k = cur_of(c, x, "timeout 50 ms;");
			if (want_qty(&k, true, "timeout", &v) && want_end(&k))
				ch->timeout_ns = v;
		}
	}
	if (b->bad)
		return;
	uint32_t nl = (uint32_t)strlen(ch->name);
	if (ch->kind != MYCO_LANG_CALL && ch->msg == MYCO_LANG_NONE) {
		ERR(c, "E023", ch->pos, nl, "add `type MessageName;`",
		    "%s channel `%s` has no message type", kind_names[ch->kind], ch->name);
		b->bad = true;
	}
	if (ch->kind == MYCO_LANG_CALL && (ch->request == MYCO_LANG_NONE || ch->reply == MYCO_LANG_NONE)) {
		ERR(c, "E023", ch->pos, nl, "add `request MessageName;` and `reply MessageName;`",
		    "call channel `%s` needs a %s type", ch->name,
		    ch->request == MYCO_LANG_NONE ? "request" : "reply");
		b->bad = true;
	}
}

/* ------------------------------------------------------------- partitions */

static const char *const restart_names[] = { "permanent", "transient", "temporary" };
static const char *const role_kw[] = { "send", "recv", "call", "serve" };

static int u32_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

/* A user or group for `user`: a name (identifier or quoted string, resolved
 * by the executive at start-up) or a number 0 .. 4294967294 ((uid_t)-1 is
 * "unchanged" to the kernel).  *name is NULL for a number. */
static bool want_id(cur_t *k, const char *what, const char **name, uint32_t *num)
{
	if (k->failed)
		return false;
	myco__arg_t *a = peek(k);
	if (a && (a->kind == MYCO__A_NUM || a->kind == MYCO__A_QTY)) {
		uint64_t v;
		char w[32];
		snprintf(w, sizeof(w), "%s id", what);
		if (!want_uint(k, w, 0, UINT32_MAX - 1u, &v))
			return false;
		*name = NULL;
		*num = (uint32_t)v;
		return true;
	}
	if (!a || (a->kind != MYCO__A_IDENT && a->kind != MYCO__A_STR)) {
		char w[48];
		snprintf(w, sizeof(w), "a %s name or number", what);
		expected(k, w);
		return false;
	}
	k->i++;
	/* the portable user name set of POSIX (letters, digits, . _ -), not
	 * starting with '-', not all digits, at most 32 bytes (useradd) */
	const char *t = a->text;
	size_t n = strlen(t);
	bool ok = n >= 1 && n <= 32 && t[0] != '-', digits = true;
	for (size_t i = 0; ok && i < n; i++) {
		unsigned char ch = (unsigned char)t[i];
		ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		     (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' || ch == '-';
		digits &= ch >= '0' && ch <= '9';
	}
	if (!ok || digits) {
		k->failed = true;
		ERR(k->c, "E072", a->pos, a->len,
		    digits && ok ? "write a numeric id without quotes"
				 : "names use letters, digits, `.`, `_` and `-` (not first), "
				   "at most 32 bytes",
		    "invalid %s name \"%s\"", what, t);
		return false;
	}
	*name = astr(k->c, t);
	return true;
}

static void lower_partition(ctx_t *c, bpart_t *b, const myco_system_t *sys)
{
	myco__stmt_t *s = b->st;
	myco_partition_t *p = &b->p;
	uint64_t seen = 0;
	const char **argv = NULL, **env = NULL;
	size_t nargv = 0, cargv = 0, nenv = 0, cenv = 0;
	uint32_t *cores = NULL;
	size_t ncores = 0, ccores = 0;
	uint16_t *ports = NULL;
	size_t nports = 0, cports = 0;
	myco_pathres_t *paths = NULL;
	size_t npaths = 0, cpaths = 0;
	myco__htab_t envh = { 0 };
	myco__arg_t *misses_a = NULL;
	bool has_misses = false;
	p->group = MYCO_LANG_NONE;
	p->misses = 3;
	/* argv: [program placeholder, args..., NULL] */
	if (MYCO__PUSH(argv, nargv, cargv, NULL) || MYCO__PUSH(argv, nargv, cargv, NULL))
		goto oom;
	for (size_t i = 0; i < s->nkids; i++) {
		myco__stmt_t *x = s->kids[i];
		if (x->bad) {
			b->bad = true;
			continue;
		}
		const char *w = x->args[0].text;
		int ki = kw_index("partition", w);
		if (ki < 0) {
			unknown_stmt(c, x, "partition", "a partition");
			b->bad = true;
			continue;
		}
		/* statements that may repeat, by index in the partition keyword
		 * list (parse.c): env 2, send 8, recv 9, call 10, serve 11,
		 * listen 12, path 13 */
		const uint32_t multi_mask = 1u << 2 | 1u << 8 | 1u << 9 | 1u << 10 | 1u << 11 |
					    1u << 12 | 1u << 13;
		bool multi = (multi_mask >> ki) & 1;
		if (!multi && !once(c, x, &seen, (unsigned)ki))
			continue;
		uint64_t v, v2;
		if (ki == 0 /* program */) {
			cur_t k = cur_of(c, x, "program \"./path/to/binary\";");
			myco__arg_t *a = want_str(&k, "the program path in quotes");
			if (a && want_end(&k)) {
				if (!a->textlen) {
					ERR(c, "E032", a->pos, a->len, "give the path of the executable",
					    "empty program path");
				} else {
					p->program = astr(c, a->text);
				}
			}
		} else if (ki == 1 /* args */) {
			cur_t k = cur_of(c, x, "args \"--rate\", \"100\";");
			bool ok = true;
			do {
				myco__arg_t *a = want_str(&k, "an argument in quotes");
				if (!a) {
					ok = false;
					break;
				}
				nargv--;
				if (MYCO__PUSH(argv, nargv, cargv, astr(c, a->text)) ||
				    MYCO__PUSH(argv, nargv, cargv, NULL))
					goto oom;
			} while (at_punct(&k, ',') && ++k.i);
			if (ok)
				want_end(&k);
		} else if (ki == 2 /* env */) {
			cur_t k = cur_of(c, x, "env NAME = \"value\";");
			myco__arg_t *n = want_ident(&k, "a variable name");
			myco__arg_t *val = NULL;
			if (n && want_punct(&k, '='))
				val = want_str(&k, "the value in quotes");
			if (val && want_end(&k)) {
				uint32_t old;
				if (myco__htab_put(&envh, n->text, 0, &old) == -EEXIST) {
					ERR(c, "E021", n->pos, n->len, "set each variable once",
					    "duplicate environment variable `%s`", n->text);
					continue;
				}
				size_t l = strlen(n->text) + 1 + strlen(val->text) + 1;
				char *e = myco__arena_alloc(&c->ma, l);
				if (!e)
					goto oom;
				snprintf(e, l, "%s=%s", n->text, val->text);
				if (MYCO__PUSH(env, nenv, cenv, e))
					goto oom;
			}
		} else if (ki == 3 /* cores */) {
			cur_t k = cur_of(c, x, "cores 0, 1;");
			do {
				myco__arg_t *a = peek(&k);
				if (!want_uint(&k, "a core number", 0, 63, &v))
					break;
				if (sys->machine_cores && v >= sys->machine_cores) {
					ERR(c, "E066", a->pos, a->len, "the machine block declares fewer cores",
					    "core %llu does not exist on this machine (%u cores)",
					    (unsigned long long)v, sys->machine_cores);
					continue;
				}
				if (p->core_mask & (1ull << v)) {
					ERR(c, "E021", a->pos, a->len, "list each core once",
					    "core %llu listed twice", (unsigned long long)v);
					continue;
				}
				p->core_mask |= 1ull << v;
				if (MYCO__PUSH(cores, ncores, ccores, (uint32_t)v))
					goto oom;
			} while (at_punct(&k, ',') && ++k.i);
			want_end(&k);
		} else if (ki == 4 /* budget */) {
			cur_t k = cur_of(c, x, "budget 2 ms per 10 ms;");
			myco__arg_t *ra = peek(&k);
			if (!want_qty(&k, true, "the budget", &v))
				continue;
			if (!want_word(&k, "per", "`per`"))
				continue;
			myco__arg_t *pa = peek(&k);
			if (!want_qty(&k, true, "the period", &v2) || !want_end(&k))
				continue;
			if (p->mode == MYCO_MODE_FRAME) {
				ERR(c, "E063", x->pos, 6, "a partition has either a budget or frame windows",
				    "partition `%s` has both `frame` and `budget`", p->name);
				continue;
			}
			if (v == 0 || v2 == 0) {
				myco__arg_t *z = v == 0 ? ra : pa;
				ERR(c, "E062", z->pos, z->len, "budgets and periods are greater than zero",
				    "%s must be greater than zero", v == 0 ? "budget" : "period");
				continue;
			}
			if (v > v2) {
				ERR(c, "E060", ra->pos, pa->pos.col + pa->len - ra->pos.col,
				    "the runtime per period cannot exceed the period",
				    "budget %s %s is larger than its period %s %s", ra->text, ra->unit,
				    pa->text, pa->unit);
				continue;
			}
			p->mode = MYCO_MODE_BUDGET;
			p->runtime_ns = v;
			p->period_ns = v2;
			b->mode_pos = x->pos;
		} else if (ki == 5 /* frame */) {
			cur_t k = cur_of(c, x, "frame;");
			if (!want_end(&k))
				continue;
			if (p->mode == MYCO_MODE_BUDGET) {
				ERR(c, "E063", x->pos, 5, "a partition has either a budget or frame windows",
				    "partition `%s` has both `budget` and `frame`", p->name);
				continue;
			}
			p->mode = MYCO_MODE_FRAME;
			b->mode_pos = x->pos;
		} else if (ki == 6 /* memory */) {
			cur_t k = cur_of(c, x, "memory 64 MiB;");
			myco__arg_t *a = peek(&k);
			if (want_qty(&k, false, "memory", &v) && want_end(&k)) {
				if (v == 0) {
					ERR(c, "E032", a->pos, a->len, "leave `memory` out for no limit",
					    "memory limit must be greater than zero");
					continue;
				}
				p->memory_bytes = v;
				b->mem_pos = a->pos;
				if (sys->machine_memory && v > sys->machine_memory)
					ERR(c, "E067", a->pos, a->len,
					    "lower the limit or raise the machine's memory",
					    "partition `%s` asks for %s %s, more than the machine's memory",
					    p->name, a->text, a->unit);
			}
		} else if (ki == 7 /* scheduler */) {
			cur_t k = cur_of(c, x, "scheduler fifo;");
			myco__arg_t *a = want_ident(&k, "a scheduler policy name");
			if (a && want_end(&k)) {
				/* the runtime's policies (include/myco/rt.h,
				 * myco_policy_from_name()); others fail when the
				 * partition starts, so say so now */
				static const char *const pol[] = { "fifo", "edf", "steal" };
				bool known = false;
				for (size_t j = 0; j < 3; j++)
					known |= !strcmp(a->text, pol[j]);
				if (!known)
					WARN(c, "W002", a->pos, a->len,
					     mean(c, a->text, pol, 3, "the runtime knows fifo, edf and steal"),
					     "unknown scheduler policy `%s`", a->text);
				p->scheduler = astr(c, a->text);
			}
		} else if (ki == 8 /* send */ || ki == 9 /* recv */ || ki == 10 /* call */ ||
			   ki == 11 /* serve */) {
			char usage[64];
			snprintf(usage, sizeof(usage), "%s channel_name, ...;", w);
			cur_t k = cur_of(c, x, usage);
			myco_end_role_t role = ki == 8 /* send */ ? MYCO_END_SEND
					       : ki == 9 /* recv */ ? MYCO_END_RECV
					       : ki == 10 /* call */ ? MYCO_END_CALL : MYCO_END_SERVE;
			do {
				myco__arg_t *a = want_ident(&k, "a channel name");
				if (!a)
					break;
				uint32_t ci = myco__htab_get(&c->hchan, a->text);
				if (ci == MYCO_LANG_NONE) {
					const char *best = myco__closest(a->text, c->nchan, c->nchans);
					ERR(c, "E020", a->pos, a->len,
					    mean(c, a->text, c->nchan, c->nchans, "declare it with `channel`"),
					    "unknown channel `%s`", a->text);
					/* the misspelt channel probably meant `best`: do not
					 * also report its ends as missing */
					if (best)
						c->chans[myco__htab_get(&c->hchan, best)].unsure = true;
					continue;
				}
				bchan_t *ch = &c->chans[ci];
				bool fits = (role == MYCO_END_SEND || role == MYCO_END_RECV)
					    ? ch->c.kind != MYCO_LANG_CALL : ch->c.kind == MYCO_LANG_CALL;
				if (!fits) {
					const char *h = ch->c.kind == MYCO_LANG_CALL
						? "use `call` (client) or `serve` (server) for a call channel"
						: "use `send` or `recv` for queue and sample channels";
					ch->bad = true;   /* no end-count errors on top */
					ERR(c, "E053", a->pos, a->len, h, "`%s` does not fit %s channel `%s`",
					    w, ch->c.kind == MYCO_LANG_QUEUE ? "queue"
					       : ch->c.kind == MYCO_LANG_SAMPLE ? "sample" : "call",
					    a->text);
					continue;
				}
				bool dup = false;
				for (size_t e = 0; e < b->nends; e++)
					if (b->ends[e].channel == ci && b->ends[e].role == role)
						dup = true;
				if (dup) {
					ERR(c, "E021", a->pos, a->len, "list each channel end once",
					    "partition `%s` already has `%s %s`", p->name, w, a->text);
					continue;
				}
				myco_end_t e = { ci, role, a->pos };
				if (MYCO__PUSH(b->ends, b->nends, b->cends, e))
					goto oom;
			} while (at_punct(&k, ',') && ++k.i);
			want_end(&k);
		} else if (ki == 12 /* listen */) {
			cur_t k = cur_of(c, x, "listen 8080, 8443;");
			do {
				myco__arg_t *a = peek(&k);
				if (!want_uint(&k, "a port number", 1, 65535, &v))
					break;
				if (!c->port_owner)
					c->port_owner = calloc(65536, sizeof(*c->port_owner));
				if (!c->port_owner)
					goto oom;
				uint32_t self = (uint32_t)(b - c->parts) + 1;
				uint32_t owner = c->port_owner[v];
				if (owner == self) {
					ERR(c, "E021", a->pos, a->len, "list each port once",
					    "port %llu listed twice", (unsigned long long)v);
					continue;
				}
				if (owner) {
					char h[300];
					snprintf(h, sizeof(h), "partition `%s` already listens on it; "
						 "two partitions cannot listen on one port",
						 c->parts[owner - 1].p.name);
					ERR(c, "E071", a->pos, a->len, myco__arena_strdup(&c->pa, h),
					    "port %llu is taken", (unsigned long long)v);
					continue;
				}
				c->port_owner[v] = self;
				if (MYCO__PUSH(ports, nports, cports, (uint16_t)v))
					goto oom;
			} while (at_punct(&k, ',') && ++k.i);
			want_end(&k);
		} else if (ki == 13 /* path */) {
			cur_t k = cur_of(c, x, "path \"/var/lib/app\" rw;  (or ro)");
			myco__arg_t *a = want_str(&k, "a path in quotes");
			static const char *const rwn[] = { "ro", "rw" };
			int m = a ? want_choice(&k, "access mode", rwn, 2) : -1;
			if (m >= 0 && want_end(&k)) {
				if (a->text[0] != '/') {
					ERR(c, "E032", a->pos, a->len, "write an absolute path starting with /",
					    "path \"%s\" is not absolute", a->text);
					continue;
				}
				myco_pathres_t r = { astr(c, a->text), m == 1, a->pos };
				if (MYCO__PUSH(paths, npaths, cpaths, r))
					goto oom;
			}
		} else if (ki == 14 /* net */) {
			cur_t k = cur_of(c, x, "net;");
			if (want_end(&k))
				p->net = true;
		} else if (ki == 15 /* restart */) {
			cur_t k = cur_of(c, x, "restart permanent;  (or transient, temporary)");
			int r = want_choice(&k, "restart type", restart_names, 3);
			if (r >= 0 && want_end(&k))
				p->restart = (myco_restart_t)r;
		} else if (ki == 16 /* heartbeat */) {
			cur_t k = cur_of(c, x, "heartbeat 100 ms;");
			myco__arg_t *a = peek(&k);
			if (want_qty(&k, true, "heartbeat", &v) && want_end(&k)) {
				if (v == 0)
					ERR(c, "E032", a->pos, a->len, "leave `heartbeat` out for none",
					    "heartbeat period must be greater than zero");
				else
					p->heartbeat_ns = v;
			}
		} else if (ki == 17 /* misses */) {
			cur_t k = cur_of(c, x, "misses 3;");
			misses_a = &x->args[0];
			if (want_uint(&k, "misses", 1, 1000000, &v) && want_end(&k)) {
				p->misses = (uint32_t)v;
				has_misses = true;
			}
		} else if (ki == 18 /* readiness */) {
			static const char *const rn[] = { "optional", "required" };
			cur_t k = cur_of(c, x, "readiness required;  (or optional)");
			int r = want_choice(&k, "readiness", rn, 2);
			if (r >= 0 && want_end(&k))
				p->ready = r == 1;
		} else if (ki == 19 /* user */) {
			cur_t k = cur_of(c, x, "user nobody;  (or user 65534 group 65534;)");
			const char *un = NULL, *gn = NULL;
			uint32_t uid = 0, gid = 0;
			bool grp = false;
			if (!want_id(&k, "user", &un, &uid))
				continue;
			myco__arg_t *g = peek(&k);
			if (g && g->kind == MYCO__A_IDENT && !strcmp(g->text, "group")) {
				k.i++;
				if (!want_id(&k, "group", &gn, &gid))
					continue;
				grp = true;
			}
			if (!want_end(&k))
				continue;
			p->run_as = true;
			p->user_name = un;
			p->uid = uid;
			p->run_group = grp;
			p->group_name = gn;
			p->gid = gid;
			p->user_pos = x->pos;
		}
	}
	if (has_misses && !p->heartbeat_ns && misses_a)
		ERR(c, "E023", misses_a->pos, misses_a->len, "add `heartbeat 100 ms;` (or drop `misses`)",
		    "`misses` without a `heartbeat`");
	if (!p->program && !b->bad)
		ERR(c, "E023", p->pos, (uint32_t)strlen(p->name), "add `program \"./binary\";`",
		    "partition `%s` has no program", p->name);
	/* finalise arrays into the model arena */
	argv[0] = p->program ? p->program : "";
	{
		const char **av = myco__arena_alloc(&c->ma, nargv * sizeof(*av));
		const char **ev = myco__arena_alloc(&c->ma, (nenv + 1) * sizeof(*ev));
		uint32_t *cv = myco__arena_alloc(&c->ma, ncores * sizeof(*cv) + 1);
		uint16_t *pv = myco__arena_alloc(&c->ma, nports * sizeof(*pv) + 1);
		myco_pathres_t *rv = myco__arena_alloc(&c->ma, npaths * sizeof(*rv) + 1);
		if (!av || !ev || !cv || !pv || !rv)
			goto oom;
		memcpy(av, argv, nargv * sizeof(*av));
		if (nenv)
			memcpy(ev, env, nenv * sizeof(*ev));
		if (ncores)
			memcpy(cv, cores, ncores * sizeof(*cv));
		qsort(cv, ncores, sizeof(*cv), u32_cmp);
		if (nports)
			memcpy(pv, ports, nports * sizeof(*pv));
		if (npaths)
			memcpy(rv, paths, npaths * sizeof(*rv));
		p->argc = nargv - 1;   /* argv[0] = program, then args */
		p->argv = av;
		p->env = ev;
		p->nenv = nenv;
		p->cores = cv;
		p->ncores = ncores;
		p->ports = pv;
		p->nports = nports;
		p->paths = rv;
		p->npaths = npaths;
	}
	goto out;
oom:
	c->oom = true;
out:
	free(argv);
	free(env);
	free(cores);
	free(ports);
	free(paths);
	myco__htab_free(&envh);
}

/* ----------------------------------------------------------------- groups */

static const char *const strategy_names[] = { "one_for_one", "one_for_all", "rest_for_one" };

static void lower_group(ctx_t *c, bgroup_t *b, uint32_t gi)
{
	myco__stmt_t *s = b->st;
	myco_group_t *g = &b->g;
	uint64_t seen = 0;
	uint32_t *mem = NULL;
	size_t nmem = 0, cmem = 0;
	g->max_restarts = 3;
	g->within_ns = 5000000000ull;
	bool have_members = false;
	for (size_t i = 0; i < s->nkids; i++) {
		myco__stmt_t *x = s->kids[i];
		if (x->bad) {
			b->bad = true;
			continue;
		}
		const char *w = x->args[0].text;
		int ki = kw_index("group", w);
		if (ki < 0) {
			unknown_stmt(c, x, "group", "a group");
			b->bad = true;
			continue;
		}
		if (!once(c, x, &seen, (unsigned)ki))
			continue;
		uint64_t v, v2;
		if (!strcmp(w, "strategy")) {
			cur_t k = cur_of(c, x, "strategy one_for_one;  (or one_for_all, rest_for_one)");
			int r = want_choice(&k, "strategy", strategy_names, 3);
			if (r >= 0 && want_end(&k))
				g->strategy = (myco_strategy_t)r;
		} else if (!strcmp(w, "restarts")) {
			cur_t k = cur_of(c, x, "restarts 5 within 10 s;");
			if (!want_uint(&k, "the restart limit", 0, 1000000, &v))
				continue;
			if (!want_word(&k, "within", "`within`"))
				continue;
			myco__arg_t *pa = peek(&k);
			if (!want_qty(&k, true, "the period", &v2) || !want_end(&k))
				continue;
			if (v2 == 0) {
				ERR(c, "E062", pa->pos, pa->len, "the period is greater than zero",
				    "restart period must be greater than zero");
				continue;
			}
			g->max_restarts = (uint32_t)v;
			g->within_ns = v2;
		} else if (!strcmp(w, "members")) {
			cur_t k = cur_of(c, x, "members sensor, filter, actuator;");
			have_members = true;
			do {
				myco__arg_t *a = want_ident(&k, "a partition name");
				if (!a)
					break;
				uint32_t pi = myco__htab_get(&c->hpart, a->text);
				if (pi == MYCO_LANG_NONE) {
					ERR(c, "E020", a->pos, a->len,
					    mean(c, a->text, c->npart, c->nparts, "declare it with `partition`"),
					    "unknown partition `%s` in group `%s`", a->text, g->name);
					b->bad = true;
					continue;
				}
				bpart_t *bp = &c->parts[pi];
				if (bp->p.group == gi) {
					ERR(c, "E021", a->pos, a->len, "list each member once",
					    "partition `%s` is listed twice in group `%s`", a->text, g->name);
					continue;
				}
				if (bp->p.group != MYCO_LANG_NONE) {
					char h[300];
					snprintf(h, sizeof(h), "it is already a member of group `%s`; "
						 "a partition has one supervisor", c->groups[bp->p.group].g.name);
					ERR(c, "E081", a->pos, a->len, myco__arena_strdup(&c->pa, h),
					    "partition `%s` is in two groups", a->text);
					continue;
				}
				bp->p.group = gi;
				if (MYCO__PUSH(mem, nmem, cmem, pi)) {
					c->oom = true;
					break;
				}
			} while (at_punct(&k, ',') && ++k.i);
			want_end(&k);
		}
	}
	if (!have_members && !b->bad)
		ERR(c, "E082", g->pos, (uint32_t)strlen(g->name), "add `members a, b;`",
		    "group `%s` has no members", g->name);
	uint32_t *mv = myco__arena_alloc(&c->ma, nmem * sizeof(*mv) + 1);
	if (!mv)
		c->oom = true;
	else if (nmem)
		memcpy(mv, mem, nmem * sizeof(*mv));
	g->members = mv;
	g->nmembers = mv ? nmem : 0;
	free(mem);
}

/* --------------------------------------------------------------- schedule */

typedef struct bwin {
	myco_window_t w;
	uint32_t core;
	uint32_t len;              /* span of the window statement for carets */
} bwin_t;

static int win_cmp(const void *a, const void *b)
{
	const bwin_t *x = a, *y = b;
	if (x->core != y->core)
		return x->core < y->core ? -1 : 1;
	if (x->w.offset_ns != y->w.offset_ns)
		return x->w.offset_ns < y->w.offset_ns ? -1 : 1;
	return x->w.pos.line < y->w.pos.line ? -1 : x->w.pos.line > y->w.pos.line;
}

static void lower_schedule(ctx_t *c, myco__stmt_t *s, const myco_system_t *sys)
{
	bwin_t *w = NULL;
	size_t nw = 0, cw = 0;
	uint64_t seen = 0, coremask = 0;
	myco_schedule_t *sc = &c->sched;
	sc->pos = s->pos;
	cur_t k0 = cur_of(c, s, "schedule { major_frame 20 ms; core 0 { window p at 0 ms for 5 ms; } }");
	if (!args_done(&k0) || !want_block(c, s, "schedule { major_frame 20 ms; core 0 { ... } }"))
		return;
	for (size_t i = 0; i < s->nkids; i++) {
		myco__stmt_t *x = s->kids[i];
		if (x->bad)
			continue;
		const char *kw = x->args[0].text;
		if (!strcmp(kw, "major_frame")) {
			if (!once(c, x, &seen, 0))
				continue;
			cur_t k = cur_of(c, x, "major_frame 20 ms;");
			myco__arg_t *a = peek(&k);
			uint64_t v;
			if (want_qty(&k, true, "major_frame", &v) && want_end(&k)) {
				if (v == 0)
					ERR(c, "E062", a->pos, a->len, "the major frame is greater than zero",
					    "major frame must be greater than zero");
				else
					sc->major_ns = v;
			}
		} else if (!strcmp(kw, "core")) {
			cur_t k = cur_of(c, x, "core 0 { window name at 0 ms for 5 ms; }");
			myco__arg_t *ca = peek(&k);
			uint64_t core;
			if (!want_uint(&k, "a core number", 0, 63, &core))
				continue;
			if (!args_done(&k) || !want_block(c, x, "core 0 { window name at 0 ms for 5 ms; }"))
				continue;
			if (coremask & (1ull << core)) {
				ERR(c, "E022", ca->pos, ca->len, "put all windows of a core in one block",
				    "core %llu appears twice in the schedule", (unsigned long long)core);
				continue;
			}
			coremask |= 1ull << core;
			if (sys->machine_cores && core >= sys->machine_cores)
				ERR(c, "E066", ca->pos, ca->len, "the machine block declares fewer cores",
				    "core %llu does not exist on this machine (%u cores)",
				    (unsigned long long)core, sys->machine_cores);
			for (size_t j = 0; j < x->nkids; j++) {
				myco__stmt_t *y = x->kids[j];
				if (y->bad)
					continue;
				if (strcmp(y->args[0].text, "window")) {
					unknown_stmt(c, y, "core", "a core block");
					continue;
				}
				cur_t kw2 = cur_of(c, y, "window partition at 0 ms for 5 ms;");
				myco__arg_t *pa = want_ident(&kw2, "a partition name");
				if (!pa)
					continue;
				if (!want_word(&kw2, "at", "`at`"))
					continue;
				uint64_t off, dur;
				if (!want_qty(&kw2, true, "the offset", &off))
					continue;
				if (!want_word(&kw2, "for", "`for`"))
					continue;
				myco__arg_t *da = peek(&kw2);
				if (!want_qty(&kw2, true, "the duration", &dur) || !want_end(&kw2))
					continue;
				if (dur == 0) {
					ERR(c, "E062", da->pos, da->len, "a window lasts longer than zero",
					    "window duration must be greater than zero");
					continue;
				}
				uint32_t pi = myco__htab_get(&c->hpart, pa->text);
				if (pi == MYCO_LANG_NONE) {
					ERR(c, "E020", pa->pos, pa->len,
					    mean(c, pa->text, c->npart, c->nparts, "declare it with `partition`"),
					    "unknown partition `%s`", pa->text);
					continue;
				}
				bpart_t *bp = &c->parts[pi];
				bp->has_window = true;
				if (bp->p.mode != MYCO_MODE_FRAME && !bp->bad) {
					ERR(c, "E063", pa->pos, pa->len,
					    "add `frame;` to the partition to run it in windows",
					    "partition `%s` is not in frame mode but has a window", pa->text);
					continue;
				}
				if (bp->p.ncores && !(bp->p.core_mask & (1ull << core))) {
					ERR(c, "E066", pa->pos, pa->len, "add the core to the partition's `cores`",
					    "partition `%s` gets a window on core %llu but is not allowed on it",
					    pa->text, (unsigned long long)core);
					continue;
				}
				bwin_t bw = { { off, dur, pi, pa->pos }, (uint32_t)core,
					      da->pos.line == pa->pos.line ? da->pos.col + da->len - pa->pos.col : pa->len };
				if (MYCO__PUSH(w, nw, cw, bw)) {
					c->oom = true;
					goto out;
				}
			}
		} else {
			unknown_stmt(c, x, "schedule", "the schedule");
		}
	}
	if (!sc->major_ns) {
		if (!(seen & 1))
			ERR(c, "E100", s->pos, 8, "add `major_frame 20 ms;`",
			    "schedule has no major frame");
		goto out;
	}
	/* windows: outside the frame, overlaps (sorted per core) */
	if (nw)
		qsort(w, nw, sizeof(*w), win_cmp);
	for (size_t i = 0; i < nw; i++) {
		bwin_t *x = &w[i];
		uint64_t end;
		if (__builtin_add_overflow(x->w.offset_ns, x->w.duration_ns, &end) || end > sc->major_ns) {
			ERR(c, "E064", x->w.pos, x->len, "windows lie within [0, major_frame)",
			    "window of `%s` on core %u ends after the major frame",
			    c->parts[x->w.partition].p.name, x->core);
			continue;
		}
		if (i > 0 && w[i - 1].core == x->core) {
			bwin_t *y = &w[i - 1];
			if (y->w.offset_ns + y->w.duration_ns > x->w.offset_ns &&
			    y->w.offset_ns + y->w.duration_ns <= sc->major_ns) {
				char h[256];
				snprintf(h, sizeof(h), "it overlaps the window of `%s` (line %u)",
					 c->parts[y->w.partition].p.name, y->w.pos.line);
				ERR(c, "E065", x->w.pos, x->len, myco__arena_strdup(&c->pa, h),
				    "windows overlap on core %u", x->core);
			}
		}
	}
	/* model: per core arrays */
	size_t ncores = 0;
	for (size_t i = 0; i < nw; i++)
		if (i == 0 || w[i].core != w[i - 1].core)
			ncores++;
	myco_core_sched_t *cs = myco__arena_alloc(&c->ma, ncores * sizeof(*cs) + 1);
	myco_window_t *wv = myco__arena_alloc(&c->ma, nw * sizeof(*wv) + 1);
	if (!cs || !wv) {
		c->oom = true;
		goto out;
	}
	size_t ci = (size_t)-1;
	for (size_t i = 0; i < nw; i++) {
		if (i == 0 || w[i].core != w[i - 1].core) {
			ci++;
			cs[ci].core = w[i].core;
			cs[ci].windows = &wv[i];
		}
		wv[i] = w[i].w;
		cs[ci].nwindows++;
	}
	sc->cores = cs;
	sc->ncores = ncores;
out:
	free(w);
}

/* ---------------------------------------------------------- system checks */

static void check_channels(ctx_t *c)
{
	for (size_t pi = 0; pi < c->nparts; pi++) {
		bpart_t *bp = &c->parts[pi];
		for (size_t e = 0; e < bp->nends; e++) {
			bchan_t *b = &c->chans[bp->ends[e].channel];
			myco_pos_t pos = bp->ends[e].pos;
			uint32_t u = (uint32_t)pi;
			switch (bp->ends[e].role) {
			case MYCO_END_SEND:
				if (b->nsnd < 2)
					b->snd_pos[b->nsnd] = pos;
				if (MYCO__PUSH(b->snd, b->nsnd, b->csnd, u))
					c->oom = true;
				break;
			case MYCO_END_RECV:
				if (b->nrcv < 2)
					b->rcv_pos[b->nrcv] = pos;
				if (MYCO__PUSH(b->rcv, b->nrcv, b->crcv, u))
					c->oom = true;
				break;
			case MYCO_END_CALL:
				if (MYCO__PUSH(b->cli, b->ncli, b->ccli, u))
					c->oom = true;
				break;
			case MYCO_END_SERVE:
				if (b->nserve < 2)
					b->serve_pos[b->nserve] = pos;
				if (b->nserve == 0)
					b->c.server = u;
				b->nserve++;
				break;
			}
		}
	}
	for (size_t i = 0; i < c->nchans; i++) {
		bchan_t *b = &c->chans[i];
		myco_channel_t *ch = &b->c;
		uint32_t nl = (uint32_t)strlen(ch->name);
		char h[300];
		if (b->bad || b->unsure)
			continue;
		if (ch->kind == MYCO_LANG_QUEUE) {
			if (b->nrcv == 0) {
				snprintf(h, sizeof(h), "add `recv %s;` to the partition that consumes it", ch->name);
				ERR(c, "E051", ch->pos, nl, myco__arena_strdup(&c->pa, h),
				    "queue `%s` has no receiver", ch->name);
			} else if (b->nrcv > 1) {
				snprintf(h, sizeof(h), "`%s` already receives it (line %u); a queue has one consumer, "
					 "use a sample channel or one queue per consumer",
					 c->parts[b->rcv[0]].p.name, b->rcv_pos[0].line);
				ERR(c, "E052", b->rcv_pos[1], nl, myco__arena_strdup(&c->pa, h),
				    "queue `%s` has %zu receivers", ch->name, b->nrcv);
			} else {
				ch->receiver = b->rcv[0];
			}
		} else if (ch->kind == MYCO_LANG_SAMPLE) {
			if (b->nsnd > 1) {
				snprintf(h, sizeof(h), "`%s` already writes it (line %u); a sample channel has one writer",
					 c->parts[b->snd[0]].p.name, b->snd_pos[0].line);
				ERR(c, "E056", b->snd_pos[1], nl, myco__arena_strdup(&c->pa, h),
				    "sample channel `%s` has %zu writers", ch->name, b->nsnd);
			}
			if (b->nrcv == 0) {
				snprintf(h, sizeof(h), "add `recv %s;` to a partition that reads it", ch->name);
				ERR(c, "E058", ch->pos, nl, myco__arena_strdup(&c->pa, h),
				    "sample channel `%s` has no reader", ch->name);
			}
		} else {
			if (b->nserve == 0) {
				snprintf(h, sizeof(h), "add `serve %s;` to the partition that answers it", ch->name);
				ERR(c, "E054", ch->pos, nl, myco__arena_strdup(&c->pa, h),
				    "call channel `%s` has no server", ch->name);
			} else if (b->nserve > 1) {
				snprintf(h, sizeof(h), "`%s` already serves it (line %u); a call channel has one server",
					 c->parts[ch->server].p.name, b->serve_pos[0].line);
				ERR(c, "E055", b->serve_pos[1], nl, myco__arena_strdup(&c->pa, h),
				    "call channel `%s` has %u servers", ch->name, b->nserve);
			}
			if (b->ncli == 0)
				WARN(c, "W001", ch->pos, nl, "add `call NAME;` to a client partition, or remove it",
				     "call channel `%s` has no client", ch->name);
		}
		if (ch->kind != MYCO_LANG_CALL && b->nsnd == 0) {
			snprintf(h, sizeof(h), "add `send %s;` to the partition that produces it", ch->name);
			WARN(c, "W001", ch->pos, nl, myco__arena_strdup(&c->pa, h),
			     "channel `%s` has no sender", ch->name);
		}
	}
}

/* Cycles in the "calls" graph (client -> server), iterative DFS. */
static void check_call_cycles(ctx_t *c)
{
	size_t n = c->nparts;
	uint8_t *color = calloc(n, 1);
	size_t *stk = malloc((n + 1) * sizeof(*stk));
	size_t *eit = malloc((n + 1) * sizeof(*eit));
	uint32_t *parent = malloc((n + 1) * sizeof(*parent));
	myco_pos_t *via = malloc((n + 1) * sizeof(*via));
	int reported = 0;
	if (!color || !stk || !eit || !parent || !via) {
		c->oom = true;
		goto out;
	}
	for (size_t root = 0; root < n && reported < 10; root++) {
		if (color[root])
			continue;
		size_t sp = 0;
		stk[sp] = root;
		eit[sp] = 0;
		color[root] = 1;
		while (sp != (size_t)-1) {
			size_t u = stk[sp];
			bpart_t *bp = &c->parts[u];
			bool pushed = false;
			while (eit[sp] < bp->nends) {
				myco_end_t *e = &bp->ends[eit[sp]++];
				if (e->role != MYCO_END_CALL)
					continue;
				uint32_t v = c->chans[e->channel].c.server;
				if (v == MYCO_LANG_NONE || c->chans[e->channel].bad)
					continue;
				via[sp] = e->pos;
				if (color[v] == 1) {
					/* cycle: stack from v to u, then v */
					char chain[512] = "";
					size_t from = 0;
					for (size_t j = 0; j <= sp; j++)
						if (stk[j] == v)
							from = j;
					for (size_t j = from; j <= sp; j++) {
						strncat(chain, c->parts[stk[j]].p.name, sizeof(chain) - strlen(chain) - 1);
						strncat(chain, " -> ", sizeof(chain) - strlen(chain) - 1);
					}
					strncat(chain, c->parts[v].p.name, sizeof(chain) - strlen(chain) - 1);
					ERR(c, "E070", e->pos, (uint32_t)strlen(c->chans[e->channel].c.name),
					    "a cycle of blocking calls can deadlock; break it with a queue",
					    "calls form a cycle: %s", chain);
					reported++;
					continue;
				}
				if (color[v] == 0) {
					color[v] = 1;
					sp++;
					stk[sp] = v;
					eit[sp] = 0;
					pushed = true;
					break;
				}
			}
			if (!pushed) {
				color[u] = 2;
				sp--;
			}
		}
	}
out:
	free(color);
	free(stk);
	free(eit);
	free(parent);
	free(via);
}

static void check_time_and_memory(ctx_t *c, const myco_system_t *sys)
{
	double util[64] = { 0 };
	uint32_t last[64];
	double free_util = 0;
	uint64_t memsum = 0;
	bool memover = false;
	for (int i = 0; i < 64; i++)
		last[i] = MYCO_LANG_NONE;
	/* frame windows occupy their core for duration / major */
	for (size_t i = 0; i < c->sched.ncores; i++) {
		const myco_core_sched_t *cs = &c->sched.cores[i];
		for (size_t j = 0; j < cs->nwindows; j++)
			util[cs->core] += (double)cs->windows[j].duration_ns / (double)c->sched.major_ns;
	}
	for (size_t pi = 0; pi < c->nparts; pi++) {
		bpart_t *bp = &c->parts[pi];
		myco_partition_t *p = &bp->p;
		if (p->mode == MYCO_MODE_FRAME && !bp->has_window && !bp->bad) {
			ERR(c, "E063", bp->mode_pos, 5,
			    c->sched_st ? "give it a window in the schedule" : "add a schedule block with its windows",
			    "frame-mode partition `%s` has no window", p->name);
		}
		if (p->mode == MYCO_MODE_BUDGET) {
			double u = (double)p->runtime_ns / (double)p->period_ns;
			if (!p->ncores) {
				free_util += u;
			} else {
				for (size_t k = 0; k < p->ncores; k++) {
					uint32_t core = p->cores[k];
					double before = util[core];
					util[core] += u;
					if (before <= 1.0 + 1e-9 && util[core] > 1.0 + 1e-9) {
						char h[300];
						snprintf(h, sizeof(h), "the budgets (runtime/period) and frame windows on core %u add "
							 "up to more than 100%%; lower a budget or move a partition", core);
						ERR(c, "E061", bp->mode_pos, 6, myco__arena_strdup(&c->pa, h),
						    "core %u is over-committed: utilisation %.2f with `%s`", core,
						    util[core], p->name);
					}
					last[core] = (uint32_t)pi;
				}
			}
		}
		if (p->memory_bytes) {
			if (__builtin_add_overflow(memsum, p->memory_bytes, &memsum))
				memsum = UINT64_MAX;
			if (sys->machine_memory && memsum > sys->machine_memory && !memover &&
			    p->memory_bytes <= sys->machine_memory) {
				memover = true;
				ERR(c, "E068", bp->mem_pos, 1,
				    "the partitions' memory limits together exceed the machine; lower some",
				    "total partition memory exceeds the machine's memory (reached at `%s`)", p->name);
			}
		}
	}
	double total = free_util;
	for (int i = 0; i < 64; i++)
		total += util[i];
	if (sys->machine_cores && total > sys->machine_cores + 1e-9 && c->nparts) {
		myco_pos_t p = c->system->pos;
		ERR(c, "E061", p, 6, "lower budgets, or declare more cores in the machine block",
		    "total CPU utilisation %.2f exceeds the machine's %u cores", total, sys->machine_cores);
	}
	(void)last;
}

/* ------------------------------------------------------------------ build */

/* Name lists for "did you mean". */
static int name_lists(ctx_t *c)
{
	c->nmsg = calloc(c->nmsgs + 1, sizeof(char *));
	c->nchan = calloc(c->nchans + 1, sizeof(char *));
	c->npart = calloc(c->nparts + 1, sizeof(char *));
	c->ngroup = calloc(c->ngroups + 1, sizeof(char *));
	c->ntype = calloc(c->nmsgs + c->nenums + 1, sizeof(char *));
	if (!c->nmsg || !c->nchan || !c->npart || !c->ngroup || !c->ntype)
		return -ENOMEM;
	for (size_t i = 0; i < c->nmsgs; i++)
		c->ntype[i] = c->msgs[i].m.name;
	for (size_t i = 0; i < c->nenums; i++)
		c->ntype[c->nmsgs + i] = c->enums[i].e.name;
	for (size_t i = 0; i < c->nmsgs; i++)
		c->nmsg[i] = c->msgs[i].m.name;
	for (size_t i = 0; i < c->nchans; i++)
		c->nchan[i] = c->chans[i].c.name;
	for (size_t i = 0; i < c->nparts; i++)
		c->npart[i] = c->parts[i].p.name;
	for (size_t i = 0; i < c->ngroups; i++)
		c->ngroup[i] = c->groups[i].g.name;
	return 0;
}

static int lower_system(ctx_t *c)
{
	myco__stmt_t *s = c->system;
	myco_system_t *sys = c->sys;
	const char *usage = "system name { ... }";
	myco__arg_t *na = decl_name(c, s, usage);
	if (na) {
		sys->name = astr(c, na->text);
		sys->pos = na->pos;
		cur_t k = cur_of(c, s, usage);
		k.i = 2;
		if (!args_done(&k))
			return 0;
	}
	if (!want_block(c, s, usage))
		return 0;
	/* pass 1: machine, names of everything */
	for (size_t i = 0; i < s->nkids; i++) {
		myco__stmt_t *x = s->kids[i];
		const char *w = x->args[0].text;
		if (!strcmp(w, "machine")) {
			if (!x->bad)
				lower_machine(c, x, sys);
		} else if (!strcmp(w, "message")) {
			collect_messages(c, &s->kids[i], 1);
		} else if (!strcmp(w, "enum")) {
			collect_enum(c, x);
		} else if (!strcmp(w, "channel")) {
			const char *u = "channel name queue|sample|call { ... }";
			myco__arg_t *a = decl_name(c, x, u);
			if (!a)
				continue;
			cur_t k = cur_of(c, x, u);
			k.i = 2;
			int kind = want_choice(&k, "channel kind", kind_names, 3);
			if (kind < 0)
				continue;
			if (!args_done(&k) || !want_block(c, x, u))
				continue;
			bchan_t b = { 0 };
			b.st = x;
			b.bad = x->bad;
			b.c.name = astr(c, a->text);
			b.c.pos = a->pos;
			b.c.kind = (myco_lang_chan_kind_t)kind;
			if (reg_name(c, &c->hchan, c->nchans, a, "channel"))
				continue;
			if (MYCO__PUSH(c->chans, c->nchans, c->cchans, b))
				return -ENOMEM;
		} else if (!strcmp(w, "partition") || !strcmp(w, "group")) {
			bool part = w[0] == 'p';
			const char *u = part ? "partition name { program \"./x\"; ... }"
					     : "group name { strategy one_for_one; members a, b; }";
			myco__arg_t *a = decl_name(c, x, u);
			if (!a)
				continue;
			cur_t k = cur_of(c, x, u);
			k.i = 2;
			if (!args_done(&k) || !want_block(c, x, u))
				continue;
			if (part) {
				bpart_t b = { 0 };
				b.st = x;
				b.bad = x->bad;
				b.p.name = astr(c, a->text);
				b.p.pos = a->pos;
				b.p.group = MYCO_LANG_NONE;
				if (reg_name(c, &c->hpart, c->nparts, a, "partition"))
					continue;
				if (MYCO__PUSH(c->parts, c->nparts, c->cparts, b))
					return -ENOMEM;
			} else {
				bgroup_t b = { 0 };
				b.st = x;
				b.bad = x->bad;
				b.g.name = astr(c, a->text);
				b.g.pos = a->pos;
				if (reg_name(c, &c->hgroup, c->ngroups, a, "group"))
					continue;
				if (MYCO__PUSH(c->groups, c->ngroups, c->cgroups, b))
					return -ENOMEM;
			}
		} else if (!strcmp(w, "schedule")) {
			if (c->sched_st) {
				ERR(c, "E022", x->pos, 8, "put all cores in one schedule block",
				    "more than one schedule");
				continue;
			}
			c->sched_st = x;
		} else if (!strcmp(w, "import")) {
			ERR(c, "E092", x->pos, 6, "put imports at the top of the file, outside the system",
			    "`import` inside a system");
		} else if (!x->bad) {
			unknown_stmt(c, x, "system", "a system");
		}
	}
	if (c->oom)
		return -ENOMEM;
	if (name_lists(c))
		return -ENOMEM;
	/* pass 2: bodies */
	for (size_t i = 0; i < c->nenums; i++)
		lower_enum(c, &c->enums[i]);
	for (size_t i = 0; i < c->nmsgs; i++)
		lower_fields(c, &c->msgs[i]);
	for (size_t i = 0; i < c->nmsgs; i++)
		layout(c, (uint32_t)i, 0);
	for (size_t i = 0; i < c->nchans; i++) {
		lower_channel(c, &c->chans[i]);
		myco_channel_t *ch = &c->chans[i].c;
		if (ch->msg != MYCO_LANG_NONE)
			ch->msg_size = c->msgs[ch->msg].m.size;
		if (ch->request != MYCO_LANG_NONE)
			ch->request_size = c->msgs[ch->request].m.size;
		if (ch->reply != MYCO_LANG_NONE)
			ch->reply_size = c->msgs[ch->reply].m.size;
	}
	for (size_t i = 0; i < c->nparts; i++)
		lower_partition(c, &c->parts[i], sys);
	for (size_t i = 0; i < c->ngroups; i++)
		lower_group(c, &c->groups[i], (uint32_t)i);
	if (c->sched_st)
		lower_schedule(c, c->sched_st, sys);
	if (c->oom)
		return -ENOMEM;
	check_channels(c);
	check_call_cycles(c);
	check_time_and_memory(c, sys);
	return c->oom ? -ENOMEM : 0;
}

/* Copy builders into the model arena. */
static int finalise(ctx_t *c)
{
	myco_system_t *sys = c->sys;
	myco__arena_t *a = &c->ma;
	myco_msgtype_t *mv = myco__arena_alloc(a, c->nmsgs * sizeof(*mv) + 1);
	myco_channel_t *cv = myco__arena_alloc(a, c->nchans * sizeof(*cv) + 1);
	myco_partition_t *pv = myco__arena_alloc(a, c->nparts * sizeof(*pv) + 1);
	myco_group_t *gv = myco__arena_alloc(a, c->ngroups * sizeof(*gv) + 1);
	if (!mv || !cv || !pv || !gv)
		return -ENOMEM;
	for (size_t i = 0; i < c->nmsgs; i++) {
		bmsg_t *b = &c->msgs[i];
		myco_field_t *f = myco__arena_alloc(a, b->nf * sizeof(*f) + 1);
		if (!f)
			return -ENOMEM;
		if (b->nf)
			memcpy(f, b->f, b->nf * sizeof(*f));
		mv[i] = b->m;
		mv[i].fields = f;
		mv[i].nfields = b->nf;
	}
	for (size_t i = 0; i < c->nchans; i++) {
		bchan_t *b = &c->chans[i];
		uint32_t *s = myco__arena_alloc(a, b->nsnd * 4 + 1);
		uint32_t *r = myco__arena_alloc(a, b->nrcv * 4 + 1);
		uint32_t *k = myco__arena_alloc(a, b->ncli * 4 + 1);
		if (!s || !r || !k)
			return -ENOMEM;
		if (b->nsnd)
			memcpy(s, b->snd, b->nsnd * 4);
		if (b->nrcv)
			memcpy(r, b->rcv, b->nrcv * 4);
		if (b->ncli)
			memcpy(k, b->cli, b->ncli * 4);
		cv[i] = b->c;
		cv[i].senders = s;
		cv[i].nsenders = b->nsnd;
		cv[i].receivers = r;
		cv[i].nreceivers = b->nrcv;
		cv[i].clients = k;
		cv[i].nclients = b->ncli;
	}
	for (size_t i = 0; i < c->nparts; i++) {
		bpart_t *b = &c->parts[i];
		myco_end_t *e = myco__arena_alloc(a, b->nends * sizeof(*e) + 1);
		if (!e)
			return -ENOMEM;
		if (b->nends)
			memcpy(e, b->ends, b->nends * sizeof(*e));
		pv[i] = b->p;
		pv[i].ends = e;
		pv[i].nends = b->nends;
	}
	for (size_t i = 0; i < c->ngroups; i++)
		gv[i] = c->groups[i].g;
	myco_enum_t *ev = myco__arena_alloc(a, c->nenums * sizeof(*ev) + 1);
	if (!ev)
		return -ENOMEM;
	for (size_t i = 0; i < c->nenums; i++) {
		benum_t *b = &c->enums[i];
		myco_enum_value_t *v = myco__arena_alloc(a, b->nv * sizeof(*v) + 1);
		if (!v)
			return -ENOMEM;
		if (b->nv)
			memcpy(v, b->v, b->nv * sizeof(*v));
		ev[i] = b->e;
		ev[i].values = v;
		ev[i].nvalues = b->nv;
	}
	sys->enums = ev;
	sys->nenums = c->nenums;
	sys->msgs = mv;
	sys->nmsgs = c->nmsgs;
	sys->channels = cv;
	sys->nchannels = c->nchans;
	sys->partitions = pv;
	sys->npartitions = c->nparts;
	sys->groups = gv;
	sys->ngroups = c->ngroups;
	sys->schedule = c->sched;
	return 0;
}

static void ctx_free(ctx_t *c)
{
	for (size_t i = 0; i < c->nmsgs; i++)
		free(c->msgs[i].f);
	for (size_t i = 0; i < c->nenums; i++)
		free(c->enums[i].v);
	free(c->enums);
	free(c->ntype);
	myco__htab_free(&c->henum);
	for (size_t i = 0; i < c->nchans; i++) {
		free(c->chans[i].snd);
		free(c->chans[i].rcv);
		free(c->chans[i].cli);
	}
	for (size_t i = 0; i < c->nparts; i++)
		free(c->parts[i].ends);
	for (size_t i = 0; i < c->nfiles; i++) {
		free(c->files[i].real);
		myco__tree_free(&c->files[i].tree);
	}
	free(c->files);
	free(c->stack);
	free(c->port_owner);
	free(c->msgs);
	free(c->chans);
	free(c->parts);
	free(c->groups);
	free(c->nmsg);
	free(c->nchan);
	free(c->npart);
	free(c->ngroup);
	myco__htab_free(&c->hmsg);
	myco__htab_free(&c->hchan);
	myco__htab_free(&c->hpart);
	myco__htab_free(&c->hgroup);
	myco__arena_free(&c->pa);
}

static int load(const char *name, const char *buf, size_t len, unsigned flags,
		myco_system_t **out, myco_diags_t **diags)
{
	ctx_t c;
	int rc = 0;
	sys_internal_t *in = NULL;
	memset(&c, 0, sizeof(c));
	*out = NULL;
	if (diags)
		*diags = NULL;
	c.flags = flags;
	c.d = myco__diags_new();
	if (!c.d)
		return -ENOMEM;
	c.sys = myco__arena_alloc(&c.ma, sizeof(*c.sys));
	bfile_t f = { 0 };
	f.name = myco__arena_strdup(&c.ma, name ? name : "<input>");
	if (!c.sys || !f.name || MYCO__PUSH(c.files, c.nfiles, c.cfiles, f)) {
		rc = -ENOMEM;
		goto out;
	}
	if (name && !(flags & MYCO_LANG_NO_IMPORTS))
		c.files[0].real = realpath(name, NULL);
	c.sys->path = f.name;
	if (flags & MYCO__LOAD_TOO_BIG) {
		myco_pos_t p = { f.name, 1, 1 };
		ERR(&c, "E015", p, 1, "split the file", "file too large (more than 16 MiB)");
		rc = -MYCO_ESYNTAX;
		goto out;
	}
	rc = load_text(&c, 0, buf, len, true);
	if (rc)
		goto out;
	if (!c.system) {
		if (!myco_diags_errors(c.d)) {
			myco_pos_t p = { f.name, 1, 1 };
			ERR(&c, "E095", p, 1, "a system file declares `system name { ... }`",
			    "no system in this file");
		}
		/* still check message types so their errors are reported */
		if (name_lists(&c)) {
			rc = -ENOMEM;
			goto out;
		}
		for (size_t i = 0; i < c.nenums; i++)
			lower_enum(&c, &c.enums[i]);
		for (size_t i = 0; i < c.nmsgs; i++)
			lower_fields(&c, &c.msgs[i]);
		for (size_t i = 0; i < c.nmsgs; i++)
			layout(&c, (uint32_t)i, 0);
	} else if (!c.d->stopped) {   /* 100 errors already: no more checking */
		rc = lower_system(&c);
		if (rc)
			goto out;
	}
	if (c.oom || c.d->oom) {
		rc = -ENOMEM;
		goto out;
	}
	if (myco_diags_errors(c.d) || c.d->stopped) {
		rc = -MYCO_ESYNTAX;
		goto out;
	}
	rc = finalise(&c);
	if (rc)
		goto out;
	in = calloc(1, sizeof(*in));
	if (!in) {
		rc = -ENOMEM;
		goto out;
	}
	myco_system_t *sys = c.sys;
	for (size_t i = 0; i < sys->nmsgs && !rc; i++)
		rc = myco__htab_put(&in->hmsg, sys->msgs[i].name, (uint32_t)i, NULL);
	for (size_t i = 0; i < sys->nchannels && !rc; i++)
		rc = myco__htab_put(&in->hchan, sys->channels[i].name, (uint32_t)i, NULL);
	for (size_t i = 0; i < sys->npartitions && !rc; i++)
		rc = myco__htab_put(&in->hpart, sys->partitions[i].name, (uint32_t)i, NULL);
	for (size_t i = 0; i < sys->ngroups && !rc; i++)
		rc = myco__htab_put(&in->hgroup, sys->groups[i].name, (uint32_t)i, NULL);
	for (size_t i = 0; i < sys->nenums && !rc; i++)
		rc = myco__htab_put(&in->henum, sys->enums[i].name, (uint32_t)i, NULL);
	if (rc) {
		rc = -ENOMEM;
		goto out;
	}
	in->arena = c.ma;
	c.ma.head = NULL;
	sys->internal_ = in;
	in = NULL;
	*out = sys;
out:
	if (in) {
		myco__htab_free(&in->hmsg);
		myco__htab_free(&in->hchan);
		myco__htab_free(&in->hpart);
		myco__htab_free(&in->hgroup);
		myco__htab_free(&in->henum);
		free(in);
	}
	ctx_free(&c);
	myco__arena_free(&c.ma);
	if (diags)
		*diags = c.d;
	else
		myco_diags_free(c.d);
	return rc;
}

int myco_lang_load_buffer_flags(const char *name, const char *buf, size_t len,
				unsigned flags, myco_system_t **out, myco_diags_t **diags)
{
	return load(name, buf, len, flags, out, diags);
}

int myco_lang_load_buffer(const char *name, const char *buf, size_t len,
			  myco_system_t **out, myco_diags_t **diags)
{
	return load(name, buf, len, 0, out, diags);
}

int myco_lang_load_file(const char *path, myco_system_t **out, myco_diags_t **diags)
{
	char *buf = NULL;
	size_t len = 0;
	*out = NULL;
	if (diags)
		*diags = NULL;
	int rc = read_file(path, &buf, &len);
	if (rc == -EFBIG) {
		/* report it like any other problem of the input */
		static const char big[] = "";
		rc = load(path, big, 0, MYCO__LOAD_TOO_BIG, out, diags);
		return rc;
	}
	if (rc)
		return rc;
	rc = load(path, buf, len, 0, out, diags);
	free(buf);
	return rc;
}

void myco_system_free(myco_system_t *sys)
{
	if (!sys)
		return;
	sys_internal_t *in = sys->internal_;
	if (!in)
		return;
	myco__htab_free(&in->hmsg);
	myco__htab_free(&in->hchan);
	myco__htab_free(&in->hpart);
	myco__htab_free(&in->hgroup);
	myco__htab_free(&in->henum);
	myco__arena_t a = in->arena;
	free(in);
	myco__arena_free(&a);   /* sys itself lives in the arena */
}

static const sys_internal_t *internal(const myco_system_t *sys)
{
	return sys ? sys->internal_ : NULL;
}

uint32_t myco_system_find_msg(const myco_system_t *sys, const char *name)
{
	const sys_internal_t *in = internal(sys);
	return in && name ? myco__htab_get(&in->hmsg, name) : MYCO_LANG_NONE;
}

uint32_t myco_system_find_channel(const myco_system_t *sys, const char *name)
{
	const sys_internal_t *in = internal(sys);
	return in && name ? myco__htab_get(&in->hchan, name) : MYCO_LANG_NONE;
}

uint32_t myco_system_find_partition(const myco_system_t *sys, const char *name)
{
	const sys_internal_t *in = internal(sys);
	return in && name ? myco__htab_get(&in->hpart, name) : MYCO_LANG_NONE;
}

uint32_t myco_system_find_enum(const myco_system_t *sys, const char *name)
{
	const sys_internal_t *in = internal(sys);
	return in && name ? myco__htab_get(&in->henum, name) : MYCO_LANG_NONE;
}

uint32_t myco_system_find_group(const myco_system_t *sys, const char *name)
{
	const sys_internal_t *in = internal(sys);
	return in && name ? myco__htab_get(&in->hgroup, name) : MYCO_LANG_NONE;
}

const char *myco_lang_chan_kind_name(myco_lang_chan_kind_t k)
{
	return (unsigned)k < 3 ? kind_names[k] : "?";
}

const char *myco_overflow_name(myco_overflow_t o)
{
	return (unsigned)o < 3 ? overflow_names[o] : "?";
}

const char *myco_mode_name(myco_mode_t m)
{
	static const char *const n[] = { "none", "budget", "frame" };
	return (unsigned)m < 3 ? n[m] : "?";
}

const char *myco_end_role_name(myco_end_role_t r)
{
	return (unsigned)r < 4 ? role_kw[r] : "?";
}

const char *myco_restart_name(myco_restart_t r)
{
	return (unsigned)r < 3 ? restart_names[r] : "?";
}

const char *myco_strategy_name(myco_strategy_t s)
{
	return (unsigned)s < 3 ? strategy_names[s] : "?";
}

const char *myco_ftype_name(myco_ftype_t t)
{
	if ((unsigned)t < 13)
		return ftype_names[t];
	return t == MYCO_FT_MSG ? "message" : t == MYCO_FT_ENUM ? "enum" : "?";
}
