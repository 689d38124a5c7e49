/* Shared between progs/smp.c and progs/smp_tramp.S. */
#ifndef GUEST_SMP_TRAMP_H
#define GUEST_SMP_TRAMP_H

#define AP_TRAMP_BASE  0x8000 /* SIPI vector 0x08; free low RAM on every loader we use */
#define AP_MAX	       31
#define AP_STACK_SHIFT 12 /* 4 KiB per AP */

#endif
