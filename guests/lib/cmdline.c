/* "key=value" words on the command line: the tests pass the values a guest
 * should find (expected CPU count, memory size, MAC...) this way. */
#include "guest.h"

bool cmdline_get(const char *key, char *buf, size_t size)
{
	size_t klen = strlen(key);
	const char *p = boot.cmdline;

	while (*p) {
		while (*p == ' ')
			p++;
		const char *w = p;
		while (*p && *p != ' ')
			p++;
		if ((size_t)(p - w) > klen && strncmp(w, key, klen) == 0 && w[klen] == '=') {
			size_t n = (size_t)(p - w) - klen - 1;
			if (n >= size)
				n = size - 1;
			memcpy(buf, w + klen + 1, n);
			buf[n] = '\0';
			return true;
		}
	}
	return false;
}

bool parse_u64(const char *s, uint64_t *v)
{
	uint64_t r = 0;
	unsigned base = 10;

	if (s[0] == '0' && s[1] == 'x') {
		base = 16;
		s += 2;
	}
	if (!*s)
		return false;
	for (; *s; s++) {
		unsigned d;
		if (*s >= '0' && *s <= '9')
			d = (unsigned)(*s - '0');
		else if (base == 16 && *s >= 'a' && *s <= 'f')
			d = (unsigned)(*s - 'a' + 10);
		else
			break;
		r = r * base + d;
	}
	switch (*s) {
	case '\0': break;
	case 'K':
		r <<= 10;
		s++;
		break;
	case 'M':
		r <<= 20;
		s++;
		break;
	case 'G':
		r <<= 30;
		s++;
		break;
	default: return false;
	}
	if (*s)
		return false;
	*v = r;
	return true;
}

bool cmdline_get_u64(const char *key, uint64_t *v)
{
	char buf[32];

	return cmdline_get(key, buf, sizeof(buf)) && parse_u64(buf, v);
}
