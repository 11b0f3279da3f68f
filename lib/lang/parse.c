/*
 * parse.c: recursive-descent parser for the statement layer of the grammar
 * (docs/language.md, "Lexical structure and statements"):
 *
 *     file      = { statement } EOF ;
 *     statement = word { arg } ( ";" | "{" { statement } "}" ) ;
 *     arg       = ident | number [ unit ] | string | "," | ":" | "=" | "[" | "]" ;
 *
 * It builds the statement tree, attaches comments for the formatter, and
 * recovers from errors at `;` and `}` so that one typo does not cascade.  The
 * productions of each construct (what a `channel` statement's args are) are
 * checked by the statement handlers (check.h); which words are statements
 * of which block comes from the statement table (stmts.c).  Nesting is bounded by MYCO__MAX_DEPTH so the recursion
 * cannot overflow the stack.  Not for: meaning.
 */
#include <errno.h>
#include <string.h>

#include "lang_int.h"

/* Is w a statement word of block blk (the statement table, stmts.c)?  Used
 * to spot a missing `;`: a known word at the start of a new line. */
static bool is_kw(myco__blk_t blk, const char *w)
{
	const myco__stmt_def_t *d = myco__stmt_find(blk, w);
	return d && !(d->flags & MYCO__S_HIDDEN);
}

typedef struct parser {
	myco__lexer_t lx;
	myco__tok_t cur, nxt;
	uint32_t prev_line, prev_end_col;   /* end of the last consumed token */
	myco__arena_t *a;
	myco_diags_t *d;
	const char *file;
	size_t ci;             /* next comment not yet attached */
	bool too_deep;         /* a block nested too deeply inside the current one */
	bool stop;             /* input limits exceeded: treat the rest as absent */
	size_t nstmts, nargs;  /* totals, against MYCO__MAX_STMTS / _ARGS */
	bool oom;
} parser_t;

static myco_pos_t tpos(const parser_t *p, const myco__tok_t *t)
{
	myco_pos_t r = { p->file, t->line, t->col };
	return r;
}

static void advance(parser_t *p)
{
	if (p->cur.kind != MYCO__T_EOF) {
		p->prev_line = p->cur.line;
		p->prev_end_col = p->cur.col + p->cur.len;
	}
	p->cur = p->nxt;
	if (p->cur.kind == MYCO__T_EOF)
		p->nxt = p->cur;
	else
		myco__lex_next(&p->lx, &p->nxt);
	if (p->lx.oom)
		p->oom = true;
}

static bool is_punct(const myco__tok_t *t, char c)
{
	return t->kind == MYCO__T_PUNCT && t->punct == c;
}

static const char *tok_desc(const myco__tok_t *t, char *buf, size_t n)
{
	switch (t->kind) {
	case MYCO__T_EOF: return "end of file";
	case MYCO__T_IDENT: snprintf(buf, n, "`%s`", t->text); return buf;
	case MYCO__T_NUM: snprintf(buf, n, "number `%s`", t->text); return buf;
	case MYCO__T_STR: return "a string";
	case MYCO__T_PUNCT:
		snprintf(buf, n, t->punct == '.' ? "`..`" : "`%c`", t->punct);
		return buf;
	default: return "invalid input";
	}
}

/* Comments before offset `off` not yet attached become the range
 * [*first, *first + *n). */
static void take_comments_before(parser_t *p, uint32_t off, uint32_t *first, uint32_t *n)
{
	*first = (uint32_t)p->ci;
	while (p->ci < p->lx.ncoms && p->lx.coms[p->ci].off < off)
		p->ci++;
	*n = (uint32_t)(p->ci - *first);
}

/* A comment on `line` right after the token just consumed. */
static int32_t take_trailing(parser_t *p, uint32_t line)
{
	if (p->ci < p->lx.ncoms && p->lx.coms[p->ci].line == line &&
	    p->lx.coms[p->ci].trailing &&
	    (p->cur.kind == MYCO__T_EOF || p->lx.coms[p->ci].off < p->cur.off))
		return (int32_t)p->ci++;
	return -1;
}

/* Skip a balanced { ... } starting at the current `{` (iteratively). */
static void skip_block(parser_t *p)
{
	size_t depth = 0;
	do {
		if (is_punct(&p->cur, '{'))
			depth++;
		else if (is_punct(&p->cur, '}'))
			depth--;
		advance(p);
	} while (depth && p->cur.kind != MYCO__T_EOF);
}

static int parse_block(parser_t *p, myco__blk_t blk, uint32_t depth, myco__stmt_t ***kids,
		       size_t *nkids, bool top);

