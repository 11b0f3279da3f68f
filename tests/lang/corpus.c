/*
 * corpus.c: test runner for the language's file-based tests.
 *
 *   lang_corpus corpus DIR [--update]
 *       every DIR/NNN-*.myco is loaded; its diagnostics (human format, no
 *       color) must equal DIR/NNN-*.expected byte for byte, and at least one
 *       diagnostic must be reported.  Files that parse must also format
 *       idempotently.  --update rewrites the .expected files (review them!).
 *   lang_corpus examples DIR CC...
 *       every DIR/<name>/system.myco must load without errors, `fmt` must be
 *       idempotent on it, and the header `gen` makes for it must compile with
 *       CC... -std=c17 -Wall -Wextra -Werror (CC... is the compiler command,
 *       possibly several words such as `ccache gcc`) (with a program that calls every
 *       <Type>_validate() on a zeroed message, which is valid unless it holds
 *       an enum without a 0 value, and on one with a bool set to 2); DIR/../include
 *       is on the include path (myco/api.h for systems with services).
 * Exit 0 when all pass; prints one line per failure.  Not for: unit tests
 * of single functions (tests/unit/lang).
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "myco/common.h"
#include "myco/lang.h"

static int failures;

static void fail(const char *what, const char *file, const char *why)
{
	printf("FAIL %s %s: %s\n", what, file, why);
	failures++;
}

static char *read_all(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *b = NULL;
	size_t cap = 0, n = 0;
	if (!f)
		return NULL;
	for (;;) {
		if (n + 4096 > cap) {
			char *nb = realloc(b, cap = cap * 2 + 8192);
			if (!nb) {
				free(b);
				fclose(f);
				return NULL;
			}
			b = nb;
		}
		size_t r = fread(b + n, 1, cap - n - 1, f);
		if (!r)
			break;
		n += r;
	}
	fclose(f);
	b[n] = 0;
	*len = n;
	return b;
}

static int cmpstr(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* fmt(buf) must parse and fmt(fmt(buf)) == fmt(buf). */
static void check_fmt(const char *name, const char *buf, size_t len, bool must_parse)
{
	char *a = NULL, *b = NULL;
	size_t al = 0, bl = 0;
	int rc = myco_lang_fmt(name, buf, len, &a, &al, NULL);
	if (rc) {
		if (must_parse)
			fail("fmt", name, "does not parse");
		return;
	}
	rc = myco_lang_fmt(name, a, al, &b, &bl, NULL);
	if (rc)
		fail("fmt", name, "formatted output does not parse");
	else if (al != bl || memcmp(a, b, al))
		fail("fmt", name, "not idempotent");
	free(a);
	free(b);
}

static int run_corpus(const char *dir, bool update)
{
	DIR *d = opendir(dir);
	char **names = NULL;
	size_t n = 0, cap = 0;
	struct dirent *e;
	if (!d || chdir(dir)) {
		perror(dir);
		return 2;
	}
	while ((e = readdir(d))) {
		size_t l = strlen(e->d_name);
		if (l < 10 || strcmp(e->d_name + l - 5, ".myco") || e->d_name[0] < '0' ||
		    e->d_name[0] > '9')
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			names = realloc(names, cap * sizeof(*names));
			if (!names)
				return 2;
		}
		names[n++] = strdup(e->d_name);
	}
	closedir(d);
	qsort(names, n, sizeof(*names), cmpstr);
	for (size_t i = 0; i < n; i++) {
		const char *f = names[i];
		char exp[512];
		snprintf(exp, sizeof(exp), "%.*s.expected", (int)(strlen(f) - 5), f);
		myco_system_t *sys = NULL;
		myco_diags_t *dg = NULL;
		char *out = NULL;
		size_t outlen = 0;
		int rc = myco_lang_load_file(f, &sys, &dg);
		FILE *m = open_memstream(&out, &outlen);
		if (!m)
			return 2;
		myco_diags_print(dg, m, false);
		fclose(m);
		if (!myco_diags_count(dg))
			fail("corpus", f, "no diagnostic reported");
		if (rc && rc != -MYCO_ESYNTAX)
			fail("corpus", f, myco_strerror(rc));
		if (update) {
			FILE *w = fopen(exp, "w");
			if (!w || fwrite(out, 1, outlen, w) != outlen || fclose(w))
				fail("corpus", exp, "cannot write");
		} else {
			size_t el = 0;
			char *want = read_all(exp, &el);
			if (!want) {
				fail("corpus", f, "missing .expected file");
			} else if (el != outlen || memcmp(want, out, el)) {
				fail("corpus", f, "diagnostics differ from .expected");
				printf("--- expected\n%s--- actual\n%s---\n", want, out);
			}
			free(want);
		}
		size_t sl = 0;
		char *src = read_all(f, &sl);
		if (src)
			check_fmt(f, src, sl, false);
		free(src);
		free(out);
		myco_diags_free(dg);
		myco_system_free(sys);
		free(names[i]);
	}
	free(names);
	printf("%zu corpus files, %d failures\n", n, failures);
	if (n < 40) {
		printf("FAIL corpus: fewer than 40 files\n");
		return 1;
	}
	return failures ? 1 : 0;
}

/* The compiler command (e.g. "ccache" "gcc"), from the command line, and
 * the project's include/ (next to examples/: myco/api.h for services). */
static char **cc_argv;
static int cc_argc;
static char inc_dir[600];

