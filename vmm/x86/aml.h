/* A small AML (ACPI Machine Language) encoder: just what the DSDT of a Vessel
 * machine needs. Encodings follow ACPI 6.4 §20.2 (AML grammar) and §6.4
 * (resource descriptors). Errors (out of memory, a bad name) are sticky: the
 * builder records the first one and the caller checks once at the end. */
#ifndef VMM_X86_AML_H
#define VMM_X86_AML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct aml {
	uint8_t *buf;
	size_t len, cap;
	const char *error; /* first failure, static string; NULL: none */
};

void aml_init(struct aml *a);
void aml_free(struct aml *a);

void aml_byte(struct aml *a, uint8_t b);
void aml_bytes(struct aml *a, const void *p, size_t n);
void aml_append(struct aml *a, const struct aml *b);

/* PkgLength (§20.2.4): the encoded length counts itself and what follows it
 * up to the end of the package. Usage: mark = aml_pkg_open(a); ...content...;
 * aml_pkg_close(a, mark) inserts the PkgLength at mark. */
size_t aml_pkg_open(struct aml *a);
void aml_pkg_close(struct aml *a, size_t mark);
/* The bytes PkgLength needs for a package of `content` bytes (1..4, 0: too big). */
unsigned aml_pkglen_size(size_t content);

/* NameString (§20.2.2): "\_SB.PCI0", "^FOO", "_S5"; segments shorter than four
 * characters are padded with '_'. */
void aml_name(struct aml *a, const char *path);

/* Data objects (§20.2.3): the shortest integer encoding, strings. */
void aml_int(struct aml *a, uint64_t v);
void aml_string(struct aml *a, const char *s);
/* EISA ID ("PNP0A08") as the compressed 32-bit integer ASL's EisaId() makes. */
void aml_eisaid(struct aml *a, const char *id);

/* Name(NAME, <value appended by the caller>) */
void aml_name_decl(struct aml *a, const char *name);
/* Buffer(){bytes} from a finished builder (resource templates). */
void aml_buffer(struct aml *a, const struct aml *content);

/* Open an object with a body; close it with aml_pkg_close(a, mark). */
size_t aml_scope_open(struct aml *a, const char *name);
size_t aml_device_open(struct aml *a, const char *name);
size_t aml_method_open(struct aml *a, const char *name, unsigned nargs, bool serialized);
size_t aml_package_open(struct aml *a, unsigned nelems);

/* Statements used in method bodies. */
#define AML_RETURN 0xa4
#define AML_ARG0   0x68 /* Arg0..Arg6 are 0x68..0x6e */

/* Resource template descriptors (ACPI 6.4 §6.4.2, §6.4.3). */
void aml_res_io(struct aml *a, uint16_t min, uint16_t max, uint8_t align, uint8_t len);
void aml_res_irq(struct aml *a, uint16_t mask);
void aml_res_word_bus(struct aml *a, uint16_t min, uint16_t max);
void aml_res_word_io(struct aml *a, uint16_t min, uint16_t max);
void aml_res_dword_mem(struct aml *a, uint32_t min, uint32_t max, bool cacheable);
/* End tag; a checksum of 0 means "treat as valid" (§6.4.2.9). */
void aml_res_end(struct aml *a);

#endif
