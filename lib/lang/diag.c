/*
 * diag.c: diagnostics of the language: collecting them (with copies of the
 * source files so they can quote lines), sorting, printing in the compiler
 * format (file:line:col: error[E0xx]: ..., source line, caret span, hint) and
 * as JSON.  The error code table with explanations is in codes.c.
 * Not for: deciding what is an error (lex.c, parse.c, the checker).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lang_int.h"

myco_diags_t *myco__diags_new(void)
{
	return calloc(1, sizeof(myco_diags_t));
}

int myco__diags_add_src(myco_diags_t *d, const char *name, const char *text, size_t len)
{
	myco__src_t s = { 0 };
	s.name = strdup(name);
	s.text = malloc(len + 1);
	if (!s.name || !s.text)
		goto oom;
	memcpy(s.text, text, len);
	s.text[len] = 0;
	s.len = len;
	size_t cap = 0;
	if (MYCO__PUSH(s.lines, s.nlines, cap, 0))
		goto oom;
	for (size_t i = 0; i < len; i++)
		if (text[i] == '\n' && MYCO__PUSH(s.lines, s.nlines, cap, (uint32_t)(i + 1)))
			goto oom;
	if (MYCO__PUSH(d->srcs, d->nsrcs, d->srcs_cap, s))
		goto oom;
	return (int)(d->nsrcs - 1);
oom:
	free(s.name);
	free(s.text);
	free(s.lines);
	d->oom = true;
	return -ENOMEM;
}

const char *myco__diags_src_name(const myco_diags_t *d, int src)
{
	return src >= 0 && (size_t)src < d->nsrcs ? d->srcs[src].name : "<input>";
}

void myco__diag(myco_diags_t *d, myco_severity_t sev, const char *code,
		myco_pos_t pos, uint32_t len, const char *hint, const char *fmt, ...)
{
	if (!d || d->stopped)
		return;
	if (sev == MYCO_SEV_ERROR && d->nerr >= MYCO__MAX_ERRORS) {
		d->stopped = true;
		return;
	}
	char buf[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	myco_diag_t g = { 0 };
	g.severity = sev;
	g.code = code;
	g.message = strdup(buf);
	g.hint = hint ? strdup(hint) : NULL;
	/* file names: point at our own copy so diags outlive everything */
	g.pos = pos;
	g.pos.file = NULL;
	for (size_t i = 0; i < d->nsrcs; i++)
		if (pos.file && !strcmp(d->srcs[i].name, pos.file)) {
			g.pos.file = d->srcs[i].name;
			break;
		}
	if (!g.pos.file)
		g.pos.file = pos.file ? strdup(pos.file) : NULL;
	g.len = len ? len : 1;
	if (!g.message || (hint && !g.hint) || MYCO__PUSH(d->v, d->n, d->cap, g)) {
		free((char *)g.message);
		free((char *)g.hint);
		d->oom = true;
		return;
	}
	if (sev == MYCO_SEV_ERROR)
		d->nerr++;
	d->sorted = false;
}

static bool own_name(const myco_diags_t *d, const char *f)
{
	for (size_t i = 0; i < d->nsrcs; i++)
		if (d->srcs[i].name == f)
			return true;
	return false;
}

static int diag_cmp(const void *a, const void *b)
{
	const myco_diag_t *x = a, *y = b;
	int c = strcmp(x->pos.file ? x->pos.file : "", y->pos.file ? y->pos.file : "");
	if (c)
		return c;
	if (x->pos.line != y->pos.line)
		return x->pos.line < y->pos.line ? -1 : 1;
	if (x->pos.col != y->pos.col)
		return x->pos.col < y->pos.col ? -1 : 1;
	/* stable by insertion: messages are pointers from strdup, use code */
	return strcmp(x->code, y->code);
}

void myco__diag_sort(myco_diags_t *d)
{
	if (d->sorted || d->n < 2) {
		d->sorted = true;
		return;
	}
	/* qsort is not stable: tie-break on insertion order via a merge sort */
	myco_diag_t *tmp = malloc(d->n * sizeof(*tmp));
	if (!tmp) {
		qsort(d->v, d->n, sizeof(*d->v), diag_cmp);
		d->sorted = true;
		return;
	}
	for (size_t w = 1; w < d->n; w *= 2) {
		for (size_t lo = 0; lo < d->n; lo += 2 * w) {
			size_t mid = lo + w < d->n ? lo + w : d->n;
			size_t hi = lo + 2 * w < d->n ? lo + 2 * w : d->n;
			size_t i = lo, j = mid, k = lo;
			while (i < mid && j < hi)
				tmp[k++] = diag_cmp(&d->v[j], &d->v[i]) < 0 ? d->v[j++] : d->v[i++];
			while (i < mid)
				tmp[k++] = d->v[i++];
			while (j < hi)
				tmp[k++] = d->v[j++];
		}
		memcpy(d->v, tmp, d->n * sizeof(*tmp));
	}
	free(tmp);
	d->sorted = true;
}

size_t myco_diags_count(const myco_diags_t *d)
{
	return d ? d->n : 0;
}

size_t myco_diags_errors(const myco_diags_t *d)
{
	return d ? d->nerr : 0;
}

const myco_diag_t *myco_diags_get(const myco_diags_t *d, size_t i)
{
	if (!d || i >= d->n)
		return NULL;
	myco__diag_sort((myco_diags_t *)d);
	return &d->v[i];
}

