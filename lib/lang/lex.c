/*
 * lex.c: the tokenizer of .myco files.  Produces identifiers, numbers
 * ("12", "1.5"), strings (with \" \\ \n \t \xHH escapes), the punctuation
 * { } ; , : = [ ] and `..` (a range, punct '.' with length 2), and records comments (// and block) on the side for the
 * formatter.  Every byte is consumed exactly once: linear time.
 * Not for: grouping tokens into statements (parse.c).
 */
#include <string.h>

#include "lang_int.h"

void myco__lex_init(myco__lexer_t *lx, const char *file, const char *buf,
		    size_t len, myco__arena_t *a, myco_diags_t *d)
{
	memset(lx, 0, sizeof(*lx));
	lx->file = file;
	lx->buf = buf;
	lx->len = len;
	lx->line = 1;
	lx->a = a;
	lx->d = d;
}

void myco__lex_free(myco__lexer_t *lx)
{
	free(lx->coms);
	lx->coms = NULL;
	lx->ncoms = lx->coms_cap = 0;
}

static myco_pos_t pos_at(const myco__lexer_t *lx, size_t off)
{
	myco_pos_t p = { lx->file, lx->line, (uint32_t)(off - lx->line_start + 1) };
	return p;
}

static void newline(myco__lexer_t *lx, size_t off)
{
	lx->line++;
	lx->line_start = off + 1;
	lx->nl++;
}

