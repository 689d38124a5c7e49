/* Errors that carry context: a failing function returns a negative value and
 * fills a struct vs_err naming what failed. Only the top of a command prints. */
#ifndef VESSEL_ERR_H
#define VESSEL_ERR_H

#include <stddef.h>

struct vs_err {
	int errnum;    /* errno of the root cause, 0 when there is none */
	char msg[512]; /* "what failed: why", without strerror(errnum) */
};

/* Fills e (if not NULL) and returns -1. */
int vs_fail(struct vs_err *e, int errnum, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Same, with errnum taken from errno at the call. */
int vs_fail_errno(struct vs_err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Prepends "context: " to an already filled error; returns -1. */
int vs_err_prefix(struct vs_err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Formats "msg: strerror(errnum)" (or just msg) into buf. */
const char *vs_err_str(const struct vs_err *e, char *buf, size_t len);

/* Clears e to "no error". */
void vs_err_clear(struct vs_err *e);

#endif
