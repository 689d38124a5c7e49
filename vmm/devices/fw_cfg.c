/*
 * QEMU's fw_cfg interface on x86 ports (QEMU docs/specs/fw_cfg.rst): a 16-bit
 * selector at 0x510, an 8-bit data port at 0x511 whose reads walk the
 * selected item (0 past its end), and the DMA interface at 0x514: a 64-bit
 * big-endian address register, written high half then low half; the low
 * write starts the transfer described by the FWCfgDmaAccess structure
 * {be32 control, be32 length, be64 address} at that guest address. Reading
 * the address register returns the signature "QEMU CFG".
 *
 * Guest memory is hostile: the access structure and every byte transferred
 * go through vm_mem_read/vm_mem_write, which refuse anything outside guest
 * RAM; a refused transfer completes with the error bit set.
 *
 * Items: signature, ID (traditional + DMA), RAM size, nographic, CPU counts,
 * the kernel command line, the file directory, and files: the built-in
 * "opt/vessel/cmdline" plus those the VMM adds with vm_fw_cfg_add_file().
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/devices/fw_cfg.h"
#include "vmm/devices/platform.h"
#include "vmm/layout.h"

#define FW_CFG_STATE_VERSION 1
#define FW_CFG_PORTS	     12 /* 0x510-0x51b: selector, data, DMA address */
#define OFF_SELECTOR	     0
#define OFF_DATA	     1
#define OFF_DMA		     4
#define DMA_SIGNATURE	     0x51454d5520434647ull /* "QEMU CFG" */
#define MAX_FILE_DATA	     (16u << 20)

#define DMA_CTL_ERROR  0x01
#define DMA_CTL_READ   0x02
#define DMA_CTL_SKIP   0x04
#define DMA_CTL_SELECT 0x08
#define DMA_CTL_WRITE  0x10

struct fw_item {
	uint16_t key;
	uint8_t *data;
	uint32_t len;
	char name[FW_CFG_MAX_FILE_NAME]; /* files only */
	bool builtin;			 /* rebuilt at create() */
};

#define MAX_ITEMS (16 + FW_CFG_MAX_FILES)

static struct fw_cfg {
	pthread_mutex_t lock;
	struct vm_ctx *ctx;
	bool created;
	struct fw_item items[MAX_ITEMS];
	unsigned nitems;
	uint16_t next_file_key;
	/* guest-visible registers */
	uint16_t selector;
	uint32_t offset;
	uint32_t dma_high; /* high half of the DMA address, written first */
} f = {.lock = PTHREAD_MUTEX_INITIALIZER, .next_file_key = FW_CFG_FILE_FIRST};

static void be16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void be32(uint8_t *p, uint32_t v)
{
	be16(p, (uint16_t)(v >> 16));
	be16(p + 2, (uint16_t)v);
}

static uint32_t get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static struct fw_item *find(uint16_t key)
{
	for (unsigned i = 0; i < f.nitems; i++)
		if (f.items[i].key == key)
			return &f.items[i];
	return NULL;
}

static void drop(unsigned i)
{
	free(f.items[i].data);
	f.items[i] = f.items[--f.nitems];
}

/* Replaces or adds item key with a copy of data; -1 (ENOMEM/ENOSPC). */
static int set_item(uint16_t key, const void *data, uint32_t len, const char *name, bool builtin)
{
	struct fw_item *it = find(key);
	uint8_t *copy = malloc(len ? len : 1);

	if (!copy) {
		errno = ENOMEM;
		return -1;
	}
	if (len)
		memcpy(copy, data, len);
	if (!it) {
		if (f.nitems == MAX_ITEMS) {
			free(copy);
			errno = ENOSPC;
			return -1;
		}
		it = &f.items[f.nitems++];
		memset(it, 0, sizeof(*it));
	}
	free(it->data);
	it->key = key;
	it->data = copy;
	it->len = len;
	it->builtin = builtin;
	snprintf(it->name, sizeof(it->name), "%s", name ? name : "");
	return 0;
}

static int set_le(uint16_t key, uint64_t v, unsigned n)
{
	uint8_t b[8];

	for (unsigned i = 0; i < n; i++)
		b[i] = (uint8_t)(v >> (8 * i));
	return set_item(key, b, n, NULL, true);
}

/* FW_CFG_FILE_DIR: be32 count, then {be32 size, be16 select, be16 reserved,
 * char name[56]} per file, sorted by name as QEMU does. */
static int rebuild_dir(void)
{
	const struct fw_item *files[FW_CFG_MAX_FILES];
	unsigned n = 0;

	for (unsigned i = 0; i < f.nitems; i++)
		if (f.items[i].key >= FW_CFG_FILE_FIRST && n < FW_CFG_MAX_FILES)
			files[n++] = &f.items[i];
	for (unsigned i = 1; i < n; i++)
		for (unsigned j = i; j > 0 && strcmp(files[j - 1]->name, files[j]->name) > 0; j--) {
			const struct fw_item *t = files[j];
			files[j] = files[j - 1];
			files[j - 1] = t;
		}
	uint32_t len = 4 + 64 * n;
	uint8_t *dir = calloc(1, len);
	if (!dir) {
		errno = ENOMEM;
		return -1;
	}
	be32(dir, n);
	for (unsigned i = 0; i < n; i++) {
		uint8_t *e = dir + 4 + 64 * i;
		be32(e, files[i]->len);
		be16(e + 4, files[i]->key);
		memcpy(e + 8, files[i]->name, strlen(files[i]->name));
	}
	int ret = set_item(FW_CFG_FILE_DIR, dir, len, NULL, true);
	free(dir);
	return ret;
}

