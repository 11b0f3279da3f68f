/*
 * store_int.h: what the store's modules share (crc, batch layout, segment
 * and partition structures).  Not part of the API: see store.h.
 */
#ifndef MYCO_SVC_LOG_STORE_INT_H
#define MYCO_SVC_LOG_STORE_INT_H

#include <stddef.h>
#include <stdint.h>

/* Table-driven CRC-32C, always the portable path (tests compare it with the
 * SSE4.2 path used by mls_crc32c()). */
uint32_t myco__crc32c_sw(uint32_t crc, const void *buf, size_t len);

#endif