/* Parse one statement; cur is its first token (an identifier). */
static myco__stmt_t *parse_stmt(parser_t *p, myco__blk_t blk, uint32_t depth)
{
	myco__stmt_t *s = myco__arena_alloc(p->a, sizeof(*s));
	myco__arg_t *args = NULL;
	size_t nargs = 0, cap = 0;
	if (!s) {
		p->oom = true;
		return NULL;
	}
	s->trail = s->open_trail = -1;
	s->pos = tpos(p, &p->cur);
	s->depth = depth;
	take_comments_before(p, p->cur.off, &s->lead0, &s->nlead);
	if (s->nlead) {
		s->blank_before = p->lx.coms[s->lead0].blank_before;
		s->blank_after_lead = p->cur.nl_before >= 2;
	} else {
		s->blank_before = p->cur.nl_before >= 2;
	}
	const char *word = p->cur.text;
	if (++p->nstmts > MYCO__MAX_STMTS) {
		myco__diag(p->d, MYCO_SEV_ERROR, "E015", s->pos, 1, "split the file",
			   "too many statements (more than %u)", MYCO__MAX_STMTS);
		p->stop = true;
	}
	for (;;) {
		myco__tok_t *t = &p->cur;
		if (p->stop) {
			s->bad = true;
			break;
		}
		if (nargs >= MYCO__MAX_STMT_ARGS || ++p->nargs > MYCO__MAX_ARGS) {
			myco__diag(p->d, MYCO_SEV_ERROR, "E015", tpos(p, t), 1, "split the statement or the file",
				   nargs >= MYCO__MAX_STMT_ARGS ? "statement too long (more than %u arguments)"
								: "too many arguments in this file (more than %u)",
				   nargs >= MYCO__MAX_STMT_ARGS ? MYCO__MAX_STMT_ARGS : MYCO__MAX_ARGS);
			p->stop = true;
			s->bad = true;
			break;
		}
		if (t->kind == MYCO__T_EOF || is_punct(t, ';') || is_punct(t, '{') || is_punct(t, '}'))
			break;
		if (nargs > 0 && t->nl_before > 0 && t->kind == MYCO__T_IDENT &&
		    !(args[nargs - 1].kind == MYCO__A_PUNCT &&
		      strchr(",:=[", args[nargs - 1].punct)) &&
		    (blk == MYCO__B_MESSAGE ? is_punct(&p->nxt, ':')
		     : blk == MYCO__B_ENUM ? is_punct(&p->nxt, '=')
					   : is_kw(blk, t->text))) {
			myco_pos_t ep = { p->file, p->prev_line, p->prev_end_col };
			if (!s->bad)
				myco__diag(p->d, MYCO_SEV_ERROR, "E005", ep, 1,
					   "every statement ends with `;` or a { } block",
					   "expected `;` after this statement");
			s->bad = true;
			s->end = ep;
			goto done_noend;
		}
		myco__arg_t a = { 0 };
		a.pos = tpos(p, t);
		a.len = t->len ? t->len : 1;
		switch (t->kind) {
		case MYCO__T_IDENT:
			a.kind = MYCO__A_IDENT;
			a.text = t->text;
			a.textlen = t->textlen;
			break;
		case MYCO__T_NUM: {
			a.kind = MYCO__A_NUM;
			a.text = t->text;
			a.textlen = t->textlen;
			if (p->nxt.kind == MYCO__T_IDENT && p->nxt.nl_before == 0 &&
			    (myco__is_time_unit(p->nxt.text, NULL) ||
			     myco__is_size_unit(p->nxt.text, NULL))) {
				a.kind = MYCO__A_QTY;
				a.unit = p->nxt.text;
				a.len = p->nxt.col + p->nxt.len - t->col;
				advance(p);
			}
			break;
		}
		case MYCO__T_STR:
			a.kind = MYCO__A_STR;
			a.text = t->text;
			a.textlen = t->textlen;
			break;
		case MYCO__T_PUNCT:
			a.kind = MYCO__A_PUNCT;
			a.punct = t->punct;
			break;
		default:
			s->bad = true;   /* already reported by the lexer */
			advance(p);
			continue;
		}
		if (MYCO__PUSH(args, nargs, cap, a)) {
			p->oom = true;
			free(args);
			return NULL;
		}
		advance(p);
	}
	if (p->stop) {
		s->end = tpos(p, &p->cur);
	} else if (is_punct(&p->cur, ';')) {
		s->end = tpos(p, &p->cur);
		advance(p);
		s->trail = take_trailing(p, s->end.line);
	} else if (is_punct(&p->cur, '{')) {
		myco_pos_t open = tpos(p, &p->cur);
		s->block = true;
		if (depth + 1 >= MYCO__MAX_DEPTH) {
			myco__diag(p->d, MYCO_SEV_ERROR, "E008", open, 1,
				   "flatten the structure; blocks nest at most 32 deep",
				   "blocks nested too deeply");
			s->bad = true;
			p->too_deep = true;
			skip_block(p);
			s->end = open;
			goto done_noend;
		}
		advance(p);
		s->open_trail = take_trailing(p, open.line);
		bool deep_before = p->too_deep;
		p->too_deep = false;
		if (parse_block(p, myco__stmt_opens_in(blk, word), depth + 1, &s->kids, &s->nkids, false)) {
			free(args);
			return NULL;
		}
		if (p->too_deep)
			s->bad = true;   /* contains a too-deep block: no cascades */
		p->too_deep |= deep_before;
		take_comments_before(p, p->cur.kind == MYCO__T_EOF ? UINT32_MAX : p->cur.off,
				     &s->inner0, &s->ninner);
		if (s->ninner && p->lx.coms[s->inner0].blank_before)
			s->inner_blank = true;
		if (is_punct(&p->cur, '}')) {
			s->end = tpos(p, &p->cur);
			advance(p);
			s->trail = take_trailing(p, s->end.line);
		} else {
			myco__diag(p->d, MYCO_SEV_ERROR, "E007", open, 1,
				   "add the missing `}`", "this `{` is never closed");
			s->bad = true;
			s->end = tpos(p, &p->cur);
		}
	} else {
		/* `}` or EOF: missing semicolon (unless the statement already had
		 * a lexical error, which usually swallowed it) */
		myco_pos_t ep = { p->file, p->prev_line, p->prev_end_col };
		if (!s->bad)
			myco__diag(p->d, MYCO_SEV_ERROR, "E005", ep, 1,
				   "every statement ends with `;` or a { } block",
				   "expected `;` after this statement");
		s->bad = true;
		s->end = ep;
	}
done_noend:
	if (nargs) {
		s->args = myco__arena_alloc(p->a, nargs * sizeof(*args));
		if (!s->args) {
			p->oom = true;
			free(args);
			return NULL;
		}
		memcpy(s->args, args, nargs * sizeof(*args));
	}
	s->nargs = nargs;
	free(args);
	return s;
}

