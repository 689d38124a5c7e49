#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vessel/cleanup.h"
#include "vessel/le.h"
#include "vessel/crc32c.h"
#include "vessel/fs.h"
#include "vmm/snapshot_file.h"

/*
 * On disk, little-endian:
 *   0  char[8]  magic "VESSELSN"
 *   8  u32      format version
 *  12  u32      number of sections
 *  16  char[32] VMM version that wrote it (NUL padded)
 *  48  u64      total file length
 *  56  u32      reserved, 0
 *  60  u32      CRC-32C of bytes 0..59 followed by the section table
 *  64  section table: per section 48 bytes
 *        char[24] name (NUL padded), u64 offset, u64 length, u32 CRC-32C, u32 reserved
 *  then the section data, each starting 8-byte aligned.
 */
#define HDR_LEN 64u
#define ENT_LEN 48u

void vm_snap_writer_init(struct vm_snap_writer *w)
{
	memset(w, 0, sizeof(*w));
}

void vm_snap_writer_free(struct vm_snap_writer *w)
{
	for (uint32_t i = 0; i < w->nr; i++)
		free((void *)w->sec[i].data);
	free(w->sec);
	memset(w, 0, sizeof(*w));
}

int vm_snap_writer_add(struct vm_snap_writer *w, const char *name, const void *data, uint64_t len,
		       struct vs_err *e)
{
	uint8_t *copy;

	if (!*name || strlen(name) >= VM_SNAP_NAME_MAX)
		return vs_fail(e, EINVAL, "snapshot section name \"%s\": empty or too long", name);
	for (uint32_t i = 0; i < w->nr; i++)
		if (!strcmp(w->sec[i].name, name))
			return vs_fail(e, EEXIST, "snapshot section \"%s\" added twice", name);
	if (w->nr == VM_SNAP_MAX_SECTIONS)
		return vs_fail(e, E2BIG, "snapshot: more than %u sections", VM_SNAP_MAX_SECTIONS);
	if (w->nr == w->cap) {
		uint32_t cap = w->cap ? w->cap * 2 : 16;
		struct vm_snap_section *s = realloc(w->sec, cap * sizeof(*s));

		if (!s)
			return vs_fail(e, ENOMEM, "snapshot section \"%s\": out of memory", name);
		w->sec = s;
		w->cap = cap;
	}
	copy = malloc(len ? len : 1);
	if (!copy)
		return vs_fail(e, ENOMEM, "snapshot section \"%s\": out of memory", name);
	if (len)
		memcpy(copy, data, len);
	memset(w->sec[w->nr].name, 0, VM_SNAP_NAME_MAX);
	strcpy(w->sec[w->nr].name, name);
	w->sec[w->nr].data = copy;
	w->sec[w->nr].len = len;
	w->nr++;
	return 0;
}

static uint64_t align8(uint64_t v)
{
	return (v + 7) & ~7ull;
}

int vm_snap_writer_write(struct vm_snap_writer *w, const char *path, const char *vmm_version,
			 struct vs_err *e)
{
	uint64_t table_end = HDR_LEN + (uint64_t)w->nr * ENT_LEN, total = align8(table_end);
	autofree uint8_t *buf = NULL;
	uint64_t off;
	uint32_t crc;

	for (uint32_t i = 0; i < w->nr; i++)
		total = align8(total + w->sec[i].len);
	buf = calloc(1, total);
	if (!buf)
		return vs_fail(e, ENOMEM, "snapshot %s: out of memory", path);

	memcpy(buf, VM_SNAP_MAGIC, 8);
	vs_le_put32(buf + 8, VM_SNAP_FORMAT_VERSION);
	vs_le_put32(buf + 12, w->nr);
	strncpy((char *)buf + 16, vmm_version, 31);
	vs_le_put64(buf + 48, total);
	off = align8(table_end);
	for (uint32_t i = 0; i < w->nr; i++) {
		uint8_t *ent = buf + HDR_LEN + (uint64_t)i * ENT_LEN;

		memcpy(ent, w->sec[i].name, VM_SNAP_NAME_MAX);
		vs_le_put64(ent + 24, off);
		vs_le_put64(ent + 32, w->sec[i].len);
		vs_le_put32(ent + 40, vs_crc32c(0, w->sec[i].data, w->sec[i].len));
		if (w->sec[i].len)
			memcpy(buf + off, w->sec[i].data, w->sec[i].len);
		off = align8(off + w->sec[i].len);
	}
	crc = vs_crc32c(0, buf, 60);
	crc = vs_crc32c(crc, buf + HDR_LEN, table_end - HDR_LEN);
	vs_le_put32(buf + 60, crc);
	if (vs_write_file_atomic(path, buf, total, 0600, e) < 0)
		return vs_err_prefix(e, "snapshot");
	return 0;
}

int vm_snap_parse(const char *what, uint8_t *buf, uint64_t len, struct vm_snap *out,
		  struct vs_err *e)
{
	uint32_t nr, crc;
	uint64_t table_end, prev_end;
	struct vm_snap_section *sec;

