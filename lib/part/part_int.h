/*
 * part_int.h: lib/part internals shared with its tests and fuzz harness.
 * Not for: partitions (they use myco/part.h).
 */
#ifndef MYCO_PART_INT_H
#define MYCO_PART_INT_H

/* Parse a MYCO_CAPS manifest into this process's capability table
 * (replacing it).  Returns the number of entries or -EINVAL. */
int myco__part_parse_caps(const char *s);

#endif
