/*
 * cmd.h: the subcommands of the `myco` command.  Each group lives in its own
 * file (lang_cmds.c: check/gen/graph/fmt; exec_cmds.c: run/ps/stop/...), and
 * main.c dispatches on argv[1].  Each function gets argv starting at the
 * subcommand name and returns the process exit status.
 */
#ifndef MYCO_CMD_H
#define MYCO_CMD_H

int myco_cmd_check(int argc, char **argv);
int myco_cmd_gen(int argc, char **argv);
int myco_cmd_graph(int argc, char **argv);
int myco_cmd_fmt(int argc, char **argv);

int myco_cmd_run(int argc, char **argv);
int myco_cmd_ps(int argc, char **argv);
int myco_cmd_stop(int argc, char **argv);
int myco_cmd_restart(int argc, char **argv);
int myco_cmd_kill(int argc, char **argv);
int myco_cmd_logs(int argc, char **argv);
int myco_cmd_events(int argc, char **argv);

int myco_cmd_doctor(int argc, char **argv);

#endif
