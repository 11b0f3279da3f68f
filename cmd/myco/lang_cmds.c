/*
 * lang_cmds.c: the language subcommands of `myco`: check, gen, graph, fmt.
 * Thin wrappers over lib/lang (include/myco/lang.h).  Exit codes: 0 clean
 * (warnings allowed), 1 diagnostics or an unreadable file, 2 usage.
 * Not for: any language logic.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "myco/common.h"
#include "myco/lang.h"
#include "cmd.h"

static bool want_color(void)
{
	const char *nc = getenv("NO_COLOR");
	return isatty(2) && !(nc && *nc);
}

/* Load FILE, print diagnostics (human to stderr or JSON to stdout). */
static int load_or_report(const char *cmd, const char *path, bool json, myco_system_t **sys)
{
	myco_diags_t *d = NULL;
	int rc = myco_lang_load_file(path, sys, &d);
	if (rc && rc != -MYCO_ESYNTAX && !d) {
		fprintf(stderr, "myco %s: cannot read %s: %s\n", cmd, path, myco_strerror(rc));
		return 1;
	}
	if (json)
		myco_diags_print_json(d, stdout);
	else
		myco_diags_print(d, stderr, want_color());
	myco_diags_free(d);
	if (rc && rc != -MYCO_ESYNTAX)
		fprintf(stderr, "myco %s: %s\n", cmd, myco_strerror(rc));
	return rc ? 1 : 0;
}

static void check_usage(FILE *f)
{
	fputs("usage: myco check FILE [--format human|json] [--dump-json]\n"
	      "       myco check --explain CODE     (e.g. E020; `all` lists every code)\n\n"
	      "Parses, imports and checks a system file.  Diagnostics go to stderr\n"
	      "(--format json: a JSON array on stdout).  --dump-json prints the checked\n"
	      "model as JSON on stdout.  Exit: 0 clean, 1 diagnostics, 2 usage.\n", f);
}

int myco_cmd_check(int argc, char **argv)
{
	const char *file = NULL, *explain = NULL;
	bool json = false, dump = false;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			check_usage(stdout);
			return 0;
		} else if (!strcmp(argv[i], "--format") && i + 1 < argc) {
			i++;
			if (!strcmp(argv[i], "json")) {
				json = true;
			} else if (strcmp(argv[i], "human")) {
				check_usage(stderr);
				return 2;
			}
		} else if (!strcmp(argv[i], "--format=json")) {
			json = true;
		} else if (!strcmp(argv[i], "--dump-json")) {
			dump = true;
		} else if (!strcmp(argv[i], "--explain") && i + 1 < argc) {
			explain = argv[++i];
		} else if (argv[i][0] == '-' && argv[i][1]) {
			fprintf(stderr, "myco check: unknown option %s\n", argv[i]);
			check_usage(stderr);
			return 2;
		} else if (!file) {
			file = argv[i];
		} else {
			check_usage(stderr);
			return 2;
		}
	}
	if (explain) {
		if (!strcmp(explain, "all")) {
			const char *text;
			for (size_t i = 0; myco_lang_code_at(i, &text); i++)
				printf("## %s: %s\n", myco_lang_code_at(i, NULL), text);
			return 0;
		}
		const char *t = myco_lang_explain(explain);
		if (!t) {
			fprintf(stderr, "myco check: unknown code %s (see `myco check --explain all`)\n",
				explain);
			return 2;
		}
		printf("%s", t);
		return 0;
	}
	if (!file) {
		check_usage(stderr);
		return 2;
	}
	myco_system_t *sys = NULL;
	int rc = load_or_report("check", file, json, &sys);
	if (!rc && dump)
		myco_lang_dump_json(sys, stdout);
	myco_system_free(sys);
	return rc;
}

