/* The handful of string functions a freestanding guest needs; GCC may also
 * emit calls to memcpy/memset for structure copies. */
#include "guest.h"

void *memcpy(void *d, const void *s, size_t n)
{
	uint8_t *dp = d;
	const uint8_t *sp = s;

	while (n--)
		*dp++ = *sp++;
	return d;
}

void *memmove(void *d, const void *s, size_t n)
{
	uint8_t *dp = d;
	const uint8_t *sp = s;

	if (dp < sp)
		return memcpy(d, s, n);
	while (n--)
		dp[n] = sp[n];
	return d;
}

void *memset(void *d, int c, size_t n)
{
	uint8_t *dp = d;

	while (n--)
		*dp++ = (uint8_t)c;
	return d;
}

int memcmp(const void *a, const void *b, size_t n)
{
	const uint8_t *ap = a, *bp = b;

	for (size_t i = 0; i < n; i++)
		if (ap[i] != bp[i])
			return ap[i] - bp[i];
	return 0;
}

size_t strlen(const char *s)
{
	size_t n = 0;

	while (s[n])
		n++;
	return n;
}

int strncmp(const char *a, const char *b, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (a[i] != b[i])
			return (uint8_t)a[i] - (uint8_t)b[i];
		if (!a[i])
			return 0;
	}
	return 0;
}

int strcmp(const char *a, const char *b)
{
	return strncmp(a, b, (size_t)-1);
}

const void *memmem_g(const void *hay, size_t hay_len, const void *needle, size_t len)
{
	const uint8_t *h = hay;

	if (len == 0 || hay_len < len)
		return NULL;
	for (size_t i = 0; i + len <= hay_len; i++)
		if (memcmp(h + i, needle, len) == 0)
			return h + i;
	return NULL;
}
