/* AML encoder: byte-level encodings of ACPI 6.4 §20.2 and resource
 * descriptors of §6.4. */
#include <stdlib.h>
#include <string.h>

#include "vmm/x86/aml.h"

/* AML opcodes (ACPI 6.4 §20.2.5, §20.2.3) */
#define OP_ZERO		  0x00
#define OP_ONE		  0x01
#define OP_NAME		  0x08
#define OP_BYTE		  0x0a
#define OP_WORD		  0x0b
#define OP_DWORD	  0x0c
#define OP_STRING	  0x0d
#define OP_QWORD	  0x0e
#define OP_SCOPE	  0x10
#define OP_BUFFER	  0x11
#define OP_PACKAGE	  0x12
#define OP_METHOD	  0x14
#define OP_EXT		  0x5b
#define OP_EXT_DEVICE	  0x82
#define DUAL_NAME_PREFIX  0x2e
#define MULTI_NAME_PREFIX 0x2f

static void fail(struct aml *a, const char *why)
{
	if (!a->error)
		a->error = why;
}

void aml_init(struct aml *a)
{
	memset(a, 0, sizeof(*a));
}

void aml_free(struct aml *a)
{
	free(a->buf);
	memset(a, 0, sizeof(*a));
}

static bool reserve(struct aml *a, size_t more)
{
	if (a->error)
		return false;
	if (more > SIZE_MAX / 2 - a->len)
		goto oom;
	if (a->len + more > a->cap) {
		size_t cap = a->cap ? a->cap : 256;
		while (cap < a->len + more)
			cap *= 2;
		uint8_t *p = realloc(a->buf, cap);
		if (!p)
			goto oom;
		a->buf = p;
		a->cap = cap;
	}
	return true;
oom:
	fail(a, "out of memory");
	return false;
}

void aml_bytes(struct aml *a, const void *p, size_t n)
{
	if (!n || !reserve(a, n))
		return;
	memcpy(a->buf + a->len, p, n);
	a->len += n;
}

void aml_byte(struct aml *a, uint8_t b)
{
	aml_bytes(a, &b, 1);
}

void aml_append(struct aml *a, const struct aml *b)
{
	if (b->error)
		fail(a, b->error);
	else
		aml_bytes(a, b->buf, b->len);
}

static void le(struct aml *a, uint64_t v, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		aml_byte(a, (uint8_t)(v >> (8 * i)));
}

unsigned aml_pkglen_size(size_t content)
{
	/* the encoded value includes the PkgLength bytes themselves */
	if (content + 1 <= 0x3f)
		return 1;
	if (content + 2 <= 0xfff)
		return 2;
	if (content + 3 <= 0xfffff)
		return 3;
	if (content + 4 <= 0xfffffff)
		return 4;
	return 0;
}

size_t aml_pkg_open(struct aml *a)
{
	return a->len;
}

void aml_pkg_close(struct aml *a, size_t mark)
{
	uint8_t enc[4];

	if (a->error)
		return;
	if (mark > a->len) {
		fail(a, "package mark past the end");
		return;
	}
	size_t content = a->len - mark;
	unsigned n = aml_pkglen_size(content);
	if (!n) {
		fail(a, "package longer than PkgLength can encode");
		return;
	}
	size_t total = content + n;
	if (n == 1) {
		enc[0] = (uint8_t)total;
	} else {
		/* bits 7-6: count of following bytes; bits 3-0: low nibble */
		enc[0] = (uint8_t)(((n - 1) << 6) | (total & 0x0f));
		for (unsigned i = 1; i < n; i++)
			enc[i] = (uint8_t)(total >> (4 + 8 * (i - 1)));
	}
	if (!reserve(a, n))
		return;
	memmove(a->buf + mark + n, a->buf + mark, content);
	memcpy(a->buf + mark, enc, n);
	a->len += n;
}

static bool lead_char(char c)
{
	return (c >= 'A' && c <= 'Z') || c == '_';
}

static bool name_char(char c)
{
	return lead_char(c) || (c >= '0' && c <= '9');
}

