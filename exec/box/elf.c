/*
 * exec/box/elf.c: read a program's DT_RUNPATH (or DT_RPATH) so that the
 * minimal mount view can bind the directories its shared libraries come
 * from (a program built in a tree links libmyco.so through such a path).
 * Reads ELF64 little-endian files only; anything else has no run path.
 * Not for: loading or checking programs (the kernel and ld.so do that).
 */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "box_int.h"

#define MAX_PHDRS 64
#define MAX_DYN   512

static int read_at(int fd, void *buf, size_t n, off_t off)
{
	ssize_t r = pread(fd, buf, n, off);

	return r == (ssize_t)n ? 0 : -EIO;
}

/* File offset of virtual address va, via the PT_LOAD segments. */
static int va_to_off(const Elf64_Phdr *ph, int n, uint64_t va, uint64_t *off)
{
	for (int i = 0; i < n; i++) {
		if (ph[i].p_type != PT_LOAD)
			continue;
		if (va >= ph[i].p_vaddr && va - ph[i].p_vaddr < ph[i].p_filesz) {
			*off = ph[i].p_offset + (va - ph[i].p_vaddr);
			return 0;
		}
	}
	return -ENOENT;
}

int myco__box_elf_runpath(const char *path, char *out, size_t cap)
{
	Elf64_Ehdr eh;
	Elf64_Phdr ph[MAX_PHDRS];
	Elf64_Dyn *dyn = NULL;
	uint64_t strtab = 0, rp = 0, stroff;
	bool have_rp = false;
	int fd, n, ndyn = 0, rc = 0;
	ssize_t got;

	if (!cap)
		return -EINVAL;
	out[0] = '\0';
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (read_at(fd, &eh, sizeof(eh), 0) < 0 ||
	    memcmp(eh.e_ident, ELFMAG, SELFMAG) ||
	    eh.e_ident[EI_CLASS] != ELFCLASS64 ||
	    eh.e_ident[EI_DATA] != ELFDATA2LSB ||
	    eh.e_phentsize != sizeof(Elf64_Phdr))
		goto out;                       /* not ours: no run path */
	n = eh.e_phnum < MAX_PHDRS ? eh.e_phnum : MAX_PHDRS;
	if (read_at(fd, ph, sizeof(ph[0]) * (size_t)n, (off_t)eh.e_phoff) < 0)
		goto out;
	for (int i = 0; i < n; i++) {
		if (ph[i].p_type != PT_DYNAMIC)
			continue;
		ndyn = (int)(ph[i].p_filesz / sizeof(Elf64_Dyn));
		if (ndyn > MAX_DYN)
			ndyn = MAX_DYN;
		dyn = calloc((size_t)ndyn + 1, sizeof(*dyn));
		if (!dyn) {
			rc = -ENOMEM;
			goto out;
		}
		if (read_at(fd, dyn, sizeof(*dyn) * (size_t)ndyn,
			    (off_t)ph[i].p_offset) < 0)
			ndyn = 0;
		break;
	}
	for (int i = 0; i < ndyn && dyn[i].d_tag != DT_NULL; i++) {
		if (dyn[i].d_tag == DT_STRTAB)
			strtab = dyn[i].d_un.d_ptr;
		else if (dyn[i].d_tag == DT_RUNPATH ||
			 (dyn[i].d_tag == DT_RPATH && !have_rp)) {
			rp = dyn[i].d_un.d_val;
			have_rp = true;
		}
	}
	if (!have_rp || !strtab || va_to_off(ph, n, strtab, &stroff) < 0)
		goto out;
	got = pread(fd, out, cap - 1, (off_t)(stroff + rp));
	if (got <= 0) {
		out[0] = '\0';
		goto out;
	}
	out[got] = '\0';
	rc = (int)strlen(out);
out:
	free(dyn);
	close(fd);
	return rc;
}
