/*
 * record.h: the executive's side of record and replay (record.c): a record
 * ring per partition (capability `record/ring:FD`), drained on the
 * collector's 10 ms tick into the partition's log, the last log window
 * kept next to the event when a partition crashes, the control command
 * `record`, and the record status in `myco ps`.  docs/replay.md.
 * Not for: recording inside the partition or the log format (lib/replay).
 */
#ifndef MYCO_EXEC_RECORD_H
#define MYCO_EXEC_RECORD_H

#include <signal.h>
#include <stdbool.h>

struct ex_system;
struct ex_part;
struct json_t;

/* Record ring data bytes: a recorded partition's, and one recorded only
 * when the control socket turns it on. */
#define EX_RECORD_RING_ON  (8u << 20)
#define EX_RECORD_RING_OFF (1u << 20)

/* Where logs go: $MYCO_RECORD_DIR/<system>, else <runtime base>/record/<system>
 * (the runtime base of docs/executive.md: it outlives the system). */
int myco__ex_record_open(struct ex_system *s);
void myco__ex_record_tick(struct ex_system *s);
/* P's active process ended as SI says (ABNORMAL: a crash): drain what it
 * left, end its run in the log and, for a crash, keep the window. */
void myco__ex_record_exited(struct ex_system *s, struct ex_part *p, const siginfo_t *si,
			    bool abnormal);
void myco__ex_record_close(struct ex_system *s);

/* `myco ps` JSON: {"mode","on","records","bytes","overruns","lost","log","crash_log"}. */
struct json_t *myco__ex_record_json(struct ex_system *s, const struct ex_part *p);

/* Control: {"cmd":"record","partition":NAME,"on":true|false} and
 * {"cmd":"record-status"[,"partition":NAME]}.  NULL when CMD is not one. */
struct json_t *myco__ex_record_dispatch(struct ex_system *s, const char *cmd,
					struct json_t *req);

#endif /* MYCO_EXEC_RECORD_H */
