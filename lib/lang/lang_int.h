/*
 * lang_int.h: what the modules of lib/lang share: the arena allocator, the
 * string hash table, the diagnostics builder, tokens, the statement tree and
 * the statement table.
 *
 * Pipeline: lex.c (bytes -> tokens + comments) -> parse.c (tokens -> a tree of
 * uniform statements `word arg... ;` / `word arg... { ... }`) -> the checker
 * (check.c and the files of check.h: statements -> typed model, each
 * statement dispatched through the table in stmts.c, then the semantic
 * checks).  fmt.c prints the tree.
 * Not for: public API (include/myco/lang.h); the checker's own types
 * (check.h).
 */
#ifndef MYCO_LANG_INT_H
#define MYCO_LANG_INT_H

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "myco/common.h"
#include "myco/lang.h"

/* Limits that keep arbitrary input bounded. */
#define MYCO__MAX_DEPTH     32            /* nesting of { } */
#define MYCO__MAX_FILE      (16u << 20)   /* bytes per source file */
#define MYCO__MAX_IMPORTS   64            /* files per load */
#define MYCO__MAX_STMTS     (2u << 20)    /* statements per file */
#define MYCO__MAX_ARGS      (4u << 20)    /* arguments per file */
#define MYCO__MAX_STMT_ARGS 65536         /* arguments per statement */
#define MYCO__MAX_ERRORS    100           /* then stop reporting */
#define MYCO__MAX_IDENT     128
#define MYCO__MAX_MSG_SIZE  (16u << 20)   /* bytes per message type */
#define MYCO__MAX_MSG_NEST  64

/* ------------------------------------------------------------------ arena */
/* Bump allocator; everything allocated lives until myco__arena_free(). */
typedef struct myco__arena {
	struct myco__chunk *head;
} myco__arena_t;

void *myco__arena_alloc(myco__arena_t *a, size_t n);   /* zeroed; NULL on OOM */
char *myco__arena_strndup(myco__arena_t *a, const char *s, size_t n);
char *myco__arena_strdup(myco__arena_t *a, const char *s);
void myco__arena_free(myco__arena_t *a);

/* Growable array in malloc memory: v (elements), n, cap. */
int myco__grow(void **v, size_t *cap, size_t n, size_t elem);
#define MYCO__PUSH(arr, n, cap, val) \
	(myco__grow((void **)&(arr), &(cap), (n) + 1, sizeof(*(arr))) ? -ENOMEM \
	 : ((arr)[(n)++] = (val), 0))

/* ------------------------------------------------------------- hash table */
/* Open addressing, string keys (not copied: must outlive the table). */
typedef struct myco__hent {
	const char *key;
	uint32_t hash;
	uint32_t val;
} myco__hent_t;

typedef struct myco__htab {
	myco__hent_t *e;
	size_t cap, n;
} myco__htab_t;

uint32_t myco__hash(const char *s);
/* Insert; 0, or -EEXIST (then *old is the existing value), or -ENOMEM. */
int myco__htab_put(myco__htab_t *h, const char *key, uint32_t val, uint32_t *old);
uint32_t myco__htab_get(const myco__htab_t *h, const char *key); /* or NONE */
void myco__htab_free(myco__htab_t *h);

/* ----------------------------------------------------------- diagnostics */
typedef struct myco__src {
	char *name;        /* malloc'd */
	char *text;        /* malloc'd copy of the source, NUL-terminated */
	size_t len;
	uint32_t *lines;   /* byte offsets of line starts */
	size_t nlines;
} myco__src_t;

struct myco_diags {
	myco_diag_t *v;
	size_t n, cap, nerr;
	myco__src_t *srcs;
	size_t nsrcs, srcs_cap;
	bool sorted;
	bool stopped;      /* MYCO__MAX_ERRORS reached */
	bool oom;
};

myco_diags_t *myco__diags_new(void);
/* Register a source (copied); returns its index or -ENOMEM. */
int myco__diags_add_src(myco_diags_t *d, const char *name, const char *text, size_t len);
const char *myco__diags_src_name(const myco_diags_t *d, int src);
/* Report.  fmt is printf-style; hint may be NULL.  Never fails (OOM is
 * remembered in d->oom). */
void myco__diag(myco_diags_t *d, myco_severity_t sev, const char *code,
		myco_pos_t pos, uint32_t len, const char *hint, const char *fmt, ...)
	__attribute__((format(printf, 7, 8)));
void myco__diag_sort(myco_diags_t *d);
/* "did you mean" helper: the closest candidate within distance max(1,len/3),
 * or NULL. */
const char *myco__closest(const char *word, const char *const *cands, size_t n);