static bool is_id0(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static bool is_id(int c)
{
	return is_id0(c) || (c >= '0' && c <= '9');
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static void add_comment(myco__lexer_t *lx, size_t start, size_t end,
			uint32_t line, uint32_t col)
{
	myco__comment_t c = { 0 };
	c.off = (uint32_t)start;
	c.len = (uint32_t)(end - start);
	c.line = line;
	c.col = col;
	c.end_line = lx->line;
	c.trailing = lx->last_tok_line == line;
	c.blank_before = lx->nl >= 2;
	const char *nul = memchr(lx->buf + start, 0, end - start);
	if (nul) {
		/* a NUL would cut the comment short when it is kept */
		myco_pos_t p = { lx->file, line, col };
		myco__diag(lx->d, MYCO_SEV_ERROR, "E001", p, 2,
			   "comments cannot contain NUL bytes", "NUL byte in a comment");
	}
	c.text = myco__arena_strndup(lx->a, lx->buf + start, end - start);
	if (!c.text || MYCO__PUSH(lx->coms, lx->ncoms, lx->coms_cap, c))
		lx->oom = true;
	lx->nl = 0;
}

/* Skip white space and comments (recorded on the side). */
static void skip_space(myco__lexer_t *lx)
{
	const char *b = lx->buf;
	while (lx->pos < lx->len) {
		char c = b[lx->pos];
		if (c == '\n') {
			newline(lx, lx->pos);
			lx->pos++;
		} else if (c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v') {
			lx->pos++;
		} else if (c == '/' && lx->pos + 1 < lx->len && b[lx->pos + 1] == '/') {
			size_t s = lx->pos;
			uint32_t col = (uint32_t)(s - lx->line_start + 1);
			while (lx->pos < lx->len && b[lx->pos] != '\n')
				lx->pos++;
			size_t e = lx->pos;
			while (e > s && (b[e - 1] == '\r' || b[e - 1] == ' ' || b[e - 1] == '\t'))
				e--;
			add_comment(lx, s, e, lx->line, col);
		} else if (c == '/' && lx->pos + 1 < lx->len && b[lx->pos + 1] == '*') {
			size_t s = lx->pos;
			uint32_t line = lx->line, col = (uint32_t)(s - lx->line_start + 1);
			myco_pos_t p = pos_at(lx, s);
			uint32_t nl0 = lx->nl;
			lx->pos += 2;
			bool closed = false;
			while (lx->pos < lx->len) {
				if (b[lx->pos] == '*' && lx->pos + 1 < lx->len && b[lx->pos + 1] == '/') {
					lx->pos += 2;
					closed = true;
					break;
				}
				if (b[lx->pos] == '\n')
					newline(lx, lx->pos);
				lx->pos++;
			}
			if (!closed) {
				myco__diag(lx->d, MYCO_SEV_ERROR, "E003", p, 2,
					   "close the comment with */",
					   "unterminated block comment");
				return;
			}
			lx->nl = nl0;
			add_comment(lx, s, lx->pos, line, col);
		} else {
			return;
		}
	}
}

void myco__lex_next(myco__lexer_t *lx, myco__tok_t *t)
{
	const char *b = lx->buf;
	size_t before = lx->pos;
	skip_space(lx);
	memset(t, 0, sizeof(*t));
	t->glued = lx->pos == before && before > 0;
	t->nl_before = lx->nl;
	t->off = (uint32_t)lx->pos;
	t->line = lx->line;
	t->col = (uint32_t)(lx->pos - lx->line_start + 1);
	if (lx->oom || lx->pos >= lx->len) {
		t->kind = MYCO__T_EOF;
		return;
	}
	lx->nl = 0;
	lx->last_tok_line = lx->line;
	size_t s = lx->pos;
	unsigned char c = (unsigned char)b[s];
	myco_pos_t p = pos_at(lx, s);
	if (is_id0(c)) {
		while (lx->pos < lx->len && is_id(b[lx->pos]))
			lx->pos++;
		size_t n = lx->pos - s;
		t->len = (uint32_t)n;
		if (n > MYCO__MAX_IDENT) {
			myco__diag(lx->d, MYCO_SEV_ERROR, "E004", p, (uint32_t)n,
				   "names are at most 128 characters", "name too long");
			t->kind = MYCO__T_BAD;
			return;
		}
		t->kind = MYCO__T_IDENT;
		t->text = myco__arena_strndup(lx->a, b + s, n);
		t->textlen = (uint32_t)n;
		if (!t->text) {
			lx->oom = true;
			t->kind = MYCO__T_EOF;
		}
		return;
	}
	if (c >= '0' && c <= '9') {
		while (lx->pos < lx->len && b[lx->pos] >= '0' && b[lx->pos] <= '9')
			lx->pos++;
		if (lx->pos + 1 < lx->len && b[lx->pos] == '.' && b[lx->pos + 1] >= '0' &&
		    b[lx->pos + 1] <= '9') {
			lx->pos++;
			while (lx->pos < lx->len && b[lx->pos] >= '0' && b[lx->pos] <= '9')
				lx->pos++;
		}
		size_t n = lx->pos - s;
		t->len = (uint32_t)n;
		if (n > 40) {
			myco__diag(lx->d, MYCO_SEV_ERROR, "E004", p, (uint32_t)n,
				   "numbers are at most 40 characters", "number too long");
			t->kind = MYCO__T_BAD;
			return;
		}
		t->kind = MYCO__T_NUM;
		t->text = myco__arena_strndup(lx->a, b + s, n);
		t->textlen = (uint32_t)n;
		if (!t->text) {
			lx->oom = true;
			t->kind = MYCO__T_EOF;
		}
		return;
	}
	if (c == '"') {
		lx->pos++;
		char *out;
		size_t n = 0;
		bool bad = false;
		/* decode into a buffer as large as the raw text (never longer) */
		size_t e = lx->pos;
		while (e < lx->len && b[e] != '"' && b[e] != '\n') {
			if (b[e] == '\\' && e + 1 < lx->len && b[e + 1] != '\n')
				e++;
			e++;
		}
		out = myco__arena_alloc(lx->a, e - lx->pos + 1);
		if (!out) {
			lx->oom = true;
			t->kind = MYCO__T_EOF;
			return;
		}
		while (lx->pos < e) {
			char ch = b[lx->pos];
			if (ch == '\\') {
				char x = lx->pos + 1 < e ? b[lx->pos + 1] : 0;
				myco_pos_t ep = pos_at(lx, lx->pos);
				if (x == 'n') { out[n++] = '\n'; lx->pos += 2; continue; }
				if (x == 't') { out[n++] = '\t'; lx->pos += 2; continue; }
				if (x == '"' || x == '\\') { out[n++] = x; lx->pos += 2; continue; }
				if (x == 'x' && lx->pos + 3 < e && hexval(b[lx->pos + 2]) >= 0 &&
				    hexval(b[lx->pos + 3]) >= 0) {
					int v = hexval(b[lx->pos + 2]) * 16 + hexval(b[lx->pos + 3]);
					if (v == 0) {
						myco__diag(lx->d, MYCO_SEV_ERROR, "E014", ep, 4,
							   "strings cannot contain NUL bytes",
							   "invalid escape \\x00 in string");
						bad = true;
					} else {
						out[n++] = (char)v;
					}
					lx->pos += 4;
					continue;
				}
				myco__diag(lx->d, MYCO_SEV_ERROR, "E014", ep, 2,
					   "valid escapes are \\\" \\\\ \\n \\t and \\xHH",
					   "invalid escape in string");
				bad = true;
				lx->pos += lx->pos + 1 < e ? 2 : 1;
				continue;
			}
			if (ch == 0) {
				myco__diag(lx->d, MYCO_SEV_ERROR, "E014", pos_at(lx, lx->pos), 1,
					   "strings cannot contain NUL bytes", "NUL byte in string");
				bad = true;
				lx->pos++;
				continue;
			}
			out[n++] = ch;
			lx->pos++;
		}
		t->len = (uint32_t)(lx->pos - s + 1);
		if (lx->pos >= lx->len || b[lx->pos] != '"') {
			myco__diag(lx->d, MYCO_SEV_ERROR, "E002", p, 1,
				   "close the string with \" on the same line",
				   "unterminated string");
			t->kind = MYCO__T_BAD;
			return;
		}
		lx->pos++;
		out[n] = 0;
		t->kind = bad ? MYCO__T_BAD : MYCO__T_STR;
		t->text = out;
		t->textlen = (uint32_t)n;
		return;
	}
	if (c == '.' && lx->pos + 1 < lx->len && b[lx->pos + 1] == '.') {
		/* `..`: a range (`cores 1..4 elastic;`) */
		lx->pos += 2;
		t->kind = MYCO__T_PUNCT;
		t->punct = '.';
		t->len = 2;
		return;
	}
	if (strchr("{};,:=[]<%", c) && c) {
		lx->pos++;
		t->kind = MYCO__T_PUNCT;
		t->punct = (char)c;
		t->len = 1;
		return;
	}
	/* invalid: swallow a run of invalid bytes, report once */
	while (lx->pos < lx->len) {
		unsigned char x = (unsigned char)b[lx->pos];
		if (is_id(x) || strchr("{};,:=[]<%\"/ \t\r\n", x) || x == 0)
			if (x != 0)
				break;
		lx->pos++;
	}
	if (lx->pos == s)
		lx->pos++;
	t->len = (uint32_t)(lx->pos - s);
	t->kind = MYCO__T_BAD;
	if (c >= 0x21 && c < 0x7f)
		myco__diag(lx->d, MYCO_SEV_ERROR, "E001", p, 1,
			   "comments start with // or /*", "unexpected character '%c'", c);
	else
		myco__diag(lx->d, MYCO_SEV_ERROR, "E001", p, 1,
			   "only ASCII is allowed outside strings and comments",
			   "unexpected byte 0x%02x", c);
}
