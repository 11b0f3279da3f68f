/*
 * notes_store.h: the notes themselves, kept in memory, and the one
 * operation on them: apply a StoreReq, fill a StoreRep.  Linked into the
 * store partition (store.c), which applies what the web partition sends over
 * the `store` call channel, and into the web program run standalone (no
 * system), which applies it in-process.  Not thread-safe: one caller at a
 * time.  Not for: HTTP (notes.c).
 */
#ifndef NOTES_STORE_H
#define NOTES_STORE_H

#include <stddef.h>

#include "notes.h"

#define NOTES_MAX 4096

/* Apply q (already validated: StoreReq_validate) to the store; *r gets the
 * answer and *len the bytes of it that matter (the header and the notes
 * returned, so a reply carries no unused array slots). */
void notes_store_apply(const StoreReq *q, StoreRep *r, size_t *len);

#endif
