/*
 * errors.c: myco_strerror() for negative errno values and Myco's own codes
 * (include/myco/common.h).  Not for: formatting diagnostics (lib/lang does
 * that for the language).
 */
#include <string.h>

#include "myco/common.h"

const char *myco_strerror(int err)
{
	if (err > 0)
		err = -err;
	switch (-err) {
	case 0:                return "success";
	case MYCO_EBROKEN:     return "channel broken: peer corrupted the shared region";
	case MYCO_ESYNTAX:     return "input is not valid";
	case MYCO_ENOTGRANTED: return "capability not granted to this partition";
	case MYCO_EVERSION:    return "incompatible format version";
	case MYCO_EADMISSION:  return "admission test failed: CPU utilisation over the bound";
	case MYCO_ESTOPPED:    return "loop or group stopped";
	/* the log store's MYCO_ELOG_* (svc/log/store/store.h) */
	case MYCO_ERR_BASE + 520:  return "log: record batch corrupt (CRC, length or magic)";
	case MYCO_ERR_BASE + 521: return "log: invalid record in batch";
	case MYCO_ERR_BASE + 522: return "log: batch larger than max.message.bytes";
	case MYCO_ERR_BASE + 523: return "log: out of order producer sequence number";
	case MYCO_ERR_BASE + 524:   return "log: producer epoch fenced";
	case MYCO_ERR_BASE + 525: return "log: offset out of range";
	case MYCO_ERR_BASE + 526: return "log: unknown topic or partition";
	case MYCO_ERR_BASE + 527: return "log: topic already exists";
	case MYCO_ERR_BASE + 528: return "log: invalid topic name";
	default:
		break;
	}
	if (-err < MYCO_ERR_BASE)
		return strerror(-err);
	return "unknown Myco error";
}

const char *myco_version(void)
{
	return "0.1.0";
}