int myco_cmd_gen(int argc, char **argv)
{
	const char *file = NULL, *dir = NULL;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			puts("usage: myco gen FILE -o DIR\n\n"
			     "Writes DIR/<system>.h: a C header with one struct per message type\n"
			     "(fixed little-endian layout, explicit padding, _Static_assert on sizes\n"
			     "and offsets, <Type>_validate()) and the channel name constants.\n"
			     "For each `service`, also the route table of myco/api.h: handler\n"
			     "prototypes, path-parameter structs and <service>_service, defined\n"
			     "where MYCO_GEN_<SYSTEM>_API is defined (docs/language.md).\n"
			     "Exit: 0 written, 1 diagnostics or I/O error, 2 usage.");
			return 0;
		} else if (!strcmp(argv[i], "-o") && i + 1 < argc) {
			dir = argv[++i];
		} else if (argv[i][0] == '-') {
			fprintf(stderr, "myco gen: unknown option %s\n", argv[i]);
			return 2;
		} else if (!file) {
			file = argv[i];
		} else {
			fputs("usage: myco gen FILE -o DIR\n", stderr);
			return 2;
		}
	}
	if (!file || !dir) {
		fputs("usage: myco gen FILE -o DIR\n", stderr);
		return 2;
	}
	myco_system_t *sys = NULL;
	int rc = load_or_report("gen", file, false, &sys);
	if (rc)
		return rc;
	size_t n = strlen(dir) + strlen(sys->name) + 8;
	char *path = malloc(n);
	FILE *f = NULL;
	if (!path) {
		rc = 1;
		goto out;
	}
	snprintf(path, n, "%s/%s.h", dir, sys->name);
	if (mkdir(dir, 0777) && errno != EEXIST) {
		fprintf(stderr, "myco gen: cannot create %s: %s\n", dir, strerror(errno));
		rc = 1;
		goto out;
	}
	f = fopen(path, "w");
	if (!f) {
		fprintf(stderr, "myco gen: cannot write %s: %s\n", path, strerror(errno));
		rc = 1;
		goto out;
	}
	int r = myco_lang_gen_header(sys, f);
	if (fclose(f) || r) {
		fprintf(stderr, "myco gen: cannot write %s\n", path);
		rc = 1;
		goto out;
	}
	printf("%s\n", path);
out:
	free(path);
	myco_system_free(sys);
	return rc;
}

int myco_cmd_graph(int argc, char **argv)
{
	const char *file = NULL;
	bool svg = false;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			puts("usage: myco graph FILE [--svg]\n\n"
			     "Prints a Graphviz dot graph of the partitions (boxes, clustered by\n"
			     "supervision group) and channels (edges: queue solid, sample dashed,\n"
			     "call bold from client to server).  --svg renders it with the `dot`\n"
			     "program.  Exit: 0, 1 diagnostics or no `dot`, 2 usage.");
			return 0;
		} else if (!strcmp(argv[i], "--svg")) {
			svg = true;
		} else if (argv[i][0] == '-') {
			fprintf(stderr, "myco graph: unknown option %s\n", argv[i]);
			return 2;
		} else if (!file) {
			file = argv[i];
		} else {
			fputs("usage: myco graph FILE [--svg]\n", stderr);
			return 2;
		}
	}
	if (!file) {
		fputs("usage: myco graph FILE [--svg]\n", stderr);
		return 2;
	}
	myco_system_t *sys = NULL;
	int rc = load_or_report("graph", file, false, &sys);
	if (rc)
		return rc;
	if (!svg) {
		rc = myco_lang_graph_dot(sys, stdout) ? 1 : 0;
	} else {
		fflush(stdout);
		FILE *p = popen("dot -Tsvg", "w");
		if (!p) {
			fprintf(stderr, "myco graph: cannot run dot: %s\n", strerror(errno));
			rc = 1;
		} else {
			myco_lang_graph_dot(sys, p);
			int st = pclose(p);
			if (st == -1 || !WIFEXITED(st) || WEXITSTATUS(st)) {
				fprintf(stderr, "myco graph: `dot -Tsvg` failed (is graphviz installed?)\n");
				rc = 1;
			}
		}
	}
	myco_system_free(sys);
	return rc;
}

