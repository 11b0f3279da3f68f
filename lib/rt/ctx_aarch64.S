/*
 * ctx_aarch64.S: coroutine context switch for AArch64 (AAPCS64).
 * Saves x19-x28, the frame pointer x29, the link register x30, the low
 * halves of v8-v15 (d8-d15, callee-saved by the ABI) and FPCR on the
 * current stack, stores sp, loads the other one and restores the same set.
 * Not for: signal masks, x86-64 (ctx_x86_64.S), other CPUs
 * (ctx_ucontext.c).
 *
 *   void myco__ctx_swap(myco__ctx_t *from, myco__ctx_t *to);   x0, x1
 *   void myco__ctx_make(myco__ctx_t *ctx, void *lo, size_t size,
 *                       void (*entry)(void));                 x0..x3
 */
	.text
	.globl	myco__ctx_swap
	.hidden	myco__ctx_swap
	.type	myco__ctx_swap, %function
	.p2align 4
myco__ctx_swap:
	sub	sp, sp, #176
	stp	x19, x20, [sp, #0]
	stp	x21, x22, [sp, #16]
	stp	x23, x24, [sp, #32]
	stp	x25, x26, [sp, #48]
	stp	x27, x28, [sp, #64]
	stp	x29, x30, [sp, #80]
	stp	d8, d9, [sp, #96]
	stp	d10, d11, [sp, #112]
	stp	d12, d13, [sp, #128]
	stp	d14, d15, [sp, #144]
	mrs	x9, fpcr
	str	x9, [sp, #160]
	mov	x9, sp
	str	x9, [x0]
	ldr	x9, [x1]
	mov	sp, x9
	ldr	x9, [sp, #160]
	msr	fpcr, x9
	ldp	x19, x20, [sp, #0]
	ldp	x21, x22, [sp, #16]
	ldp	x23, x24, [sp, #32]
	ldp	x25, x26, [sp, #48]
	ldp	x27, x28, [sp, #64]
	ldp	x29, x30, [sp, #80]
	ldp	d8, d9, [sp, #96]
	ldp	d10, d11, [sp, #112]
	ldp	d12, d13, [sp, #128]
	ldp	d14, d15, [sp, #144]
	add	sp, sp, #176
	ret
	.size	myco__ctx_swap, .-myco__ctx_swap

/* First switch-in: x30 (restored) points here, x19 holds entry. */
	.type	myco__ctx_start, %function
	.p2align 4
myco__ctx_start:
	mov	x29, #0
	mov	x30, #0
	blr	x19
	brk	#0
	.size	myco__ctx_start, .-myco__ctx_start

	.globl	myco__ctx_make
	.hidden	myco__ctx_make
	.type	myco__ctx_make, %function
	.p2align 4
myco__ctx_make:
	add	x9, x1, x2
	and	x9, x9, #~15
	sub	x9, x9, #176
	/* zero the frame, then set x19 = entry, x30 = start, fpcr = ours */
	mov	x10, #0
	mov	x11, x9
1:	str	x10, [x11], #8
	add	x12, x9, #176
	cmp	x11, x12
	b.lo	1b
	str	x3, [x9, #0]
	adr	x10, myco__ctx_start
	str	x10, [x9, #88]
	mrs	x10, fpcr
	str	x10, [x9, #160]
	str	x9, [x0]
	ret
	.size	myco__ctx_make, .-myco__ctx_make

	.section .note.GNU-stack,"",%progbits
