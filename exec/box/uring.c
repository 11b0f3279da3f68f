/*
 * exec/box/uring.c: io_uring instances made for a partition by the trusted
 * side.  seccomp never sees io_uring operations, so a partition may not
 * create rings (io_uring_setup is not in its allowlist); the executive
 * creates them disabled, registers restrictions (the operations the
 * partition's declarations allow, the same groups as the seccomp
 * allowlist: no socket creation or connect without `net`, no socket use
 * without `net` or ports, no tree changes without a rw path, nothing
 * newer than this list), enables them and hands them over as capability
 * fds (exec/spawn.c, lib/part/part_abi.h).  The kernel fixes the
 * restrictions for the life of the ring: the partition cannot lift them.
 * Not for: mapping and using the rings (lib/rt/rings.c).
 */
#include <errno.h>
#include <linux/io_uring.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "box.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* Always: I/O on fds it already holds, timers, polling, cancel. */
static const unsigned char ops_base[] = {
	IORING_OP_NOP, IORING_OP_READV, IORING_OP_WRITEV, IORING_OP_FSYNC,
	IORING_OP_READ_FIXED, IORING_OP_WRITE_FIXED, IORING_OP_POLL_ADD,
	IORING_OP_POLL_REMOVE, IORING_OP_TIMEOUT, IORING_OP_TIMEOUT_REMOVE,
	IORING_OP_ASYNC_CANCEL, IORING_OP_LINK_TIMEOUT, IORING_OP_OPENAT,
	IORING_OP_OPENAT2, IORING_OP_CLOSE, IORING_OP_FILES_UPDATE,
	IORING_OP_STATX, IORING_OP_READ, IORING_OP_WRITE, IORING_OP_FADVISE,
	IORING_OP_MADVISE, IORING_OP_EPOLL_CTL, IORING_OP_SPLICE,
	IORING_OP_PROVIDE_BUFFERS, IORING_OP_REMOVE_BUFFERS, IORING_OP_TEE,
	IORING_OP_MSG_RING, IORING_OP_FGETXATTR, IORING_OP_GETXATTR,
};
/* A rw path declared: changing the tree (seccomp's rw group). */
static const unsigned char ops_rw[] = {
	IORING_OP_RENAMEAT, IORING_OP_UNLINKAT, IORING_OP_MKDIRAT,
	IORING_OP_SYMLINKAT, IORING_OP_LINKAT, IORING_OP_FSETXATTR,
	IORING_OP_SETXATTR, IORING_OP_FALLOCATE, IORING_OP_SYNC_FILE_RANGE,
};
/* Ports or net: using sockets it was given. */
static const unsigned char ops_sock_use[] = {
	IORING_OP_SENDMSG, IORING_OP_RECVMSG, IORING_OP_ACCEPT, IORING_OP_SEND,
	IORING_OP_RECV, IORING_OP_SHUTDOWN, IORING_OP_SEND_ZC,
	IORING_OP_SENDMSG_ZC,
};
/* Net only: making sockets and connecting (bind and listen operations of
 * newer kernels are left out: a partition with net has the syscalls). */
static const unsigned char ops_sock_new[] = {
	IORING_OP_SOCKET, IORING_OP_CONNECT,
};
/* io_uring_register operations on its own ring; not restrictions or
 * enabling (done here), nor anything newer than this list. */
static const unsigned char reg_ops[] = {
	IORING_REGISTER_BUFFERS, IORING_UNREGISTER_BUFFERS,
	IORING_REGISTER_FILES, IORING_UNREGISTER_FILES,
	IORING_REGISTER_EVENTFD, IORING_UNREGISTER_EVENTFD,
	IORING_REGISTER_FILES_UPDATE, IORING_REGISTER_EVENTFD_ASYNC,
	IORING_REGISTER_PROBE, IORING_REGISTER_PERSONALITY,
	IORING_UNREGISTER_PERSONALITY, IORING_REGISTER_FILES2,
	IORING_REGISTER_FILES_UPDATE2, IORING_REGISTER_BUFFERS2,
	IORING_REGISTER_BUFFERS_UPDATE, IORING_REGISTER_IOWQ_AFF,
	IORING_UNREGISTER_IOWQ_AFF, IORING_REGISTER_IOWQ_MAX_WORKERS,
	IORING_REGISTER_RING_FDS, IORING_UNREGISTER_RING_FDS,
	IORING_REGISTER_PBUF_RING, IORING_UNREGISTER_PBUF_RING,
	IORING_REGISTER_SYNC_CANCEL, IORING_REGISTER_FILE_ALLOC_RANGE,
};

