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
	case MYCO_ELOG_CORRUPT:  return "log: record batch corrupt (CRC, length or magic)";
	case MYCO_ELOG_INVALID_RECORD: return "log: invalid record in batch";
	case MYCO_ELOG_TOO_LARGE: return "log: batch larger than max.message.bytes";
	case MYCO_ELOG_OUT_OF_ORDER: return "log: out of order producer sequence number";
	case MYCO_ELOG_FENCED:   return "log: producer epoch fenced";
	case MYCO_ELOG_OFFSET_RANGE: return "log: offset out of range";
	case MYCO_ELOG_NO_TOPIC: return "log: unknown topic or partition";
	case MYCO_ELOG_TOPIC_EXISTS: return "log: topic already exists";
	case MYCO_ELOG_BAD_TOPIC: return "log: invalid topic name";
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