void aml_name(struct aml *a, const char *path)
{
	char segs[255][4];
	unsigned nseg = 0;
	const char *p = path;

	if (*p == '\\') {
		aml_byte(a, '\\');
		p++;
	} else {
		while (*p == '^') {
			aml_byte(a, '^');
			p++;
		}
	}
	while (*p) {
		unsigned n = 0;
		if (nseg == 255) {
			fail(a, "name path has too many segments");
			return;
		}
		memset(segs[nseg], '_', 4);
		if (!lead_char(*p)) {
			fail(a, "name segment does not start with A-Z or _");
			return;
		}
		while (*p && *p != '.') {
			if (n == 4 || !name_char(*p)) {
				fail(a, "bad name segment");
				return;
			}
			segs[nseg][n++] = *p++;
		}
		nseg++;
		if (*p == '.' && !*++p) {
			fail(a, "name path ends with '.'");
			return;
		}
	}
	if (nseg == 0) {
		aml_byte(a, 0x00); /* NullName */
		return;
	}
	if (nseg == 2)
		aml_byte(a, DUAL_NAME_PREFIX);
	else if (nseg > 2) {
		aml_byte(a, MULTI_NAME_PREFIX);
		aml_byte(a, (uint8_t)nseg);
	}
	aml_bytes(a, segs, 4 * (size_t)nseg);
}

void aml_int(struct aml *a, uint64_t v)
{
	if (v == 0) {
		aml_byte(a, OP_ZERO);
	} else if (v == 1) {
		aml_byte(a, OP_ONE);
	} else if (v <= 0xff) {
		aml_byte(a, OP_BYTE);
		le(a, v, 1);
	} else if (v <= 0xffff) {
		aml_byte(a, OP_WORD);
		le(a, v, 2);
	} else if (v <= 0xffffffff) {
		aml_byte(a, OP_DWORD);
		le(a, v, 4);
	} else {
		aml_byte(a, OP_QWORD);
		le(a, v, 8);
	}
}