/* ---------------------------------------------------------------- tokens */
typedef enum myco__tok_kind {
	MYCO__T_EOF,
	MYCO__T_IDENT,
	MYCO__T_NUM,       /* digits, optionally "." digits */
	MYCO__T_STR,
	MYCO__T_PUNCT,     /* one of { } ; , : = [ ] */
	MYCO__T_BAD,       /* invalid input (already reported) */
} myco__tok_kind_t;

typedef struct myco__tok {
	myco__tok_kind_t kind;
	char punct;            /* MYCO__T_PUNCT */
	uint32_t off, len;     /* bytes in the source */
	uint32_t line, col;
	const char *text;      /* arena: ident text / decoded string / number text */
	uint32_t textlen;      /* bytes of text (strings may not contain NUL) */
	bool glued;            /* no white space before this token */
	uint32_t nl_before;    /* newlines since the previous token or comment */
} myco__tok_t;

typedef struct myco__comment {
	uint32_t off, len;
	uint32_t line, col, end_line;
	bool trailing;         /* a token precedes it on the same line */
	bool blank_before;     /* a blank line precedes it */
	const char *text;      /* arena copy, exact bytes */
} myco__comment_t;

/* Pull lexer: the parser asks for one token at a time (no token array, so
 * memory stays proportional to the tree, not the token count). */
typedef struct myco__lexer {
	const char *file;
	const char *buf;
	size_t len, pos;
	uint32_t line;
	size_t line_start;
	uint32_t last_tok_line;   /* line of the previous token (0 = none) */
	uint32_t nl;              /* newlines since the previous token/comment */
	myco__arena_t *a;
	myco_diags_t *d;
	myco__comment_t *coms;    /* malloc'd, in source order */
	size_t ncoms, coms_cap;
	bool oom;
} myco__lexer_t;

void myco__lex_init(myco__lexer_t *lx, const char *file, const char *buf,
		    size_t len, myco__arena_t *a, myco_diags_t *d);
/* Next token (EOF forever at the end).  Errors are reported to d and give
 * MYCO__T_BAD tokens.  Sets lx->oom on allocation failure (then EOF). */
void myco__lex_next(myco__lexer_t *lx, myco__tok_t *t);
void myco__lex_free(myco__lexer_t *lx);

/* ------------------------------------------------------- statement tree */
typedef enum myco__arg_kind {
	MYCO__A_IDENT,
	MYCO__A_NUM,       /* a bare number */
	MYCO__A_QTY,       /* number + unit word, e.g. 10 ms */
	MYCO__A_STR,
	MYCO__A_PUNCT,
} myco__arg_kind_t;

typedef struct myco__arg {
	myco__arg_kind_t kind;
	char punct;
	const char *text;      /* ident, decoded string, or number text */
	uint32_t textlen;
	const char *unit;      /* MYCO__A_QTY */
	myco_pos_t pos;
	uint32_t len;          /* columns spanned (on the first line) */
} myco__arg_t;

typedef struct myco__stmt myco__stmt_t;
struct myco__stmt {
	myco__arg_t *args;     /* args[0] is the statement's word */
	size_t nargs;
	myco__stmt_t **kids;   /* block contents */
	size_t nkids;
	bool block;            /* has a { } block */
	bool blank_before;     /* blank line before it / its first comment */
	bool blank_after_lead; /* blank line between its comments and it */
	bool bad;              /* had a syntax error (already reported) */
	myco_pos_t pos;
	myco_pos_t end;        /* where the statement's `;` or `}` is */
	uint32_t depth;
	/* comments (indices into the lexed comment array) */
	uint32_t lead0, nlead;         /* comments on lines before it */
	int32_t trail;                 /* comment after it on its last line, -1 */
	uint32_t inner0, ninner;       /* comments before the closing } */
	int32_t open_trail;            /* comment after the `{` on its line, -1 */
	bool inner_blank;              /* blank line before the closing } comments */
};

typedef struct myco__tree {
	myco__stmt_t **top;
	size_t ntop;
	uint32_t end0, nend;          /* comments after the last statement */
	myco__comment_t *coms;        /* all comments, in source order */
	size_t ncoms;
	const char *file;
} myco__tree_t;

/* Parse a whole file.  Nodes live in arena a.  Syntax errors go to d. */
int myco__parse(const char *file, const char *buf, size_t len, myco__arena_t *a,
		myco_diags_t *d, myco__tree_t *out);
void myco__tree_free(myco__tree_t *t);

/* ------------------------------------------------------ statement table */
/* The language's statements, one table (stmts.c) read by the parser (which
 * words start a statement in a block, which block a word opens), the checker
 * (handler, may-repeat, usage in hints) and the "did you mean" hints. */