#define SQE_FLAGS_ALL (IOSQE_FIXED_FILE | IOSQE_IO_DRAIN | IOSQE_IO_LINK | \
		       IOSQE_IO_HARDLINK | IOSQE_ASYNC | IOSQE_BUFFER_SELECT | \
		       IOSQE_CQE_SKIP_SUCCESS)

static size_t add_ops(struct io_uring_restriction *r, size_t n,
		      const unsigned char *ops, size_t nops)
{
	for (size_t i = 0; i < nops; i++) {
		r[n].opcode = IORING_RESTRICTION_SQE_OP;
		r[n++].sqe_op = ops[i];
	}
	return n;
}

int myco__box_uring_create(unsigned decl, unsigned entries, void *params,
			   size_t params_len)
{
	struct io_uring_restriction r[NELEM(ops_base) + NELEM(ops_rw) +
				     NELEM(ops_sock_use) + NELEM(ops_sock_new) +
				     NELEM(reg_ops) + 1];
	struct io_uring_params p;
	size_t n = 0;
	int fd, rc;

	if (!params || params_len != sizeof(p) || entries == 0)
		return -EINVAL;
	memset(&p, 0, sizeof(p));
	memset(r, 0, sizeof(r));
	/* The geometry lib/rt creates standalone (lib/rt/rings.c): a CQ 4x
	 * the SQ, cooperative task running. */
	p.flags = IORING_SETUP_R_DISABLED | IORING_SETUP_CQSIZE |
		  IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG;
	p.cq_entries = entries * 4;
	fd = (int)syscall(SYS_io_uring_setup, entries, &p);
	if (fd < 0 && errno == EINVAL) {         /* kernel before 5.19 */
		memset(&p, 0, sizeof(p));
		p.flags = IORING_SETUP_R_DISABLED | IORING_SETUP_CQSIZE;
		p.cq_entries = entries * 4;
		fd = (int)syscall(SYS_io_uring_setup, entries, &p);
	}
	if (fd < 0)
		return -errno;
	n = add_ops(r, n, ops_base, NELEM(ops_base));
	if (decl & MYCO__BOX_URING_RW)
		n = add_ops(r, n, ops_rw, NELEM(ops_rw));
	if (decl & (MYCO__BOX_URING_PORTS | MYCO__BOX_URING_NET))
		n = add_ops(r, n, ops_sock_use, NELEM(ops_sock_use));
	if (decl & MYCO__BOX_URING_NET)
		n = add_ops(r, n, ops_sock_new, NELEM(ops_sock_new));
	for (size_t i = 0; i < NELEM(reg_ops); i++) {
		r[n].opcode = IORING_RESTRICTION_REGISTER_OP;
		r[n++].register_op = reg_ops[i];
	}
	r[n].opcode = IORING_RESTRICTION_SQE_FLAGS_ALLOWED;
	r[n++].sqe_flags = SQE_FLAGS_ALL;
	if (syscall(SYS_io_uring_register, fd, IORING_REGISTER_RESTRICTIONS, r,
		    (unsigned)n) < 0 ||
	    syscall(SYS_io_uring_register, fd, IORING_REGISTER_ENABLE_RINGS,
		    NULL, 0) < 0) {
		rc = -errno;
		close(fd);
		return rc;
	}
	/* What the kernel reports back is what io_uring_queue_mmap() needs;
	 * the R_DISABLED flag stays in it (liburing ignores it). */
	memcpy(params, &p, sizeof(p));
	return fd;
}

int myco__box_uring_describe(unsigned decl, char *buf, size_t cap)
{
	return snprintf(buf, cap, "restricted: %s%s%s",
			decl & MYCO__BOX_URING_NET ? "sockets" :
			decl & MYCO__BOX_URING_PORTS ? "given sockets, no new sockets" :
			"no sockets",
			decl & MYCO__BOX_URING_RW ? ", tree changes" : ", no tree changes",
			"; io_uring_setup denied");
}
