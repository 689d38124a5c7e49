/* Cleanup attributes: resources released when the variable leaves scope. */
#ifndef VESSEL_CLEANUP_H
#define VESSEL_CLEANUP_H

#include <stdio.h>

void vs_freep(void *p);	      /* free(*(void **)p) */
void vs_closep(int *fd);      /* close(*fd) if >= 0, keeps errno */
void vs_fclosep(FILE **f);    /* fclose(*f) if not NULL */
void vs_strvfreep(char ***v); /* frees a NULL-terminated string vector */

#define autofree   __attribute__((cleanup(vs_freep)))
#define autoclose  __attribute__((cleanup(vs_closep)))
#define autofclose __attribute__((cleanup(vs_fclosep)))
#define autostrv   __attribute__((cleanup(vs_strvfreep)))

/* Hands ownership out of an auto variable: returns the value, leaves it empty. */
#define vs_steal_ptr(p)                                                                            \
	({                                                                                         \
		__typeof__(p) _v = (p);                                                            \
		(p) = NULL;                                                                        \
		_v;                                                                                \
	})
#define vs_steal_fd(fd)                                                                            \
	({                                                                                         \
		int _v = (fd);                                                                     \
		(fd) = -1;                                                                         \
		_v;                                                                                \
	})

#endif