void aml_string(struct aml *a, const char *s)
{
	for (const char *p = s; *p; p++) {
		/* AsciiCharList is 0x01-0x7f */
		if ((unsigned char)*p > 0x7f) {
			fail(a, "string is not ASCII");
			return;
		}
	}
	aml_byte(a, OP_STRING);
	aml_bytes(a, s, strlen(s) + 1);
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

void aml_eisaid(struct aml *a, const char *id)
{
	int h[4];

	if (strlen(id) != 7) {
		fail(a, "EISA ID is not 7 characters");
		return;
	}
	for (int i = 0; i < 3; i++) {
		if (id[i] < 'A' || id[i] > 'Z') {
			fail(a, "EISA ID vendor is not 3 upper-case letters");
			return;
		}
	}
	for (int i = 0; i < 4; i++) {
		h[i] = hexval(id[3 + i]);
		if (h[i] < 0) {
			fail(a, "EISA ID product is not 4 hex digits");
			return;
		}
	}
	/* three 5-bit letters ('A' = 1) then four nibbles, stored big-endian */
	uint16_t vendor =
		(uint16_t)(((id[0] - 0x40) << 10) | ((id[1] - 0x40) << 5) | (id[2] - 0x40));
	uint32_t v = (uint32_t)(vendor >> 8) | (uint32_t)(vendor & 0xff) << 8 |
		     (uint32_t)(h[0] << 4 | h[1]) << 16 | (uint32_t)(h[2] << 4 | h[3]) << 24;
	/* always a DWord, as ASL compilers emit it */
	aml_byte(a, OP_DWORD);
	le(a, v, 4);
}

void aml_name_decl(struct aml *a, const char *name)
{
	aml_byte(a, OP_NAME);
	aml_name(a, name);
}

void aml_buffer(struct aml *a, const struct aml *content)
{
	aml_byte(a, OP_BUFFER);
	size_t m = aml_pkg_open(a);
	aml_int(a, content->len);
	aml_append(a, content);
	aml_pkg_close(a, m);
}

size_t aml_scope_open(struct aml *a, const char *name)
{
	aml_byte(a, OP_SCOPE);
	size_t m = aml_pkg_open(a);
	aml_name(a, name);
	return m;
}

size_t aml_device_open(struct aml *a, const char *name)
{
	aml_byte(a, OP_EXT);
	aml_byte(a, OP_EXT_DEVICE);
	size_t m = aml_pkg_open(a);
	aml_name(a, name);
	return m;
}

size_t aml_method_open(struct aml *a, const char *name, unsigned nargs, bool serialized)
{
	if (nargs > 7)
		fail(a, "method with more than 7 arguments");
	aml_byte(a, OP_METHOD);
	size_t m = aml_pkg_open(a);
	aml_name(a, name);
	/* MethodFlags: bits 0-2 ArgCount, bit 3 SerializeFlag, sync level 0 */
	aml_byte(a, (uint8_t)((nargs & 7) | (serialized ? 8 : 0)));
	return m;
}

size_t aml_package_open(struct aml *a, unsigned nelems)
{
	if (nelems > 255)
		fail(a, "package with more than 255 elements");
	aml_byte(a, OP_PACKAGE);
	size_t m = aml_pkg_open(a);
	aml_byte(a, (uint8_t)nelems);
	return m;
}

/* --- resource descriptors ------------------------------------------------ */

/* I/O port descriptor, small item type 0x08 (§6.4.2.5): Decode16 */
void aml_res_io(struct aml *a, uint16_t min, uint16_t max, uint8_t align, uint8_t len)
{
	aml_byte(a, 0x47);
	aml_byte(a, 0x01);
	le(a, min, 2);
	le(a, max, 2);
	aml_byte(a, align);
	aml_byte(a, len);
}

/* IRQ descriptor without the information byte (§6.4.2.1): edge, active high */
void aml_res_irq(struct aml *a, uint16_t mask)
{
	aml_byte(a, 0x22);
	le(a, mask, 2);
}

/* General flags of address space descriptors (§6.4.3.5, table 6.44):
 * bit 3 _MAF, bit 2 _MIF, bit 1 _DEC, bit 0 consumer. A root bridge
 * produces its windows: fixed min and max, positive decode. */
#define ADDR_PRODUCER_FIXED 0x0c

static void word_addr(struct aml *a, uint8_t type, uint8_t tflags, uint16_t min, uint16_t max)
{
	aml_byte(a, 0x88); /* Word Address Space Descriptor */
	le(a, 13, 2);	   /* length of what follows */
	aml_byte(a, type);
	aml_byte(a, ADDR_PRODUCER_FIXED);
	aml_byte(a, tflags);
	le(a, 0, 2); /* granularity */
	le(a, min, 2);
	le(a, max, 2);
	le(a, 0, 2); /* translation offset */
	le(a, (uint16_t)(max - min + 1), 2);
}

void aml_res_word_bus(struct aml *a, uint16_t min, uint16_t max)
{
	word_addr(a, 2, 0, min, max);
}

void aml_res_word_io(struct aml *a, uint16_t min, uint16_t max)
{
	/* type-specific flags: _RNG = 3, ISA and non-ISA ranges (EntireRange) */
	word_addr(a, 1, 0x03, min, max);
}

void aml_res_dword_mem(struct aml *a, uint32_t min, uint32_t max, bool cacheable)
{
	aml_byte(a, 0x87); /* DWord Address Space Descriptor (§6.4.3.5.2) */
	le(a, 23, 2);
	aml_byte(a, 0); /* memory range */
	aml_byte(a, ADDR_PRODUCER_FIXED);
	/* bit 0 read-write; bits 2-1 _MEM: 0 non-cacheable, 1 cacheable */
	aml_byte(a, cacheable ? 0x03 : 0x01);
	le(a, 0, 4);
	le(a, min, 4);
	le(a, max, 4);
	le(a, 0, 4);
	le(a, (uint32_t)(max - min + 1), 4);
}

void aml_res_end(struct aml *a)
{
	aml_byte(a, 0x79);
	aml_byte(a, 0x00);
}