static int run_cc(const char *tmp, const char *src)
{
	char out[600];
	char *av[64];
	int n = 0;
	snprintf(out, sizeof(out), "%s/a.out", tmp);
	for (int i = 0; i < cc_argc && n < 48; i++)
		av[n++] = cc_argv[i];
	const char *rest[] = { "-std=c17", "-Wall", "-Wextra", "-Werror", "-I", tmp, "-I", inc_dir,
			       "-o", out, src };
	for (size_t i = 0; i < sizeof(rest) / sizeof(rest[0]); i++)
		av[n++] = (char *)rest[i];
	av[n] = NULL;
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		execvp(av[0], av);
		_exit(127);
	}
	int st;
	if (waitpid(pid, &st, 0) < 0)
		return -1;
	if (!WIFEXITED(st) || WEXITSTATUS(st))
		return -1;
	pid = fork();
	if (pid == 0) {
		execl(out, out, (char *)NULL);
		_exit(127);
	}
	if (pid < 0 || waitpid(pid, &st, 0) < 0)
		return -1;
	return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

/* Whether a zeroed message is valid: not if it holds an enum without 0. */
static bool zero_valid(const myco_system_t *sys, uint32_t mi, int depth)
{
	const myco_msgtype_t *m = &sys->msgs[mi];
	for (size_t i = 0; i < m->nfields && depth < 80; i++) {
		const myco_field_t *f = &m->fields[i];
		if (f->type == MYCO_FT_MSG && !zero_valid(sys, f->msg, depth + 1))
			return false;
		if (f->type == MYCO_FT_ENUM) {
			const myco_enum_t *e = &sys->enums[f->enum_type];
			bool zero = false;
			for (size_t j = 0; j < e->nvalues; j++)
				zero |= e->values[j].value == 0;
			if (!zero)
				return false;
		}
	}
	return true;
}

static void gen_compile(const char *file, const myco_system_t *sys)
{
	char tmp[] = "/tmp/myco-gen-XXXXXX";
	char path[600], csrc[600];
	if (!mkdtemp(tmp)) {
		fail("gen", file, "mkdtemp failed");
		return;
	}
	snprintf(path, sizeof(path), "%s/%s.h", tmp, sys->name);
	snprintf(csrc, sizeof(csrc), "%s/main.c", tmp);
	FILE *h = fopen(path, "w"), *c = fopen(csrc, "w");
	if (!h || !c || myco_lang_gen_header(sys, h)) {
		fail("gen", file, "cannot write header");
		if (h)
			fclose(h);
		if (c)
			fclose(c);
		return;
	}
	fclose(h);
	fprintf(c, "#include \"%s.h\"\n#include <string.h>\nint main(void)\n{\n\tint bad = 0;\n", sys->name);
	for (size_t i = 0; i < sys->nmsgs; i++) {
		const myco_msgtype_t *m = &sys->msgs[i];
		fprintf(c, "\t{\n\t\t%s v;\n\t\tmemset(&v, 0, sizeof(v));\n"
			"\t\tbad |= %s%s_validate(&v);\n"
			"\t\tbad |= sizeof(v) != %u;\n", m->name,
			zero_valid(sys, (uint32_t)i, 0) ? "!" : "", m->name, m->size);
		/* a bool set to 2 must be rejected */
		for (size_t j = 0; j < m->nfields; j++)
			if (m->fields[j].type == MYCO_FT_BOOL) {
				fprintf(c, "\t\tmemset(&v, 0, sizeof(v));\n\t\t((unsigned char *)&v)[%u] = 2;\n"
					"\t\tbad |= %s_validate(&v);\n", m->fields[j].offset, m->name);
				break;
			}
		fputs("\t}\n", c);
	}
	fputs("\treturn bad;\n}\n", c);
	fclose(c);
	if (run_cc(tmp, csrc))
		fail("gen", file, "generated header does not compile or its checks fail");
	unlink(path);
	unlink(csrc);
	snprintf(path, sizeof(path), "%s/a.out", tmp);
	unlink(path);
	rmdir(tmp);
}

static int run_examples(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int count = 0;
	if (!d) {
		perror(dir);
		return 2;
	}
	while ((e = readdir(d))) {
		char path[1024];
		struct stat st;
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s/system.myco", dir, e->d_name);
		if (stat(path, &st))
			continue;
		count++;
		myco_system_t *sys = NULL;
		myco_diags_t *dg = NULL;
		int rc = myco_lang_load_file(path, &sys, &dg);
		if (rc || myco_diags_count(dg)) {
			fail("check", path, "has diagnostics");
			myco_diags_print(dg, stdout, false);
		}
		size_t len;
		char *src = read_all(path, &len);
		if (src)
			check_fmt(path, src, len, true);
		free(src);
		if (sys && cc_argc)
			gen_compile(path, sys);
		myco_diags_free(dg);
		myco_system_free(sys);
	}
	closedir(d);
	printf("%d examples, %d failures\n", count, failures);
	if (count < 2) {
		printf("FAIL examples: fewer than 2 found\n");
		return 1;
	}
	return failures ? 1 : 0;
}

int main(int argc, char **argv)
{
	if (argc >= 3 && !strcmp(argv[1], "corpus"))
		return run_corpus(argv[2], argc > 3 && !strcmp(argv[3], "--update"));
	if (argc >= 3 && !strcmp(argv[1], "examples")) {
		cc_argv = argv + 3;
		cc_argc = argc - 3;
		snprintf(inc_dir, sizeof(inc_dir), "%s/../include", argv[2]);
		return run_examples(argv[2]);
	}
	fprintf(stderr, "usage: lang_corpus corpus DIR [--update] | examples DIR [CC...]\n");
	return 2;
}
