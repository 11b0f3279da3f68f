/*
 * main.c: entry point of the `myco` command; dispatches to the subcommands
 * declared in cmd.h.  Not for: any subcommand's logic.
 */
#include <stdio.h>
#include <string.h>

#include "myco/common.h"
#include "cmd.h"

struct command {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *help;
};

static const struct command commands[] = {
	{ "check",   myco_cmd_check,   "check a system file; --format json, --dump-json, --explain CODE" },
	{ "gen",     myco_cmd_gen,     "generate C headers for message types: gen FILE -o DIR" },
	{ "graph",   myco_cmd_graph,   "Graphviz dot of partitions and channels (--svg)" },
	{ "fmt",     myco_cmd_fmt,     "print the canonical form of a system file (-w rewrites)" },
	{ "run",     myco_cmd_run,     "boot a system: run FILE [--runtime-dir DIR]" },
	{ "ps",      myco_cmd_ps,      "list partitions and the isolation each really got" },
	{ "stop",    myco_cmd_stop,    "stop a partition, or --all" },
	{ "restart", myco_cmd_restart, "restart a partition" },
	{ "kill",    myco_cmd_kill,    "kill a partition (fault injection)" },
	{ "logs",    myco_cmd_logs,    "show a partition's stdout/stderr (-f follows)" },
	{ "events",  myco_cmd_events,  "show supervision and health events (-f follows)" },
	{ "health",  myco_cmd_health,  "health model: verdicts, signals, baselines (--save PROFILE)" },
	{ "trace",   myco_cmd_trace,   "switch trace categories (on|off chan,rt,...), record a Perfetto trace" },
	{ "top",     myco_cmd_top,     "live view of partitions and channels (--json, --sort KEY)" },
	{ "dash",    myco_cmd_dash,    "serve the live system map: dash [--port N] (http://127.0.0.1:7070/)" },
	{ "chaos",   myco_cmd_chaos,   "chaos experiments: chaos run NAME|--fault STATEMENT ... (timeline, verdict)" },
	{ "replay",  myco_cmd_replay,  "replay a partition's record log alone: replay LOG [--until N] [--gdb|--rr], --crash NAME" },
	{ "record",  myco_cmd_record,  "recording status, or turn it on/off: record [NAME on|off]" },
	{ "doctor",  myco_cmd_doctor,  "check this host for what undermines deterministic timing (--json)" },
};

static void usage(FILE *f)
{
	fprintf(f, "usage: myco COMMAND [ARGS...]\n\ncommands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %-8s %s\n", commands[i].name, commands[i].help);
	fprintf(f, "  %-8s %s\n", "version", "print the version");
	fprintf(f, "\nRun 'myco COMMAND --help' for a command's options.\n");
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(argv[1], "version") || !strcmp(argv[1], "--version")) {
		printf("myco %s\n", myco_version());
		return 0;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(argv[1], commands[i].name))
			return commands[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "myco: unknown command '%s'\n\n", argv[1]);
	usage(stderr);
	return 2;
}