typedef enum myco__blk {
	MYCO__B_NONE,          /* opens no block */
	MYCO__B_FILE,          /* the top level of a file */
	MYCO__B_SYSTEM,
	MYCO__B_MACHINE,
	MYCO__B_CHANNEL,
	MYCO__B_PARTITION,
	MYCO__B_GROUP,
	MYCO__B_SCHEDULE,
	MYCO__B_CORE,          /* `core N { window ...; }` in the schedule */
	MYCO__B_SERVICE,
	MYCO__B_ROUTE,
	MYCO__B_MESSAGE,       /* fields `name: type = N;`, no keywords */
	MYCO__B_ENUM,          /* values `name = N;`, no keywords */
	MYCO__B_GATEWAY,       /* `gateway { }` in a partition (lower_gate.c) */
	MYCO__B_GUPSTREAM,     /* `upstream name { }` in a gateway */
	MYCO__B_GROUTE,        /* `route "/prefix" { }` in a gateway */
	MYCO__B_CHAOS,         /* a chaos experiment's faults */
	MYCO__B_COUNT
} myco__blk_t;

#define MYCO__S_REPEAT   0x1u  /* may be given more than once in its block */
#define MYCO__S_HIDDEN   0x2u  /* accepted (to explain an error) but never
				* suggested, listed or taken as a statement start */
#define MYCO__S_EVEN_BAD 0x4u  /* handled even after a syntax error in it
				* (declarations: their names must exist) */
#define MYCO__S_QUEUE    0x10u /* channel statements: applies to a queue, */
#define MYCO__S_SAMPLE   0x20u /* a sample channel, */
#define MYCO__S_CALL     0x40u /* a call channel (bit 4 + myco_lang_chan_kind_t) */

typedef struct myco__lower myco__lower_t;   /* check.h */

typedef struct myco__stmt_def {
	const char *word;
	myco__blk_t in;        /* the block it may appear in */
	myco__blk_t opens;     /* the { } block it takes, or MYCO__B_NONE */
	unsigned flags;        /* MYCO__S_* */
	const char *usage;     /* its arguments, shown as "write it as: ..." */
	int param;             /* for the handler (e.g. the role of send/recv) */
	void (*lower)(myco__lower_t *l);   /* the checker's handler */
	const char *alias[3];  /* other words people write for it ("receive") */
} myco__stmt_def_t;

/* The entry for word in block in (hidden ones included), or NULL. */
const myco__stmt_def_t *myco__stmt_find(myco__blk_t in, const char *word);
/* Index of an entry in the table (for "given twice" bitmaps), < 256. */
size_t myco__stmt_index(const myco__stmt_def_t *def);
/* The block a statement word opens wherever it appears (the first row;
 * MYCO__B_NONE for unknown words and simple statements). */
myco__blk_t myco__stmt_opens(const char *word);
/* The block word opens in block in (a word may open different blocks in
 * different places: `route` in a service and in a gateway); for a word
 * unknown there, myco__stmt_opens(word). */
myco__blk_t myco__stmt_opens_in(myco__blk_t in, const char *word);
/* The words of block in, in table order, without hidden ones: up to max
 * into out; returns how many there are. */
size_t myco__stmt_words(myco__blk_t in, const char **out, size_t max);
/* The statement of block in that a misspelt or other word most likely
 * means (closest word or alias), or NULL. */
const char *myco__stmt_suggest(myco__blk_t in, const char *word);
/* "a partition", "the schedule": the block in messages. */
const char *myco__blk_name(myco__blk_t b);

/* Words of the language's choices, indexed by the model's enums. */
extern const char *const myco__kind_names[3];      /* myco_lang_chan_kind_t */
extern const char *const myco__overflow_names[3];  /* myco_overflow_t */
extern const char *const myco__inflight_names[2];  /* myco_inflight_t */
extern const char *const myco__restart_names[3];   /* myco_restart_t */
extern const char *const myco__role_names[4];      /* myco_end_role_t */
extern const char *const myco__strategy_names[3];  /* myco_strategy_t */
extern const char *const myco__ftype_names[13];    /* myco_ftype_t up to STRING */
extern const uint32_t myco__ftype_size[13];

/* Unit tables (shared by parse, check and fmt). */
bool myco__is_time_unit(const char *u, uint64_t *ns);
bool myco__is_size_unit(const char *u, uint64_t *bytes);
/* Convert a number text ("12" or "1.5") times a multiplier to an integer.
 * 0, -ERANGE (overflow) or -EDOM (not a whole number). */
int myco__num_scale(const char *text, uint64_t mul, uint64_t *out);

void myco__json_str(FILE *f, const char *s);

/* gen.c: the C type of a scalar field type; s in upper case. */
const char *myco__gen_ctype(myco_ftype_t t);
void myco__gen_upper(FILE *f, const char *s);
/* gen_api.c: the include/myco/api.h route tables of sys's services.  0 or
 * -ENOMEM. */
int myco__gen_services(const myco_system_t *sys, FILE *f);

/* The C reserved words and builtin field type names. */
bool myco__is_c_keyword(const char *s);

#endif /* MYCO_LANG_INT_H */
