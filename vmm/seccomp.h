/* The VMM's own confinement: after set-up, the process may only make the
 * system calls running a VM needs. */
#ifndef VMM_SECCOMP_H
#define VMM_SECCOMP_H

#include "vessel/err.h"

/* Exit status when the filter catches a forbidden call (even: never a
 * debug-exit value). */
#define VM_EXIT_SECCOMP 12

/*
 * Installs the allow-list on every thread of the process (TSYNC) and the
 * threads created afterwards. Sanitizer builds also allow what
 * LeakSanitizer's exit-time check needs (clone, ptrace, /proc reads).
 * A forbidden call raises SIGSYS (SCMP_ACT_TRAP); the handler writes
 * "vessel-vmm: seccomp: forbidden system call N" to stderr and exits with
 * VM_EXIT_SECCOMP, so a violation is reported instead of a silent kill.
 */
int vm_seccomp_install(struct vs_err *e);

#endif
