/*
 * import.c: loading files.  Reads the system file and its imports (paths
 * relative to the importing file; cycles, missing files, too many files and
 * a system in an imported file are errors; a file imported twice is loaded
 * once), parses each and walks its file level through the statement table:
 * `import`, `message`, `enum`, `system`.  Not for: what is inside a system
 * (lower.c) or a message (layout.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "myco_int.h"

int myco__read_file(const char *path, char **buf, size_t *len)
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
	size_t n = (size_t)st.st_size;
	rc = myco__read_full(fd, b, n);
	if (rc == -EPIPE)
		rc = -EIO;   /* the file shrank while it was read */
	if (rc)
		goto out;
	b[n] = 0;
	*buf = b;
	*len = n;
	b = NULL;
out:
	free(b);
	close(fd);
	return rc;
}

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

/* `import "file.myco";` at the top of a file. */
void myco__lower_import(myco__lower_t *l)
{
	ctx_t *c = l->c;
	size_t fi = l->fi;
	myco__arg_t *a = myco__want_str(&l->k, "a file name in quotes");
	if (!a || !myco__want_end(&l->k))
		return;
	if (c->flags & MYCO_LANG_NO_IMPORTS) {
		ERR(c, "E093", a->pos, a->len, "this caller loads files without imports",
		    "imports are disabled here");
		return;
	}
	if (c->nfiles >= MYCO__MAX_IMPORTS) {
		ERR(c, "E094", a->pos, a->len, "merge some files", "too many imported files (at most %d)",
		    MYCO__MAX_IMPORTS);
		return;
	}
	char *path = join_dir(c->files[fi].name, a->text);
	char *real = NULL, *buf = NULL;
	size_t len = 0;
	int rc = 0;
	if (!path) {
		c->oom = true;
		return;
	}
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
	rc = myco__read_file(real, &buf, &len);
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
	rc = myco__load_text(c, c->nfiles - 1, buf, len, false);
out:
	if (rc)
		c->oom = true;   /* -ENOMEM: the only failure left */
	free(path);
	free(real);
	free(buf);
}

/* `system name { ... }`: the system file declares one; the walk of its body
 * waits until every file is loaded (lower.c). */
void myco__lower_system_decl(myco__lower_t *l)
{
	ctx_t *c = l->c;
	myco__stmt_t *s = l->x;
	if (!l->root) {
		ERR(c, "E092", s->pos, 6, "imported files hold message types only",
		    "an imported file cannot declare a system");
	} else if (c->system) {
		ERR(c, "E095", s->pos, 6, "one file describes one system",
		    "more than one system in this file");
	} else {
		c->system = s;
	}
}

int myco__load_text(ctx_t *c, size_t fi, const char *buf, size_t len, bool root)
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
	myco__stmt_t top = { 0 };
	top.kids = t.top;
	top.nkids = t.ntop;
	myco__lower_t l = { .c = c, .fi = fi, .root = root };
	myco__lower_block(&l, &top, MYCO__B_FILE, NULL, NULL);
	c->nstack--;
	c->files[fi].done = true;
	return c->oom ? -ENOMEM : 0;
}
