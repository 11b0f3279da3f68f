/*
 * notes_store.c: the notes kept in memory and the store operations (list,
 * create, get, put, remove, count) behind notes_store_apply().  Used by the
 * store partition and by the standalone web program.  Not for: HTTP.
 */
#include "notes_store.h"

#include <string.h>

static Note notes[NOTES_MAX];
static size_t nnotes;
static uint64_t next_id = 1;

static Note *find(uint64_t id)
{
	for (size_t i = 0; i < nnotes; i++)
		if (notes[i].id == id)
			return &notes[i];
	return NULL;
}

void notes_store_apply(const StoreReq *q, StoreRep *r, size_t *len)
{
	Note *x;

	memset(r, 0, offsetof(StoreRep, notes));
	*len = offsetof(StoreRep, notes);
	switch (q->op) {
	case StoreOp_list: {
		uint32_t limit = q->limit ? q->limit : 20;
		if (limit > 100)
			limit = 100;
		for (size_t i = 0; i < nnotes && r->count < limit; i++)
			r->notes[r->count++] = notes[i];
		r->status = 200;
		break;
	}
	case StoreOp_create:
		if (nnotes == NOTES_MAX) {
			r->status = 507;
			break;
		}
		notes[nnotes] = q->note;
		notes[nnotes].id = next_id++;
		r->notes[0] = notes[nnotes++];
		r->count = 1;
		r->status = 201;
		break;
	case StoreOp_get:
	case StoreOp_put:
		x = find(q->id);
		if (!x) {
			r->status = 404;
			break;
		}
		if (q->op == StoreOp_put) {
			*x = q->note;
			x->id = q->id;
		}
		r->notes[0] = *x;
		r->count = 1;
		r->status = 200;
		break;
	case StoreOp_remove:
		x = find(q->id);
		if (x)
			*x = notes[--nnotes];
		r->status = x ? 204 : 404;
		break;
	case StoreOp_count:
		r->count = (uint32_t)nnotes;
		r->status = 200;
		break;
	default:
		r->status = 400;
		break;
	}
	*len += (size_t)r->count * sizeof(Note) * (q->op != StoreOp_count);
}