static bool valid_name(const char *name)
{
	size_t n = name ? strlen(name) : 0;

	return n > 0 && n < FW_CFG_MAX_FILE_NAME;
}

static int add_file_locked(const char *name, const void *data, size_t len, bool builtin)
{
	if (!valid_name(name) || len > MAX_FILE_DATA) {
		errno = EINVAL;
		return -1;
	}
	for (unsigned i = 0; i < f.nitems; i++) {
		if (f.items[i].key >= FW_CFG_FILE_FIRST && !strcmp(f.items[i].name, name)) {
			errno = EEXIST;
			return -1;
		}
	}
	unsigned nfiles = 0;
	for (unsigned i = 0; i < f.nitems; i++)
		nfiles += f.items[i].key >= FW_CFG_FILE_FIRST;
	if (nfiles == FW_CFG_MAX_FILES) {
		errno = ENOSPC;
		return -1;
	}
	/* the next free key; keys of dropped built-ins are reused */
	uint16_t key = FW_CFG_FILE_FIRST;
	while (find(key))
		key++;
	if (set_item(key, data, (uint32_t)len, name, builtin) < 0)
		return -1;
	if (rebuild_dir() < 0) {
		drop((unsigned)(find(key) - f.items));
		return -1;
	}
	return 0;
}

int vm_fw_cfg_add_file(const char *name, const void *data, size_t len)
{
	pthread_mutex_lock(&f.lock);
	int ret = add_file_locked(name, data, len, false);
	pthread_mutex_unlock(&f.lock);
	return ret;
}

/* --- guest access --------------------------------------------------------- */

static void select_item(uint16_t key)
{
	f.selector = key;
	f.offset = 0;
}

static uint8_t read_byte(void)
{
	const struct fw_item *it = find(f.selector);

	if (!it || f.offset >= it->len)
		return 0;
	return it->data[f.offset++];
}

/* Copies or skips len bytes of the selected item; false when guest memory
 * refused a write. */
static bool dma_transfer(uint64_t addr, uint32_t len, bool copy)
{
	static const uint8_t zero[4096];
	const struct fw_item *it = find(f.selector);

	while (len) {
		uint32_t avail = it && f.offset < it->len ? it->len - f.offset : 0;
		uint32_t n = avail ? (avail < len ? avail : len) : (len < 4096 ? len : 4096);
		if (copy) {
			/* past the end of the item the guest gets zeros */
			const void *src = avail ? it->data + f.offset : zero;
			if (vm_mem_write(f.ctx->mem, addr, src, n) < 0)
				return false;
		}
		if (avail)
			f.offset += n;
		addr += n;
		len -= n;
	}
	return true;
}

static void dma_run(uint64_t access)
{
	uint8_t d[16];
	uint32_t ctl, len, result = 0;
	uint64_t addr;

	if (!f.ctx || vm_mem_read(f.ctx->mem, access, d, sizeof(d)) < 0)
		return; /* no structure to report the error in */
	ctl = get_be32(d);
	len = get_be32(d + 4);
	addr = (uint64_t)get_be32(d + 8) << 32 | get_be32(d + 12);

	if (ctl & DMA_CTL_SELECT)
		select_item((uint16_t)(ctl >> 16));
	if (ctl & DMA_CTL_WRITE) {
		result = DMA_CTL_ERROR; /* no writable items */
	} else if (ctl & DMA_CTL_READ) {
		if (!dma_transfer(addr, len, true))
			result = DMA_CTL_ERROR;
	} else if (ctl & DMA_CTL_SKIP) {
		dma_transfer(addr, len, false);
	}
	/* completion: the control field reads 0, or the error bit */
	uint8_t done[4];
	be32(done, result);
	vm_mem_write(f.ctx->mem, access, done, sizeof(done));
}

static void fw_cfg_io(void *opaque, uint64_t off, uint8_t *data, uint32_t len, bool is_write)
{
	pthread_mutex_lock(&f.lock);
	if (off == OFF_SELECTOR && is_write) {
		select_item(len >= 2 ? (uint16_t)(data[0] | data[1] << 8) : data[0]);
	} else if (off == OFF_DATA && !is_write) {
		/* a wider read takes consecutive bytes of the item */
		for (uint32_t i = 0; i < len; i++)
			data[i] = read_byte();
	} else if (off >= OFF_DMA && off + len <= OFF_DMA + 8) {
		unsigned at = (unsigned)(off - OFF_DMA);
		if (!is_write) {
			for (uint32_t i = 0; i < len; i++)
				data[i] = (uint8_t)(DMA_SIGNATURE >> (8 * (7 - (at + i))));
		} else if (at == 0 && len == 4) {
			f.dma_high = get_be32(data);
		} else if (at == 4 && len == 4) {
			uint64_t a = (uint64_t)f.dma_high << 32 | get_be32(data);
			f.dma_high = 0;
			dma_run(a);
		}
	} else if (!is_write) {
		memset(data, 0xff, len);
	}
	pthread_mutex_unlock(&f.lock);
}