static int slurp(const char *path, char **buf, size_t *len)
{
	FILE *f = strcmp(path, "-") ? fopen(path, "rb") : stdin;
	char *b = NULL;
	size_t n = 0, cap = 0;
	if (!f)
		return -errno;
	for (;;) {
		if (cap - n < 65536) {
			if (cap > (64u << 20)) {
				free(b);
				if (f != stdin)
					fclose(f);
				return -EFBIG;
			}
			char *nb = realloc(b, cap ? cap * 2 : 65536);
			if (!nb) {
				free(b);
				if (f != stdin)
					fclose(f);
				return -ENOMEM;
			}
			b = nb;
			cap = cap ? cap * 2 : 65536;
		}
		size_t r = fread(b + n, 1, cap - n, f);
		n += r;
		if (r == 0)
			break;
	}
	int err = ferror(f) ? -EIO : 0;
	if (f != stdin)
		fclose(f);
	if (err) {
		free(b);
		return err;
	}
	*buf = b;
	*len = n;
	return 0;
}

int myco_cmd_fmt(int argc, char **argv)
{
	const char *file = NULL;
	bool write = false, check = false;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			puts("usage: myco fmt FILE [-w | --check]\n\n"
			     "Prints the canonical form of a system file (FILE `-` reads stdin).\n"
			     "Comments are kept; formatting twice changes nothing.  -w rewrites\n"
			     "the file in place; --check exits 1 when it is not canonical.\n"
			     "Exit: 0, 1 syntax errors (or --check found differences), 2 usage.");
			return 0;
		} else if (!strcmp(argv[i], "-w")) {
			write = true;
		} else if (!strcmp(argv[i], "--check")) {
			check = true;
		} else if (argv[i][0] == '-' && argv[i][1]) {
			fprintf(stderr, "myco fmt: unknown option %s\n", argv[i]);
			return 2;
		} else if (!file) {
			file = argv[i];
		} else {
			fputs("usage: myco fmt FILE [-w | --check]\n", stderr);
			return 2;
		}
	}
	if (!file || (write && (check || !strcmp(file, "-")))) {
		fputs("usage: myco fmt FILE [-w | --check]\n", stderr);
		return 2;
	}
	char *buf = NULL, *out = NULL, *tmp = NULL;
	size_t len = 0, outlen = 0;
	int rc = slurp(file, &buf, &len);
	if (rc) {
		fprintf(stderr, "myco fmt: cannot read %s: %s\n", file, strerror(-rc));
		return 1;
	}
	myco_diags_t *d = NULL;
	rc = myco_lang_fmt(strcmp(file, "-") ? file : "<stdin>", buf, len, &out, &outlen, &d);
	if (rc) {
		myco_diags_print(d, stderr, want_color());
		if (rc != -MYCO_ESYNTAX)
			fprintf(stderr, "myco fmt: %s\n", myco_strerror(rc));
		rc = 1;
		goto done;
	}
	if (check) {
		rc = outlen != len || memcmp(out, buf, len);
		if (rc)
			fprintf(stderr, "%s: not in canonical form (run `myco fmt -w %s`)\n", file, file);
	} else if (write) {
		if (outlen == len && !memcmp(out, buf, len))
			goto done;
		size_t n = strlen(file) + 16;
		tmp = malloc(n);
		if (!tmp) {
			rc = 1;
			goto done;
		}
		snprintf(tmp, n, "%s.fmt~", file);
		FILE *f = fopen(tmp, "w");
		struct stat st;
		if (!f || fwrite(out, 1, outlen, f) != outlen || fclose(f)) {
			fprintf(stderr, "myco fmt: cannot write %s: %s\n", tmp, strerror(errno));
			unlink(tmp);
			rc = 1;
			goto done;
		}
		if (!stat(file, &st))
			chmod(tmp, st.st_mode & 07777);
		if (rename(tmp, file)) {
			fprintf(stderr, "myco fmt: cannot replace %s: %s\n", file, strerror(errno));
			unlink(tmp);
			rc = 1;
		}
	} else {
		fwrite(out, 1, outlen, stdout);
	}
done:
	myco_diags_free(d);
	free(buf);
	free(out);
	free(tmp);
	return rc;
}
