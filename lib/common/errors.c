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