	memset(out, 0, sizeof(*out));
	if (len < HDR_LEN)
		return vs_fail(e, EINVAL, "%s: truncated (%llu bytes): not a Vessel snapshot", what,
			       (unsigned long long)len);
	if (memcmp(buf, VM_SNAP_MAGIC, 8))
		return vs_fail(e, EINVAL, "%s: not a Vessel snapshot (bad magic)", what);
	if (vs_le_get32(buf + 8) != VM_SNAP_FORMAT_VERSION)
		return vs_fail(e, EINVAL,
			       "%s: snapshot format version %u, this vessel-vmm reads version %u",
			       what, vs_le_get32(buf + 8), VM_SNAP_FORMAT_VERSION);
	nr = vs_le_get32(buf + 12);
	if (nr > VM_SNAP_MAX_SECTIONS)
		return vs_fail(e, EINVAL, "%s: %u sections, at most %u allowed", what, nr,
			       VM_SNAP_MAX_SECTIONS);
	if (vs_le_get64(buf + 48) != len)
		return vs_fail(e, EINVAL,
			       "%s: file is %llu bytes, header says %llu: truncated or "
			       "extended",
			       what, (unsigned long long)len,
			       (unsigned long long)vs_le_get64(buf + 48));
	table_end = HDR_LEN + (uint64_t)nr * ENT_LEN;
	if (table_end > len)
		return vs_fail(e, EINVAL, "%s: section table runs past the end of the file", what);
	crc = vs_crc32c(0, buf, 60);
	crc = vs_crc32c(crc, buf + HDR_LEN, table_end - HDR_LEN);
	if (crc != vs_le_get32(buf + 60))
		return vs_fail(e, EINVAL, "%s: header checksum mismatch: file is corrupt", what);

	sec = calloc(nr ? nr : 1, sizeof(*sec));
	if (!sec)
		return vs_fail(e, ENOMEM, "%s: out of memory", what);
	prev_end = table_end;
	for (uint32_t i = 0; i < nr; i++) {
		const uint8_t *ent = buf + HDR_LEN + (uint64_t)i * ENT_LEN;
		uint64_t off = vs_le_get64(ent + 24), slen = vs_le_get64(ent + 32);

		if (memchr(ent, '\0', VM_SNAP_NAME_MAX) == NULL || ent[0] == '\0') {
			free(sec);
			return vs_fail(e, EINVAL, "%s: section %u has no valid name", what, i);
		}
		memcpy(sec[i].name, ent, VM_SNAP_NAME_MAX);
		/* sections are in file order and must not overlap each other or the table */
		if (off < prev_end || off > len || slen > len - off) {
			vs_fail(e, EINVAL, "%s: section \"%s\" lies outside the file", what,
				sec[i].name);
			free(sec);
			return -1;
		}
		for (uint32_t j = 0; j < i; j++) {
			if (!strcmp(sec[j].name, sec[i].name)) {
				vs_fail(e, EINVAL, "%s: section \"%s\" appears twice", what,
					sec[i].name);
				free(sec);
				return -1;
			}
		}
		if (vs_crc32c(0, buf + off, slen) != vs_le_get32(ent + 40)) {
			vs_fail(e, EINVAL, "%s: section \"%s\": checksum mismatch: file is corrupt",
				what, sec[i].name);
			free(sec);
			return -1;
		}
		sec[i].data = buf + off;
		sec[i].len = slen;
		prev_end = off + slen;
	}
	out->buf = buf;
	out->len = len;
	out->format_version = VM_SNAP_FORMAT_VERSION;
	memcpy(out->vmm_version, buf + 16, 32);
	out->vmm_version[32] = '\0';
	out->sec = sec;
	out->nr = nr;
	return 0;
}

int vm_snap_open(const char *path, struct vm_snap *out, struct vs_err *e)
{
	char *buf = NULL;
	size_t len;

	if (vs_read_file(path, &buf, &len, e) < 0)
		return vs_err_prefix(e, "snapshot");
	if (vm_snap_parse(path, (uint8_t *)buf, len, out, e) < 0) {
		free(buf);
		return -1;
	}
	return 0;
}

const struct vm_snap_section *vm_snap_find(const struct vm_snap *s, const char *name)
{
	for (uint32_t i = 0; i < s->nr; i++)
		if (!strcmp(s->sec[i].name, name))
			return &s->sec[i];
	return NULL;
}

int vm_snap_need(const struct vm_snap *s, const char *name, const struct vm_snap_section **out,
		 struct vs_err *e)
{
	*out = vm_snap_find(s, name);
	if (!*out)
		return vs_fail(e, ENOENT, "snapshot: section \"%s\" missing", name);
	return 0;
}

void vm_snap_close(struct vm_snap *s)
{
	free(s->buf);
	free(s->sec);
	memset(s, 0, sizeof(*s));
}