static const myco__src_t *find_src(const myco_diags_t *d, const char *file)
{
	for (size_t i = 0; i < d->nsrcs; i++)
		if (file && !strcmp(d->srcs[i].name, file))
			return &d->srcs[i];
	return NULL;
}

static const char *sev_name(myco_severity_t s)
{
	return s == MYCO_SEV_ERROR ? "error" : s == MYCO_SEV_WARNING ? "warning" : "note";
}

/* Print a source line with control characters shown as spaces, and the
 * caret line below it.  Tabs are kept so the caret lines up. */
static void print_snippet(FILE *f, const myco__src_t *s, const myco_diag_t *g, bool color)
{
	if (!s || g->pos.line == 0 || g->pos.line > s->nlines)
		return;
	const char *p = s->text + s->lines[g->pos.line - 1];
	const char *e = p;
	while (*e && *e != '\n' && e - p < 512)
		e++;
	if (e > p && e[-1] == '\r')
		e--;
	int w = fprintf(f, " %u | ", g->pos.line) - 3;
	for (const char *q = p; q < e; q++)
		fputc((unsigned char)*q < 0x20 && *q != '\t' ? ' ' : *q, f);
	fputc('\n', f);
	fprintf(f, "%*s | ", w, "");
	uint32_t col = g->pos.col ? g->pos.col : 1;
	for (uint32_t c = 1; c < col && p + c - 1 < e; c++)
		fputc(p[c - 1] == '\t' ? '\t' : ' ', f);
	if (color)
		fputs(g->severity == MYCO_SEV_ERROR ? "\033[1;31m" : "\033[1;35m", f);
	fputc('^', f);
	uint32_t len = g->len;
	if (len > (uint32_t)(e - p) + 1 - (col <= (uint32_t)(e - p) ? col - 1 : 0))
		len = 1;
	for (uint32_t i = 1; i < len && i < 200; i++)
		fputc('~', f);
	if (color)
		fputs("\033[0m", f);
	fputc('\n', f);
}

void myco_diags_print(const myco_diags_t *d, FILE *f, bool color)
{
	if (!d)
		return;
	myco__diag_sort((myco_diags_t *)d);
	size_t nwarn = 0;
	for (size_t i = 0; i < d->n; i++) {
		const myco_diag_t *g = &d->v[i];
		if (g->severity == MYCO_SEV_WARNING)
			nwarn++;
		if (color)
			fputs("\033[1m", f);
		fprintf(f, "%s:%u:%u: ", g->pos.file ? g->pos.file : "<input>",
			g->pos.line, g->pos.col);
		if (color)
			fputs(g->severity == MYCO_SEV_ERROR ? "\033[1;31m" : "\033[1;35m", f);
		fprintf(f, "%s[%s]", sev_name(g->severity), g->code);
		if (color)
			fputs("\033[0;1m", f);
		fprintf(f, ": %s\n", g->message);
		if (color)
			fputs("\033[0m", f);
		print_snippet(f, find_src(d, g->pos.file), g, color);
		if (g->hint)
			fprintf(f, "  = hint: %s\n", g->hint);
	}
	if (d->stopped)
		fprintf(f, "note: too many errors; stopped after %d\n", MYCO__MAX_ERRORS);
	if (d->oom)
		fprintf(f, "note: out of memory while collecting diagnostics\n");
	if (d->nerr || nwarn)
		fprintf(f, "%zu error%s, %zu warning%s\n", d->nerr, d->nerr == 1 ? "" : "s",
			nwarn, nwarn == 1 ? "" : "s");
}

static void json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; s && *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c == '\n')
			fputs("\\n", f);
		else if (c == '\t')
			fputs("\\t", f);
		else if (c < 0x20 || c == 0x7f)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

void myco__json_str(FILE *f, const char *s)
{
	json_str(f, s);
}

void myco_diags_print_json(const myco_diags_t *d, FILE *f)
{
	fputc('[', f);
	if (d) {
		myco__diag_sort((myco_diags_t *)d);
		for (size_t i = 0; i < d->n; i++) {
			const myco_diag_t *g = &d->v[i];
			fprintf(f, "%s\n  {\"severity\":", i ? "," : "");
			json_str(f, sev_name(g->severity));
			fputs(",\"code\":", f);
			json_str(f, g->code);
			fputs(",\"message\":", f);
			json_str(f, g->message);
			fputs(",\"hint\":", f);
			if (g->hint)
				json_str(f, g->hint);
			else
				fputs("null", f);
			fputs(",\"file\":", f);
			json_str(f, g->pos.file ? g->pos.file : "<input>");
			fprintf(f, ",\"line\":%u,\"col\":%u,\"len\":%u}", g->pos.line,
				g->pos.col, g->len);
		}
		if (d->n)
			fputc('\n', f);
	}
	fputs("]\n", f);
}

void myco_diags_free(myco_diags_t *d)
{
	if (!d)
		return;
	for (size_t i = 0; i < d->n; i++) {
		free((char *)d->v[i].message);
		free((char *)d->v[i].hint);
		if (d->v[i].pos.file && !own_name(d, d->v[i].pos.file))
			free((char *)d->v[i].pos.file);
	}
	free(d->v);
	for (size_t i = 0; i < d->nsrcs; i++) {
		free(d->srcs[i].name);
		free(d->srcs[i].text);
		free(d->srcs[i].lines);
	}
	free(d->srcs);
	free(d);
}
