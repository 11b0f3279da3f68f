/*
 * fmt.c: the canonical form of a .myco file (`myco fmt`).  Prints the
 * statement tree with 4-space indentation, one statement per line, single
 * spaces between arguments (none before , : ] or inside [ ]), quantities as
 * `10 ms`, strings re-escaped, at most one blank line kept between
 * statements and one always put between block declarations of the top two
 * levels; every comment is kept, leading comments above their statement and
 * trailing ones after it.  Formatting its own output changes nothing.
 * Not for: files with syntax errors (refused, since the tree is partial).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "lang_int.h"

typedef struct fctx {
	FILE *f;
	const myco__comment_t *coms;
} fctx_t;

static void indent(FILE *f, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		fputs("    ", f);
}

static void put_str(FILE *f, const char *s, uint32_t n)
{
	fputc('"', f);
	for (uint32_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c == '\n')
			fputs("\\n", f);
		else if (c == '\t')
			fputs("\\t", f);
		else if (c < 0x20 || c == 0x7f)
			fprintf(f, "\\x%02x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

static void put_args(FILE *f, const myco__stmt_t *s)
{
	for (size_t i = 0; i < s->nargs; i++) {
		const myco__arg_t *a = &s->args[i];
		if (i > 0) {
			const myco__arg_t *p = &s->args[i - 1];
			bool tight = (a->kind == MYCO__A_PUNCT && strchr(",:];.", a->punct)) ||
				     (p->kind == MYCO__A_PUNCT && p->punct == '.') ||
				     (a->kind == MYCO__A_PUNCT && a->punct == '[' &&
				      p->kind != MYCO__A_PUNCT) ||
				     (p->kind == MYCO__A_PUNCT && p->punct == '[');
			if (!tight)
				fputc(' ', f);
		}
		switch (a->kind) {
		case MYCO__A_IDENT:
		case MYCO__A_NUM:
			fputs(a->text, f);
			break;
		case MYCO__A_QTY:
			fprintf(f, "%s %s", a->text, a->unit);
			break;
		case MYCO__A_STR:
			put_str(f, a->text, a->textlen);
			break;
		case MYCO__A_PUNCT:
			fputs(a->punct == '.' ? ".." : (char[2]){ a->punct, 0 }, f);
			break;
		}
	}
}

static void put_comment_line(fctx_t *x, uint32_t ci, unsigned depth)
{
	indent(x->f, depth);
	fputs(x->coms[ci].text, x->f);
	fputc('\n', x->f);
}

static void put_stmts(fctx_t *x, myco__stmt_t *const *v, size_t n, unsigned depth);

static void put_stmt(fctx_t *x, const myco__stmt_t *s, unsigned depth, bool first)
{
	FILE *f = x->f;
	if (!first && (s->blank_before || (s->block && depth <= 1)))
		fputc('\n', f);
	for (uint32_t i = 0; i < s->nlead; i++) {
		if (i > 0 && x->coms[s->lead0 + i].blank_before)
			fputc('\n', f);
		put_comment_line(x, s->lead0 + i, depth);
	}
	if (s->nlead && s->blank_after_lead)
		fputc('\n', f);
	indent(f, depth);
	put_args(f, s);
	if (s->block) {
		if (!s->nkids && !s->ninner && s->open_trail < 0) {
			fputs(" {}", f);
		} else {
			fputs(" {", f);
			if (s->open_trail >= 0)
				fprintf(f, " %s", x->coms[s->open_trail].text);
			fputc('\n', f);
			put_stmts(x, s->kids, s->nkids, depth + 1);
			for (uint32_t i = 0; i < s->ninner; i++) {
				if ((i > 0 || s->nkids) && x->coms[s->inner0 + i].blank_before)
					fputc('\n', f);
				put_comment_line(x, s->inner0 + i, depth + 1);
			}
			indent(f, depth);
			fputc('}', f);
		}
	} else {
		fputc(';', f);
	}
	if (s->trail >= 0)
		fprintf(f, " %s", x->coms[s->trail].text);
	fputc('\n', f);
}

static void put_stmts(fctx_t *x, myco__stmt_t *const *v, size_t n, unsigned depth)
{
	for (size_t i = 0; i < n; i++)
		put_stmt(x, v[i], depth, i == 0);
}

int myco_lang_fmt(const char *name, const char *buf, size_t len, char **out,
		  size_t *outlen, myco_diags_t **diags)
{
	myco__arena_t a = { 0 };
	myco__tree_t t;
	char *mem = NULL;
	size_t memlen = 0;
	FILE *f = NULL;
	int rc;
	*out = NULL;
	if (outlen)
		*outlen = 0;
	myco_diags_t *d = myco__diags_new();
	if (!d)
		return -ENOMEM;
	if (!name)
		name = "<input>";
	if (myco__diags_add_src(d, name, buf, len) < 0) {
		rc = -ENOMEM;
		goto out_nofile;
	}
	if (len > MYCO__MAX_FILE) {
		myco_pos_t p = { name, 1, 1 };
		myco__diag(d, MYCO_SEV_ERROR, "E015", p, 1, "split the file",
			   "file too large (more than 16 MiB)");
		rc = -MYCO_ESYNTAX;
		goto out_nofile;
	}
	rc = myco__parse(name, buf, len, &a, d, &t);
	if (rc)
		goto out_tree;
	if (myco_diags_errors(d)) {
		rc = -MYCO_ESYNTAX;
		goto out_tree;
	}
	f = open_memstream(&mem, &memlen);
	if (!f) {
		rc = -ENOMEM;
		goto out_tree;
	}
	fctx_t x = { f, t.coms };
	put_stmts(&x, t.top, t.ntop, 0);
	for (uint32_t i = 0; i < t.nend; i++) {
		if ((i > 0 || t.ntop) && t.coms[t.end0 + i].blank_before)
			fputc('\n', f);
		put_comment_line(&x, t.end0 + i, 0);
	}
	if (fclose(f)) {
		free(mem);
		rc = -ENOMEM;
		goto out_tree;
	}
	*out = mem;
	if (outlen)
		*outlen = memlen;
	rc = 0;
out_tree:
	myco__tree_free(&t);
out_nofile:
	myco__arena_free(&a);
	if (diags)
		*diags = d;
	else
		myco_diags_free(d);
	return rc;
}
