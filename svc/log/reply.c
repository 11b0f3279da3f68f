/*
 * reply.c: what every myco-log handler shares below the handlers: response
 * framing (header, size patched at send), the store-error to Kafka-error
 * map, topic names from the wire, and the millisecond clock.  Calls only
 * the codec, the store and the network layer's send.
 * Not for: request decoding (kmsg.c), routing (dispatch.c).
 */
#include "log_int.h"

#include <errno.h>
#include <string.h>

int64_t myco__lnow_ms(void)
{
	return (int64_t)(myco_now() / 1000000u);
}

/* Map a store error to a Kafka error code. */
int16_t myco__lkerr(int rc)
{
	switch (-rc) {
	case 0: return KERR_NONE;
	case MYCO_ELOG_CORRUPT: return KERR_CORRUPT_MESSAGE;
	case MYCO_ELOG_INVALID_RECORD: return KERR_INVALID_RECORD;
	case MYCO_ELOG_TOO_LARGE: return KERR_MESSAGE_TOO_LARGE;
	case MYCO_ELOG_OUT_OF_ORDER: return KERR_OUT_OF_ORDER_SEQUENCE_NUMBER;
	case MYCO_ELOG_FENCED: return KERR_INVALID_PRODUCER_EPOCH;
	case MYCO_ELOG_OFFSET_RANGE: return KERR_OFFSET_OUT_OF_RANGE;
	case MYCO_ELOG_NO_TOPIC: return KERR_UNKNOWN_TOPIC_OR_PARTITION;
	case MYCO_ELOG_TOPIC_EXISTS: return KERR_TOPIC_ALREADY_EXISTS;
	case MYCO_ELOG_BAD_TOPIC: return KERR_INVALID_TOPIC_EXCEPTION;
	case EOPNOTSUPP: return KERR_UNSUPPORTED_FOR_MESSAGE_FORMAT;
	case EREMOTE: return KERR_NOT_LEADER_OR_FOLLOWER;   /* repl.h */
	case ENOLINK: return KERR_NOT_ENOUGH_REPLICAS;      /* repl.h */
	case ETIMEDOUT: return KERR_REQUEST_TIMED_OUT;
	case EPROTONOSUPPORT: return KERR_POLICY_VIOLATION;  /* repl.h */
	case EINVAL: return KERR_INVALID_REQUEST;
	case ENOSPC: case EIO: case EDQUOT: case EFBIG: case EROFS:
	case EMFILE: case ENFILE:
		return KERR_KAFKA_STORAGE_ERROR;
	default: return KERR_UNKNOWN_SERVER_ERROR;
	}
}

const char *myco__lerrmsg(int rc)
{
	switch (-rc) {
	case EMFILE: case ENFILE:
		return "out of file descriptors: myco-log keeps one open per log segment; "
		       "raise the limit (ulimit -n) or use fewer partitions";
	case ENOSPC: case EDQUOT:
		return "the data directory's disk is full";
	case EPROTONOSUPPORT:
		return "not replicated in cluster mode yet (docs/log.md)";
	default:
		return NULL;
	}
}

bool myco__ltopic_name(myco__kstr_t s, char out[MLS_TOPIC_NAME_MAX + 1])
{
	if (!s.p || s.len <= 0 || s.len > MLS_TOPIC_NAME_MAX ||
	    memchr(s.p, 0, (size_t)s.len))
		return false;
	memcpy(out, s.p, (size_t)s.len);
	out[s.len] = 0;
	return true;
}

void myco__lresp_begin(myco__kwr_t *w, const myco__lreq_t *req)
{
	myco__kwr_init(w);
	(void)myco__kwr_reserve_i32(w);          /* frame size, patched at send */
	myco__kwr_i32(w, req->corr);
	/* ApiVersions always answers with header v0 (KIP-511). */
	if (req->key != KAPI_API_VERSIONS)
		myco__kwr_tags(w, req->flex);
}

void myco__lresp_send(const myco__lreq_t *req, myco__kwr_t *w)
{
	if (!req->conn) {
		myco__kwr_free(w);
		return;
	}
	if (w->err || myco__kwr_total(w) - 4 > INT32_MAX) {
		myco__kwr_free(w);
		myco__lc_abort(req->conn);
		return;
	}
	myco__kwr_patch_i32(w, 0, (int32_t)(myco__kwr_total(w) - 4));
	myco__lc_send(req->conn, w);
}