/* Statements until `}` (not consumed) or EOF. */
static int parse_block(parser_t *p, myco__blk_t blk, uint32_t depth, myco__stmt_t ***kids,
		       size_t *nkids, bool top)
{
	myco__stmt_t **v = NULL;
	size_t n = 0, cap = 0;
	char buf[64];
	while (!p->oom && !p->stop) {
		myco__tok_t *t = &p->cur;
		if (t->kind == MYCO__T_EOF)
			break;
		if (is_punct(t, '}')) {
			if (!top)
				break;
			myco__diag(p->d, MYCO_SEV_ERROR, "E009", tpos(p, t), 1,
				   "remove it, or add the `{` it should close",
				   "unmatched `}`");
			advance(p);
			continue;
		}
		if (is_punct(t, ';')) {      /* empty statement: dropped */
			advance(p);
			continue;
		}
		if (t->kind != MYCO__T_IDENT) {
			if (t->kind != MYCO__T_BAD)
				myco__diag(p->d, MYCO_SEV_ERROR, "E006", tpos(p, t), t->len,
					   "a statement starts with a keyword or a name",
					   "expected a statement, found %s",
					   tok_desc(t, buf, sizeof(buf)));
			/* recover: skip to after `;`, or up to `}` / a block */
			while (p->cur.kind != MYCO__T_EOF && !is_punct(&p->cur, ';') &&
			       !is_punct(&p->cur, '}')) {
				if (is_punct(&p->cur, '{')) {
					skip_block(p);
					break;
				}
				if (p->cur.kind == MYCO__T_IDENT && p->cur.nl_before)
					break;
				advance(p);
			}
			if (is_punct(&p->cur, ';'))
				advance(p);
			continue;
		}
		myco__stmt_t *s = parse_stmt(p, blk, depth);
		if (!s || MYCO__PUSH(v, n, cap, s)) {
			p->oom = true;
			break;
		}
	}
	if (p->oom) {
		free(v);
		return -ENOMEM;
	}
	if (n) {
		*kids = myco__arena_alloc(p->a, n * sizeof(*v));
		if (!*kids) {
			free(v);
			p->oom = true;
			return -ENOMEM;
		}
		memcpy(*kids, v, n * sizeof(*v));
	}
	*nkids = n;
	free(v);
	return 0;
}

int myco__parse(const char *file, const char *buf, size_t len, myco__arena_t *a,
		myco_diags_t *d, myco__tree_t *out)
{
	parser_t p;
	int rc;
	memset(&p, 0, sizeof(p));
	memset(out, 0, sizeof(*out));
	p.a = a;
	p.d = d;
	p.file = file;
	myco__lex_init(&p.lx, file, buf, len, a, d);
	myco__lex_next(&p.lx, &p.cur);
	if (p.cur.kind == MYCO__T_EOF)
		p.nxt = p.cur;
	else
		myco__lex_next(&p.lx, &p.nxt);
	rc = parse_block(&p, MYCO__B_FILE, 0, &out->top, &out->ntop, true);
	if (!rc && (p.oom || p.lx.oom))
		rc = -ENOMEM;
	take_comments_before(&p, UINT32_MAX, &out->end0, &out->nend);
	out->coms = p.lx.coms;
	out->ncoms = p.lx.ncoms;
	out->file = file;
	p.lx.coms = NULL;
	myco__lex_free(&p.lx);
	return rc;
}

void myco__tree_free(myco__tree_t *t)
{
	free(t->coms);
	t->coms = NULL;
	t->ncoms = 0;
}
