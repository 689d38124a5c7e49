/*
 * A small unit-test harness. Each TEST() registers itself; the test binary
 * runs them all and prints one line per test, which tests/run.sh counts:
 *   ok NAME | not ok NAME: why | skip NAME: why
 */
#ifndef VESSEL_TEST_H
#define VESSEL_TEST_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct vt_case {
	const char *name;
	void (*fn)(void);
	struct vt_case *next;
};

extern struct vt_case *vt_cases;
extern int vt_failed_now; /* set by CHECK failures in the running test */
extern char vt_skip_reason[256];

void vt_register(struct vt_case *c);

#define TEST(name)                                                                                 \
	static void name(void);                                                                    \
	static struct vt_case vt_case_##name = {#name, name, NULL};                                \
	__attribute__((constructor)) static void vt_reg_##name(void)                               \
	{                                                                                          \
		vt_register(&vt_case_##name);                                                      \
	}                                                                                          \
	static void name(void)

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "  %s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #cond); \
			vt_failed_now = 1;                                                         \
		}                                                                                  \
	} while (0)

/* Stops the test on failure (use when later lines would crash). */
#define REQUIRE(cond)                                                                              \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "  %s:%d: REQUIRE(%s) failed\n", __FILE__, __LINE__,       \
				#cond);                                                            \
			vt_failed_now = 1;                                                         \
			return;                                                                    \
		}                                                                                  \
	} while (0)

#define CHECK_EQ(a, b)                                                                             \
	do {                                                                                       \
		long long _a = (long long)(a), _b = (long long)(b);                                \
		if (_a != _b) {                                                                    \
			fprintf(stderr, "  %s:%d: %s == %lld, expected %s == %lld\n", __FILE__,    \
				__LINE__, #a, _a, #b, _b);                                         \
			vt_failed_now = 1;                                                         \
		}                                                                                  \
	} while (0)

#define CHECK_STR(a, b)                                                                            \
	do {                                                                                       \
		const char *_a = (a), *_b = (b);                                                   \
		if (!_a || !_b || strcmp(_a, _b)) {                                                \
			fprintf(stderr, "  %s:%d: %s == \"%s\", expected \"%s\"\n", __FILE__,      \
				__LINE__, #a, _a ? _a : "(null)", _b ? _b : "(null)");             \
			vt_failed_now = 1;                                                         \
		}                                                                                  \
	} while (0)

/* Substring check, for error messages. */
#define CHECK_CONTAINS(hay, needle)                                                                \
	do {                                                                                       \
		const char *_h = (hay), *_n = (needle);                                            \
		if (!_h || !strstr(_h, _n)) {                                                      \
			fprintf(stderr, "  %s:%d: \"%s\" does not contain \"%s\"\n", __FILE__,     \
				__LINE__, _h ? _h : "(null)", _n);                                 \
			vt_failed_now = 1;                                                         \
		}                                                                                  \
	} while (0)

#define SKIP(...)                                                                                  \
	do {                                                                                       \
		snprintf(vt_skip_reason, sizeof(vt_skip_reason), __VA_ARGS__);                     \
		return;                                                                            \
	} while (0)

#endif
