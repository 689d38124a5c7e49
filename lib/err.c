#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "vessel/err.h"

static int vfail(struct vs_err *e, int errnum, const char *fmt, va_list ap)
{
	if (e) {
		e->errnum = errnum;
		vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	}
	return -1;
}

int vs_fail(struct vs_err *e, int errnum, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfail(e, errnum, fmt, ap);
	va_end(ap);
	return -1;
}

int vs_fail_errno(struct vs_err *e, const char *fmt, ...)
{
	int errnum = errno;
	va_list ap;

	va_start(ap, fmt);
	vfail(e, errnum, fmt, ap);
	va_end(ap);
	return -1;
}

int vs_err_prefix(struct vs_err *e, const char *fmt, ...)
{
	char head[sizeof(e->msg)], old[sizeof(e->msg)];
	va_list ap;

	if (!e)
		return -1;
	va_start(ap, fmt);
	vsnprintf(head, sizeof(head), fmt, ap);
	va_end(ap);
	memcpy(old, e->msg, sizeof(old));
	/* the message may be cut at the end; the context at the front matters more */
	size_t n = strlen(head);
	if (n > sizeof(e->msg) - 3)
		n = sizeof(e->msg) - 3;
	memcpy(e->msg, head, n);
	memcpy(e->msg + n, ": ", 2);
	size_t room = sizeof(e->msg) - n - 3;
	size_t ol = strnlen(old, room);
	memcpy(e->msg + n + 2, old, ol);
	e->msg[n + 2 + ol] = '\0';
	return -1;
}

const char *vs_err_str(const struct vs_err *e, char *buf, size_t len)
{
	if (e->errnum)
		snprintf(buf, len, "%s: %s", e->msg, strerror(e->errnum));
	else
		snprintf(buf, len, "%s", e->msg);
	return buf;
}

void vs_err_clear(struct vs_err *e)
{
	e->errnum = 0;
	e->msg[0] = '\0';
}
