/*
 * dash.h: the executive's side of the dashboard: for a system file with
 * `dashboard PORT;` it starts `myco dash` (cmd/myco/dash_cmds.c) as a child
 * process that reads the control socket and serves the page, and stops it
 * with the system.  The supervision loop never serves HTTP itself.
 * Not for: the server and the page (cmd/myco/dash_cmds.c, dash/).
 */
#ifndef MYCO_EXEC_DASH_H
#define MYCO_EXEC_DASH_H

struct ex_system;

/* After the control socket is open: start the dashboard when the model
 * declares one (an event names where it serves, or why it could not
 * start; the system runs either way). */
void myco__ex_dash_start(struct ex_system *s);
/* Stop it (SIGTERM, then SIGKILL after a second) and reap it. */
void myco__ex_dash_stop(struct ex_system *s);

#endif /* MYCO_EXEC_DASH_H */
