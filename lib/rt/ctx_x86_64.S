/*
 * ctx_x86_64.S: coroutine context switch for x86-64 (System V ABI).
 * Saves the callee-saved registers rbx, rbp, r12-r15, the MXCSR control
 * bits and the x87 control word on the current stack, stores the stack
 * pointer, loads the other one and restores the same set.  Caller-saved
 * registers need no saving: the switch is an ordinary function call.
 * Not for: signal masks (coroutines share the thread's), aarch64
 * (ctx_aarch64.S) or other CPUs (ctx_ucontext.c).
 *
 *   void myco__ctx_swap(myco__ctx_t *from, myco__ctx_t *to);
 *   void myco__ctx_make(myco__ctx_t *ctx, void *lo, size_t size,
 *                       void (*entry)(void));
 * myco__ctx_t starts with the saved stack pointer.
 */
	.text
	.globl	myco__ctx_swap
	.hidden	myco__ctx_swap
	.type	myco__ctx_swap, @function
	.p2align 4
myco__ctx_swap:
	.cfi_startproc
	pushq	%rbp
	pushq	%rbx
	pushq	%r12
	pushq	%r13
	pushq	%r14
	pushq	%r15
	subq	$8, %rsp
	stmxcsr	(%rsp)
	fnstcw	4(%rsp)
	movq	%rsp, (%rdi)
	movq	(%rsi), %rsp
	ldmxcsr	(%rsp)
	fldcw	4(%rsp)
	addq	$8, %rsp
	popq	%r15
	popq	%r14
	popq	%r13
	popq	%r12
	popq	%rbx
	popq	%rbp
	ret
	.cfi_endproc
	.size	myco__ctx_swap, .-myco__ctx_swap

/* First switch-in lands here (the "return address" myco__ctx_make put on
 * the new stack) with the entry function in r12 and rsp 16-byte aligned. */
	.type	myco__ctx_start, @function
	.p2align 4
myco__ctx_start:
	.cfi_startproc
	.cfi_undefined rip
	xorl	%ebp, %ebp
	callq	*%r12
	ud2
	.cfi_endproc
	.size	myco__ctx_start, .-myco__ctx_start

	.globl	myco__ctx_make
	.hidden	myco__ctx_make
	.type	myco__ctx_make, @function
	.p2align 4
myco__ctx_make:
	.cfi_startproc
	/* top = (lo + size) & ~15; frame of 8 slots below it:
	 *   [0] mxcsr|fpcw  [1] r15 [2] r14 [3] r13 [4] r12=entry [5] rbx
	 *   [6] rbp=0  [7] return address = myco__ctx_start
	 * after the ret, rsp = top (16-aligned) as the call needs. */
	leaq	(%rsi,%rdx), %rax
	andq	$-16, %rax
	subq	$64, %rax
	stmxcsr	(%rax)
	fnstcw	4(%rax)
	movq	$0, 8(%rax)
	movq	$0, 16(%rax)
	movq	$0, 24(%rax)
	movq	%rcx, 32(%rax)
	movq	$0, 40(%rax)
	movq	$0, 48(%rax)
	leaq	myco__ctx_start(%rip), %r8
	movq	%r8, 56(%rax)
	movq	%rax, (%rdi)
	ret
	.cfi_endproc
	.size	myco__ctx_make, .-myco__ctx_make

	.section .note.GNU-stack,"",@progbits
