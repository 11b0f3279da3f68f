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
int myco_cmd_health(int argc, char **argv);

int myco_cmd_doctor(int argc, char **argv);
int myco_cmd_replay(int argc, char **argv);  /* replay_cmds.c */
int myco_cmd_record(int argc, char **argv);  /* replay_cmds.c */

int myco_cmd_trace(int argc, char **argv);
int myco_cmd_top(int argc, char **argv);

int myco_cmd_dash(int argc, char **argv);   /* dash_cmds.c */
int myco_cmd_chaos(int argc, char **argv);  /* chaos_cmd.c */

/* Shared by the control clients (exec_cmds.c): connect to the executive of
 * the system in RUNTIME_DIR (NULL: the one running system), printing why
 * not and returning -1 on failure; send one request and read its one-line
 * reply (a new reference, NULL when the executive did not answer). */
struct json_t;
int myco__cli_connect(const char *cmd, const char *runtime_dir);
struct json_t *myco__cli_call(int fd, struct json_t *req);

#endif