/* --- life cycle ----------------------------------------------------------- */

static int build_items(const struct vm_config *cfg)
{
	const char *cmdline = cfg->cmdline ? cfg->cmdline : "";
	size_t clen = strlen(cmdline);

	if (clen + 1 > VM_CMDLINE_MAX) {
		errno = E2BIG;
		return -1;
	}
	if (set_item(FW_CFG_SIGNATURE, "QEMU", 4, NULL, true) < 0 ||
	    set_le(FW_CFG_ID, 0x3, 4) < 0 /* traditional interface and DMA */ ||
	    set_le(FW_CFG_RAM_SIZE, cfg->mem_size, 8) < 0 || set_le(FW_CFG_NOGRAPHIC, 1, 2) < 0 ||
	    set_le(FW_CFG_NB_CPUS, cfg->cpus, 2) < 0 || set_le(FW_CFG_MAX_CPUS, cfg->cpus, 2) < 0 ||
	    set_le(FW_CFG_CMDLINE_SIZE, cfg->cmdline ? clen + 1 : 0, 4) < 0 ||
	    set_item(FW_CFG_CMDLINE_DATA, cmdline, cfg->cmdline ? (uint32_t)clen + 1 : 0, NULL,
		     true) < 0)
		return -1;
	return add_file_locked("opt/vessel/cmdline", cmdline, clen, true);
}

static void unregister(void)
{
	if (f.created && f.ctx)
		vm_bus_unregister(f.ctx->pio, VM_PORT_FW_CFG, NULL);
	f.created = false;
	f.ctx = NULL;
}

static int fw_cfg_create(struct vm_ctx *ctx, struct vs_err *e)
{
	pthread_mutex_lock(&f.lock);
	unregister();
	/* built-in items follow this config; files the VMM added stay */
	for (unsigned i = f.nitems; i-- > 0;)
		if (f.items[i].builtin)
			drop(i);
	f.selector = 0;
	f.offset = 0;
	f.dma_high = 0;
	int ret = build_items(ctx->cfg);
	if (ret < 0)
		vs_fail_errno(e, "fw_cfg: building items");
	pthread_mutex_unlock(&f.lock);
	if (ret < 0)
		return -1;
	if (vm_bus_register(ctx->pio, VM_PORT_FW_CFG, FW_CFG_PORTS, fw_cfg_io, NULL, "fw_cfg", e) <
	    0)
		return -1;
	f.ctx = ctx;
	f.created = true;
	return 0;
}

static void fw_cfg_destroy(void)
{
	pthread_mutex_lock(&f.lock);
	unregister();
	while (f.nitems)
		drop(f.nitems - 1);
	pthread_mutex_unlock(&f.lock);
}

static unsigned fw_cfg_count(void)
{
	return f.created ? 1 : 0;
}

static int fw_cfg_save(unsigned idx, struct vm_state_writer *w)
{
	pthread_mutex_lock(&f.lock);
	vm_sw_u8(w, FW_CFG_STATE_VERSION);
	vm_sw_u16(w, f.selector);
	vm_sw_u32(w, f.offset);
	vm_sw_u32(w, f.dma_high);
	pthread_mutex_unlock(&f.lock);
	return w->failed ? -1 : 0;
}

/* Item contents are not saved: they follow the configuration and the files
 * the VMM adds (a clone gets its own identity after restore). A read offset
 * past a now-shorter item just reads zeros. */
static int fw_cfg_restore(unsigned idx, struct vm_state_reader *r, struct vs_err *e)
{
	uint8_t ver;
	uint16_t sel;
	uint32_t off, high;

	if (vm_sr_u8(r, &ver, e) < 0)
		return -1;
	if (ver != FW_CFG_STATE_VERSION)
		return vs_fail(e, EINVAL, "fw_cfg state: version %u, expected %u", ver,
			       FW_CFG_STATE_VERSION);
	if (vm_sr_u16(r, &sel, e) < 0 || vm_sr_u32(r, &off, e) < 0 || vm_sr_u32(r, &high, e) < 0 ||
	    vm_sr_end(r, e) < 0)
		return -1;
	pthread_mutex_lock(&f.lock);
	f.selector = sel;
	f.offset = off;
	f.dma_high = high;
	pthread_mutex_unlock(&f.lock);
	return 0;
}

const struct vm_device_ops vm_fw_cfg_device = {
	.name = "fw_cfg",
	.order = 0,
	.create = fw_cfg_create,
	.count = fw_cfg_count,
	.save = fw_cfg_save,
	.restore = fw_cfg_restore,
	.destroy = fw_cfg_destroy,
};
VM_DEVICE(vm_fw_cfg_device);
