/* Whole-VM snapshot and restore: the machine section and disk identities,
 * the verified restore (everything checked before KVM is opened), and the
 * thin KVM layer that saves and loads a running VM (docs/snapshots.md). */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vessel/cleanup.h"
#include "vessel/crc32c.h"
#include "vessel/fs.h"
#include "vmm/layout.h"
#include "vmm/migrate.h"
#include "vmm/snapshot.h"
#include "vmm/vm.h"

/* --- machine section ----------------------------------------------------------- */

static void put_str(struct vm_state_writer *w, const char *s)
{
	size_t n = strlen(s);

	vm_sw_u16(w, (uint16_t)n);
	vm_sw_bytes(w, s, n);
}

static int get_str(struct vm_state_reader *r, char *out, size_t cap, const char *field,
		   struct vs_err *e)
{
	uint16_t n;

	if (vm_sr_u16(r, &n, e) < 0)
		return -1;
	if (n == 0 || n >= cap)
		return vs_fail(e, EINVAL, "%s: %s of %u bytes (1..%zu)", r->what, field, n,
			       cap - 1);
	if (vm_sr_bytes(r, out, n, e) < 0)
		return -1;
	out[n] = '\0';
	if (strlen(out) != n)
		return vs_fail(e, EINVAL, "%s: %s contains a NUL byte", r->what, field);
	return 0;
}

void vm_machine_encode(const struct vm_machine_desc *m, struct vm_state_writer *w)
{
	vm_sw_u32(w, VM_MACHINE_VERSION);
	vm_sw_u32(w, m->cpus);
	vm_sw_u32(w, m->layout.nr);
	for (unsigned i = 0; i < m->layout.nr; i++) {
		vm_sw_u64(w, m->layout.r[i].gpa);
		vm_sw_u64(w, m->layout.r[i].size);
	}
	vm_sw_u32(w, m->nr_layers);
	for (unsigned i = 0; i < m->nr_layers; i++) {
		vm_sw_u8(w, m->layers[i].diff);
		vm_sw_u64(w, m->layers[i].id);
		put_str(w, m->layers[i].name);
	}
	vm_sw_u32(w, m->nr_disks);
	for (unsigned i = 0; i < m->nr_disks; i++) {
		const struct vm_disk_identity *d = &m->disks[i];

		put_str(w, d->path);
		vm_sw_u64(w, d->size);
		vm_sw_u64(w, d->dev);
		vm_sw_u64(w, d->ino);
		vm_sw_u64(w, (uint64_t)d->mtime_ns);
		vm_sw_u32(w, d->sample_crc);
		vm_sw_u8(w, d->readonly);
	}
}

int vm_machine_decode(const char *what, const void *buf, size_t len, struct vm_machine_desc *m,
		      struct vs_err *e)
{
	struct vm_state_reader r;
	uint32_t v;

	memset(m, 0, sizeof(*m));
	vm_sr_init(&r, what, buf, len);
	if (vm_sr_u32(&r, &v, e) < 0)
		return -1;
	if (v != VM_MACHINE_VERSION)
		return vs_fail(e, EINVAL, "%s: version %u, this vessel-vmm reads version %u", what,
			       v, VM_MACHINE_VERSION);
	if (vm_sr_u32(&r, &m->cpus, e) < 0)
		return -1;
	if (m->cpus == 0 || m->cpus > VM_MAX_CPUS)
		return vs_fail(e, EINVAL, "%s: %u vCPUs (1..%d)", what, m->cpus, VM_MAX_CPUS);
	if (vm_sr_u32(&r, &m->layout.nr, e) < 0)
		return -1;
	if (m->layout.nr == 0 || m->layout.nr > VM_MEM_MAX_REGIONS)
		return vs_fail(e, EINVAL, "%s: %u memory regions (1..%d)", what, m->layout.nr,
			       VM_MEM_MAX_REGIONS);
	for (unsigned i = 0; i < m->layout.nr; i++)
		if (vm_sr_u64(&r, &m->layout.r[i].gpa, e) < 0 ||
		    vm_sr_u64(&r, &m->layout.r[i].size, e) < 0)
			return -1;
	if (vm_snapmem_layout_check(&m->layout, e) < 0)
		return vs_err_prefix(e, "%s", what);
	if (vm_sr_u32(&r, &m->nr_layers, e) < 0)
		return -1;
	if (m->nr_layers > VM_SNAP_MAX_LAYERS)
		return vs_fail(e, EINVAL, "%s: %u memory layers, at most %u", what, m->nr_layers,
			       VM_SNAP_MAX_LAYERS);
	for (unsigned i = 0; i < m->nr_layers; i++) {
		struct vm_mem_layer *l = &m->layers[i];
		uint8_t diff;

		if (vm_sr_u8(&r, &diff, e) < 0 || vm_sr_u64(&r, &l->id, e) < 0 ||
		    get_str(&r, l->name, sizeof(l->name), "memory layer name", e) < 0)
			return -1;
		l->diff = diff;
		if (diff > 1 || (i == 0) == (bool)diff || l->id == 0)
			return vs_fail(e, EINVAL,
				       "%s: memory layer %u: the first layer must be a "
				       "full memory file and the others diffs, each with an id",
				       what, i);
	}
	if (vm_sr_u32(&r, &m->nr_disks, e) < 0)
		return -1;
	if (m->nr_disks > VM_MAX_DISKS)
		return vs_fail(e, EINVAL, "%s: %u disks, at most %d", what, m->nr_disks,
			       VM_MAX_DISKS);
	for (unsigned i = 0; i < m->nr_disks; i++) {
		struct vm_disk_identity *d = &m->disks[i];
		uint64_t mt;
		uint8_t ro;

		if (get_str(&r, d->path, sizeof(d->path), "disk path", e) < 0 ||
		    vm_sr_u64(&r, &d->size, e) < 0 || vm_sr_u64(&r, &d->dev, e) < 0 ||
		    vm_sr_u64(&r, &d->ino, e) < 0 || vm_sr_u64(&r, &mt, e) < 0 ||
		    vm_sr_u32(&r, &d->sample_crc, e) < 0 || vm_sr_u8(&r, &ro, e) < 0)
			return -1;
		if (ro > 1)
			return vs_fail(e, EINVAL, "%s: disk %u: read-only flag %u", what, i, ro);
		d->mtime_ns = (int64_t)mt;
		d->readonly = ro;
	}
	return vm_sr_end(&r, e);
}

/* --- disks ------------------------------------------------------------------- */

#define SAMPLE_EDGE  (1u << 20)
#define SAMPLE_BLOCK 4096u
#define SAMPLES	     64u

static int sample(int fd, uint64_t off, uint64_t len, uint32_t *crc, uint8_t *buf)
{
	while (len) {
		size_t n = len < SAMPLE_EDGE ? (size_t)len : SAMPLE_EDGE;
		ssize_t r = pread(fd, buf, n, (off_t)off);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		*crc = vs_crc32c(*crc, buf, (size_t)r);
		off += (uint64_t)r;
		len -= (uint64_t)r;
	}
	return 0;
}

int vm_disk_identity_of(const char *path, bool readonly, struct vm_disk_identity *d,
			struct vs_err *e)
{
	autoclose int fd = open(path, O_RDONLY | O_CLOEXEC);
	autofree uint8_t *buf = NULL;
	struct stat st;

	memset(d, 0, sizeof(*d));
	if (strlen(path) >= sizeof(d->path))
		return vs_fail(e, ENAMETOOLONG, "disk %s: path too long", path);
	if (fd < 0)
		return vs_fail_errno(e, "disk %s", path);
	if (fstat(fd, &st) < 0)
		return vs_fail_errno(e, "disk %s: stat", path);
	strcpy(d->path, path);
	d->readonly = readonly;
	d->dev = st.st_dev;
	d->ino = st.st_ino;
	d->mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
	if (S_ISBLK(st.st_mode)) {
		if (ioctl(fd, BLKGETSIZE64, &d->size) < 0)
			return vs_fail_errno(e, "disk %s: BLKGETSIZE64", path);
	} else if (S_ISREG(st.st_mode)) {
		d->size = (uint64_t)st.st_size;
	} else {
		return vs_fail(e, EINVAL, "disk %s: not a regular file or block device", path);
	}
	buf = malloc(SAMPLE_EDGE);
	if (!buf)
		return vs_fail(e, ENOMEM, "disk %s: out of memory", path);
	uint64_t edge = d->size < SAMPLE_EDGE ? d->size : SAMPLE_EDGE;
	uint32_t crc = 0;
	if (sample(fd, 0, edge, &crc, buf) < 0 || sample(fd, d->size - edge, edge, &crc, buf) < 0)
		return vs_fail_errno(e, "disk %s: read", path);
	for (unsigned i = 0; i < SAMPLES && d->size >= SAMPLE_BLOCK; i++) {
		uint64_t off = (d->size / SAMPLES * i) & ~(uint64_t)(SAMPLE_BLOCK - 1);
		if (sample(fd, off, SAMPLE_BLOCK, &crc, buf) < 0)
			return vs_fail_errno(e, "disk %s: read", path);
	}
	d->sample_crc = crc;
	return 0;
}

int vm_disk_identity_check(const struct vm_disk_identity *want, const char *path, struct vs_err *e)
{
	struct vm_disk_identity now;

	if (access(path, F_OK) < 0)
		return vs_fail(e, ENOENT, "disk %s: missing (the snapshot was taken with %s)", path,
			       want->path);
	if (vm_disk_identity_of(path, want->readonly, &now, e) < 0)
		return -1;
	if (now.size != want->size)
		return vs_fail(e, EINVAL,
			       "disk %s: %llu bytes, the snapshot's disk had %llu: not "
			       "the same disk",
			       path, (unsigned long long)now.size, (unsigned long long)want->size);
	if (now.sample_crc != want->sample_crc)
		return vs_fail(e, EINVAL, "disk %s: content differs from the snapshot's disk (%s)",
			       path, want->path);
	if (now.dev == want->dev && now.ino == want->ino && now.mtime_ns != want->mtime_ns)
		return vs_fail(e, EINVAL, "disk %s: modified since the snapshot was taken", path);
	return 0;
}

/* The layout vm_mem_alloc makes for size bytes (memory.c): below the MMIO
 * hole, the rest from 4 GiB. */
static void expected_layout(uint64_t size, struct vm_snapmem_layout *l)
{
	uint64_t low = size < VM_MMIO_HOLE_START ? size : VM_MMIO_HOLE_START;

	memset(l, 0, sizeof(*l));
	l->r[l->nr].gpa = 0;
	l->r[l->nr++].size = low;
	if (size > low) {
		l->r[l->nr].gpa = VM_MMIO_HOLE_END;
		l->r[l->nr++].size = size - low;
	}
}

int vm_machine_check(const struct vm_machine_desc *m, const struct vm_config *cfg, struct vs_err *e)
{
	struct vm_snapmem_layout want;

	if (m->cpus != cfg->cpus)
		return vs_fail(e, EINVAL, "snapshot: taken with %u vCPUs, the machine has %u",
			       m->cpus, cfg->cpus);
	expected_layout(cfg->mem_size, &want);
	if (want.nr != m->layout.nr || memcmp(want.r, m->layout.r, sizeof(want.r[0]) * want.nr))
		return vs_fail(e, EINVAL,
			       "snapshot: taken with %llu MiB of memory, the machine "
			       "has %llu MiB",
			       (unsigned long long)(vm_snapmem_pages(&m->layout) >> 8),
			       (unsigned long long)(cfg->mem_size >> 20));
	if (m->nr_disks != cfg->nr_disks)
		return vs_fail(e, EINVAL, "snapshot: taken with %u disks, the machine has %u",
			       m->nr_disks, cfg->nr_disks);
	for (unsigned i = 0; i < m->nr_disks; i++)
		if (vm_disk_identity_check(&m->disks[i], cfg->disks[i].path, e) < 0)
			return vs_err_prefix(e, "snapshot");
	return 0;
}

/* --- building and reading state files ------------------------------------------ */

int vm_snapshot_dev_section(char *out, size_t len, const char *dev, unsigned idx, struct vs_err *e)
{
	int n = snprintf(out, len, "dev.%s.%u", dev, idx);

	if (n < 0 || (size_t)n >= len || (size_t)n >= VM_SNAP_NAME_MAX)
		return vs_fail(e, ENAMETOOLONG, "device %s: name too long for a snapshot section",
			       dev);
	return 0;
}

static int add_writer(struct vm_snap_writer *w, const char *name, struct vm_state_writer *sw,
		      struct vs_err *e)
{
	int r;

	if (sw->failed) {
		vm_sw_free(sw);
		return vs_fail(e, ENOMEM, "snapshot section %s: out of memory", name);
	}
	r = vm_snap_writer_add(w, name, sw->buf, sw->len, e);
	vm_sw_free(sw);
	return r;
}

int vm_snapshot_build(struct vm_snap_writer *w, const struct vm_machine_desc *m,
		      const struct vm_irqchip_state *irq, const struct vm_vcpu_state *vcpus,
		      unsigned nr_vcpus, struct vs_err *e)
{
	struct vm_state_writer sw;
	char name[VM_SNAP_NAME_MAX];

	vm_sw_init(&sw);
	vm_machine_encode(m, &sw);
	if (add_writer(w, "machine", &sw, e) < 0)
		return -1;
	vm_sw_init(&sw);
	vm_irqchip_state_encode(irq, &sw);
	if (add_writer(w, "irqchip", &sw, e) < 0)
		return -1;
	for (unsigned i = 0; i < nr_vcpus; i++) {
		snprintf(name, sizeof(name), "vcpu.%u", i);
		vm_sw_init(&sw);
		vm_vcpu_state_encode(&vcpus[i], &sw);
		if (add_writer(w, name, &sw, e) < 0)
			return -1;
	}
	return 0;
}

void vm_restore_close(struct vm_restore *r)
{
	vm_postcopy_free(r->postcopy);
	r->postcopy = NULL;
	if (r->mig_fd >= 0)
		close(r->mig_fd);
	r->mig_fd = -1;
	if (r->uffd)
		vm_uffd_stop(r->uffd);
	r->uffd = NULL;
	if (r->uffd_fd >= 0)
		close(r->uffd_fd);
	r->uffd_fd = -1;
	r->mig_fd = -1;
	if (r->vcpus)
		for (unsigned i = 0; i < r->machine.cpus; i++)
			vm_vcpu_state_free(&r->vcpus[i]);
	free(r->vcpus);
	r->vcpus = NULL;
	vm_mem_free(&r->mem);
	vm_snap_close(&r->snap);
}

/* Decodes every section that needs no KVM: machine, irqchip, vCPUs. */
static int decode_sections(struct vm_restore *r, const char *what, const struct vm_config *cfg,
			   struct vs_err *e)
{
	const struct vm_snap_section *s;
	char name[VM_SNAP_NAME_MAX];

	if (vm_snap_need(&r->snap, "machine", &s, e) < 0 ||
	    vm_machine_decode("machine", s->data, s->len, &r->machine, e) < 0 ||
	    vm_machine_check(&r->machine, cfg, e) < 0)
		return vs_err_prefix(e, "%s", what);
	if (vm_snap_need(&r->snap, "irqchip", &s, e) < 0 ||
	    vm_irqchip_state_decode("irqchip", s->data, s->len, &r->irqchip, e) < 0)
		return vs_err_prefix(e, "%s", what);
	r->vcpus = calloc(r->machine.cpus, sizeof(*r->vcpus));
	if (!r->vcpus)
		return vs_fail(e, ENOMEM, "%s: out of memory", what);
	for (unsigned i = 0; i < r->machine.cpus; i++) {
		snprintf(name, sizeof(name), "vcpu.%u", i);
		if (vm_snap_need(&r->snap, name, &s, e) < 0 ||
		    vm_vcpu_state_decode(name, s->data, s->len, &r->vcpus[i], e) < 0)
			return vs_err_prefix(e, "%s", what);
	}
	snprintf(name, sizeof(name), "vcpu.%u", r->machine.cpus);
	if (vm_snap_find(&r->snap, name))
		return vs_fail(e, EINVAL, "%s: more vCPU sections than its %u vCPUs", what,
			       r->machine.cpus);
	return 0;
}

int vm_restore_parse(struct vm_restore *r, const char *what, uint8_t *buf, size_t len,
		     const struct vm_config *cfg, struct vs_err *e)
{
	memset(r, 0, sizeof(*r));
	r->uffd_fd = -1;
	r->mig_fd = -1;
	if (vm_snap_parse(what, buf, len, &r->snap, e) < 0)
		return -1;
	if (decode_sections(r, what, cfg, e) < 0) {
		r->snap.buf = NULL; /* the caller still owns buf */
		vm_restore_close(r);
		return -1;
	}
	return 0;
}

/* A layer name: relative to the state file's directory unless absolute. */
static char *layer_path(const char *state_path, const char *name)
{
	if (name[0] == '/')
		return strdup(name);
	autofree char *copy = strdup(state_path);
	return vs_path_join(dirname(copy), name);
}

static int map_uffd(struct vm_restore *r, const char *path, uint64_t id, struct vs_err *e)
{
	struct vm_snapmem_info info;
	static struct vm_uffd_file src; /* one restore per process */
	uint64_t total = vm_snapmem_pages(&r->machine.layout) * VM_PAGE_SIZE, off = 0;
	void *base;

	if (vm_snapmem_info(path, &info, e) < 0)
		return -1;
	if (info.is_diff || info.id != id || info.pages * VM_PAGE_SIZE != total)
		return vs_fail(e, EINVAL,
			       "memory file %s: not the full memory file of this "
			       "snapshot",
			       path);
	r->uffd_fd = open(path, O_RDONLY | O_CLOEXEC);
	if (r->uffd_fd < 0)
		return vs_fail_errno(e, "memory file %s", path);
	src = (struct vm_uffd_file){.fd = r->uffd_fd, .base = VM_SNAPMEM_HDR};
	struct vm_uffd_source s = {vm_uffd_file_read, &src};
	if (vm_uffd_start(&r->uffd, total, &s, &base, e) < 0)
		return vs_err_prefix(e, "--memory-backend uffd");
	for (unsigned i = 0; i < r->machine.layout.nr; i++) {
		if (vm_mem_add_region(&r->mem, r->machine.layout.r[i].gpa,
				      r->machine.layout.r[i].size, (uint8_t *)base + off, -1, 0,
				      e) < 0)
			return -1;
		off += r->machine.layout.r[i].size;
	}
	return 0;
}

int vm_restore_open(struct vm_restore *r, const struct vm_restore_opts *o,
		    const struct vm_config *cfg, struct vs_err *e)
{
	memset(r, 0, sizeof(*r));
	r->uffd_fd = -1;
	r->mig_fd = -1;
	if (vm_snap_open(o->path, &r->snap, e) < 0)
		return -1;
	if (decode_sections(r, o->path, cfg, e) < 0)
		goto fail;
	if (r->machine.nr_layers == 0) {
		vs_fail(e, EINVAL, "%s: names no memory file", o->path);
		goto fail;
	}
	for (unsigned i = 0; i < r->machine.nr_layers; i++) {
		const struct vm_mem_layer *l = &r->machine.layers[i];
		autofree char *p = layer_path(o->path, l->name);
		uint64_t id;

		if (i == 0) {
			int rc = o->backend == VM_RESTORE_UFFD
					 ? map_uffd(r, p, l->id, e)
					 : vm_snapmem_map(&r->mem, &r->machine.layout, p, l->id, e);
			if (rc < 0)
				goto fail;
			continue;
		}
		if (vm_snapmem_apply_diff(&r->mem, p, r->machine.layers[i - 1].id, &id, e) < 0)
			goto fail;
		if (id != l->id) {
			vs_fail(e, EINVAL, "memory diff %s: id %016llx, the snapshot names %016llx",
				p, (unsigned long long)id, (unsigned long long)l->id);
			goto fail;
		}
	}
	r->top_id = r->machine.layers[r->machine.nr_layers - 1].id;
	return 0;
fail:
	vm_restore_close(r);
	return -1;
}

/* --- a running VM ---------------------------------------------------------------- */

/*
 * Quiescing the devices: vm_pause parks the vCPUs only, and device handlers
 * on the event loop (network receive, block completions, timers) would go
 * on writing guest memory and changing device state while they are saved.
 * A freeze is a job on the loop thread that holds it until the thaw, so no
 * handler runs in between.
 */

static void freeze_handler(void *opaque, uint32_t events)
{
	struct vm_freeze *f = opaque;
	uint64_t v;

	if (read(f->efd, &v, sizeof(v)) < 0) { /* level-triggered: drain */
	}
	pthread_mutex_lock(&f->m);
	if (!f->cancelled && !f->started) {
		f->started = true;
		pthread_cond_broadcast(&f->c);
		while (!f->thawed)
			pthread_cond_wait(&f->c, &f->m);
	}
	f->finished = true;
	pthread_cond_broadcast(&f->c);
	pthread_mutex_unlock(&f->m);
}

int vm_devices_freeze(struct vm *vm, struct vm_freeze *f, struct vs_err *e)
{
	uint64_t one = 1;

	memset(f, 0, sizeof(*f));
	f->vm = vm;
	f->efd = -1;
	if (!vm->loop)
		return 0;
	pthread_mutex_init(&f->m, NULL);
	pthread_cond_init(&f->c, NULL);
	f->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (f->efd < 0)
		return vs_fail_errno(e, "freezing the devices: eventfd");
	if (vm_event_add(vm->loop, f->efd, EPOLLIN, freeze_handler, f, e) < 0 ||
	    write(f->efd, &one, sizeof(one)) != sizeof(one)) {
		vm_event_del(vm->loop, f->efd);
		close(f->efd);
		f->efd = -1;
		return vs_fail(e, EIO, "freezing the devices: cannot reach the event loop");
	}
	pthread_mutex_lock(&f->m);
	while (!f->started && !atomic_load(&vm->stopping)) {
		/* re-checks stopping: a loop that ended never runs the job */
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 50000000;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		pthread_cond_timedwait(&f->c, &f->m, &ts);
	}
	bool ok = f->started;
	if (!ok)
		f->cancelled = true;
	pthread_mutex_unlock(&f->m);
	if (!ok) {
		vm_event_del(vm->loop, f->efd);
		close(f->efd);
		f->efd = -1;
		return vs_fail(e, ECANCELED, "the VM is stopping");
	}
	return 0;
}

void vm_devices_thaw(struct vm_freeze *f)
{
	if (f->efd < 0)
		return;
	pthread_mutex_lock(&f->m);
	f->thawed = true;
	pthread_cond_broadcast(&f->c);
	while (!f->finished)
		pthread_cond_wait(&f->c, &f->m);
	pthread_mutex_unlock(&f->m);
	vm_event_del(f->vm->loop, f->efd);
	close(f->efd);
	f->efd = -1;
	pthread_mutex_destroy(&f->m);
	pthread_cond_destroy(&f->c);
}

/* What the previous snapshot left for the next diff (one VM per process). */
static struct {
	bool have_last;
	struct vm_machine_desc last;
	bool softdirty; /* else digests */
	uint64_t *digests;
} track;

static int set_dirty_logging(struct vm *vm, bool on, struct vs_err *e)
{
	for (unsigned i = 0; i < vm->mem.nr; i++) {
		struct kvm_userspace_memory_region r = {
			.slot = i,
			.flags = on ? KVM_MEM_LOG_DIRTY_PAGES : 0,
			.guest_phys_addr = vm->mem.regions[i].gpa,
			.memory_size = vm->mem.regions[i].size,
			.userspace_addr = (uint64_t)(uintptr_t)vm->mem.regions[i].host,
		};
		if (ioctl(vm->kvm.vm_fd, KVM_SET_USER_MEMORY_REGION, &r) < 0)
			return vs_fail_errno(e, "KVM_SET_USER_MEMORY_REGION slot %u: dirty logging",
					     i);
	}
	return 0;
}

/* ORs into bitmap the pages written since the previous call: the guest's
 * (KVM_GET_DIRTY_LOG, which also clears the log) and the VMM's own
 * (soft-dirty or digests). */
static int collect_dirty(struct vm *vm, uint64_t *bitmap, struct vs_err *e)
{
	uint64_t first = 0;

	for (unsigned i = 0; i < vm->mem.nr; i++) {
		uint64_t n = vm->mem.regions[i].size / VM_PAGE_SIZE;
		autofree uint64_t *slot = calloc((n + 63) / 64, 8);
		if (!slot)
			return vs_fail(e, ENOMEM, "dirty log: out of memory");
		struct kvm_dirty_log log = {.slot = i, .dirty_bitmap = slot};
		if (ioctl(vm->kvm.vm_fd, KVM_GET_DIRTY_LOG, &log) < 0)
			return vs_fail_errno(e, "KVM_GET_DIRTY_LOG slot %u", i);
		for (uint64_t p = 0; p < n; p++)
			if (slot[p / 64] >> (p % 64) & 1)
				bitmap[(first + p) / 64] |= 1ull << ((first + p) % 64);
		first += n;
	}
	if (track.softdirty) {
		if (vm_snapmem_softdirty_collect(&vm->mem, bitmap, e) < 0 ||
		    vm_snapmem_softdirty_reset(e) < 0)
			return -1;
	} else if (track.digests) {
		vm_snapmem_digest_changes(&vm->mem, track.digests, bitmap);
	}
	return 0;
}

/* Starts tracking from now: logging on, the log and the VMM-side tracker
 * reset. */
static int track_start(struct vm *vm, struct vs_err *e)
{
	struct vs_err probe;
	uint64_t pages = vm_mem_size(&vm->mem) / VM_PAGE_SIZE;
	uint64_t *scratch;
	int rc;

	if (set_dirty_logging(vm, true, e) < 0)
		return -1;
	free(track.digests);
	track.digests = NULL;
	track.softdirty = vm_snapmem_softdirty_probe(&probe) == 0;
	if (!track.softdirty) {
		track.digests = vm_snapmem_digests(&vm->mem);
		if (!track.digests)
			return vs_fail(e, ENOMEM, "dirty tracking: out of memory");
	}
	scratch = calloc((pages + 63) / 64, 8);
	if (!scratch)
		return vs_fail(e, ENOMEM, "dirty tracking: out of memory");
	rc = collect_dirty(vm, scratch, e); /* clears both */
	free(scratch);
	return rc;
}

static int save_devices(struct vm *vm, struct vm_snap_writer *w, struct vs_err *e)
{
	char name[VM_SNAP_NAME_MAX];

	for (unsigned i = 0; i < vm->devs_created; i++) {
		const struct vm_device_ops *d = vm->devs[i];
		unsigned n = d->count ? d->count() : 0;

		for (unsigned idx = 0; idx < n; idx++) {
			struct vm_state_writer sw;

			if (!d->save)
				return vs_fail(e, ENOTSUP, "device %s cannot save its state",
					       d->name);
			if (vm_snapshot_dev_section(name, sizeof(name), d->name, idx, e) < 0)
				return -1;
			vm_sw_init(&sw);
			if (d->save(idx, &sw) < 0) {
				vm_sw_free(&sw);
				return vs_fail(e, EIO, "device %s %u: saving its state failed",
					       d->name, idx);
			}
			if (add_writer(w, name, &sw, e) < 0)
				return -1;
		}
	}
	return 0;
}

/* Everything but memory, of a paused VM, into w. */
static int build_state(struct vm *vm, const struct vm_machine_desc *m, struct vm_snap_writer *w,
		       struct vs_err *e)
{
	struct vm_irqchip_state irq;
	struct vm_vcpu_state *vs = calloc(vm->nr_vcpus, sizeof(*vs));
	int rc = -1;

	if (!vs)
		return vs_fail(e, ENOMEM, "snapshot: out of memory");
	if (vm_irqchip_state_get(vm->kvm.vm_fd, &irq, e) < 0)
		goto out;
	irq.clock = vm->paused_clock; /* guest time stopped when the VM paused */
	for (unsigned i = 0; i < vm->nr_vcpus; i++)
		if (vm_vcpu_state_get(vm->kvm.fd, vm->vcpus[i].fd, vm->msr_list, vm->nr_msrs,
				      &vs[i], e) < 0) {
			vs_err_prefix(e, "vCPU %u", i);
			goto out;
		}
	if (vm_snapshot_build(w, m, &irq, vs, vm->nr_vcpus, e) < 0 || save_devices(vm, w, e) < 0)
		goto out;
	rc = 0;
out:
	for (unsigned i = 0; i < vm->nr_vcpus; i++)
		vm_vcpu_state_free(&vs[i]);
	free(vs);
	return rc;
}

static int describe(struct vm *vm, struct vm_machine_desc *m, struct vs_err *e)
{
	memset(m, 0, sizeof(*m));
	m->cpus = vm->nr_vcpus;
	vm_snapmem_layout_of(&vm->mem, &m->layout);
	m->nr_disks = vm->cfg->nr_disks;
	for (unsigned i = 0; i < vm->cfg->nr_disks; i++)
		if (vm_disk_identity_of(vm->cfg->disks[i].path, vm->cfg->disks[i].readonly,
					&m->disks[i], e) < 0)
			return vs_err_prefix(e, "snapshot");
	return 0;
}

/* The name a layer is recorded under: its base name when it sits beside
 * the state file (so a snapshot directory can be moved), else absolute. */
static int layer_name(const char *state, const char *mem, char *out, size_t len, struct vs_err *e)
{
	char sa[PATH_MAX], sb[PATH_MAX], real[PATH_MAX];
	const char *name;

	if (strlen(state) >= sizeof(sa) || strlen(mem) >= sizeof(sb))
		return vs_fail(e, ENAMETOOLONG, "snapshot %s: path too long", state);
	strcpy(sa, state);
	strcpy(sb, mem);
	if (!strcmp(dirname(sa), dirname(sb))) {
		strcpy(sb, mem);
		name = basename(sb);
	} else {
		name = realpath(mem, real);
	}
	if (!name || strlen(name) >= len)
		return vs_fail(e, ENAMETOOLONG, "memory file %s: path unusable", mem);
	snprintf(out, len, "%s", name);
	return 0;
}

int vm_snapshot_save(struct vm *vm, const struct vm_snapshot_opts *o, struct vs_err *e)
{
	struct vm_machine_desc m;
	struct vm_snap_writer w;
	autofree char *mem_path = NULL;
	autofree uint64_t *bitmap = NULL;
	bool was_running = !vm->paused, mem_written = false;
	uint64_t id = vm_snapmem_new_id();
	int rc = -1;

	if (o->diff && !track.have_last)
		return vs_fail(e, EINVAL,
			       "diff snapshot: no earlier snapshot of this VM to build "
			       "on (take a full one first)");
	if (o->diff && track.last.nr_layers >= VM_SNAP_MAX_LAYERS)
		return vs_fail(e, E2BIG, "diff snapshot: the chain has %u layers already",
			       VM_SNAP_MAX_LAYERS);
	mem_path = o->mem_path ? strdup(o->mem_path)
			       : vs_strdup_printf("%s.%s", o->path, o->diff ? "diff" : "mem");
	struct vm_freeze fz;

	vm_snap_writer_init(&w);
	if (was_running && vm_pause(vm, e) < 0)
		return vs_err_prefix(e, "snapshot: pausing");
	if (vm_devices_freeze(vm, &fz, e) < 0) {
		vs_err_prefix(e, "snapshot");
		if (was_running)
			vm_resume(vm, &(struct vs_err){0});
		return -1;
	}
	if (describe(vm, &m, e) < 0)
		goto out;
	if (o->diff) {
		uint64_t pages = vm_snapmem_pages(&m.layout);
		bitmap = calloc((pages + 63) / 64, 8);
		if (!bitmap) {
			vs_fail(e, ENOMEM, "snapshot: out of memory");
			goto out;
		}
		if (collect_dirty(vm, bitmap, e) < 0)
			goto out;
		m.nr_layers = track.last.nr_layers;
		memcpy(m.layers, track.last.layers, sizeof(m.layers[0]) * m.nr_layers);
		if (vm_snapmem_write_diff(&vm->mem, bitmap, mem_path, id,
					  m.layers[m.nr_layers - 1].id, NULL, e) < 0)
			goto out;
	} else if (vm_snapmem_write_full(&vm->mem, mem_path, id, e) < 0) {
		goto out;
	}
	mem_written = true;
	struct vm_mem_layer *l = &m.layers[m.nr_layers++];
	l->diff = o->diff;
	l->id = id;
	if (layer_name(o->path, mem_path, l->name, sizeof(l->name), e) < 0 ||
	    build_state(vm, &m, &w, e) < 0 ||
	    vm_snap_writer_write(&w, o->path, "vessel-vmm " VM_VMM_VERSION, e) < 0)
		goto out;
	/* the next diff counts from here */
	if (track_start(vm, e) < 0)
		goto out;
	track.last = m;
	track.have_last = true;
	rc = 0;
out:
	vm_devices_thaw(&fz);
	vm_snap_writer_free(&w);
	if (rc < 0 && mem_written)
		unlink(mem_path); /* nothing left behind by a failed snapshot */
	if (rc == 0 && !o->resume) {
		vm_request_exit(vm, VM_EXIT_OK, "snapshot taken");
		return 0;
	}
	if (was_running) {
		struct vs_err re;
		if (vm_resume(vm, &re) < 0 && rc == 0) {
			*e = re;
			return -1;
		}
	}
	return rc;
}

static int restore_devices(struct vm *vm, struct vm_restore *r, struct vs_err *e)
{
	char name[VM_SNAP_NAME_MAX];
	unsigned expected = 0, present = 0;

	for (unsigned i = 0; i < vm->devs_created; i++) {
		const struct vm_device_ops *d = vm->devs[i];
		unsigned n = d->count ? d->count() : 0;

		for (unsigned idx = 0; idx < n; idx++) {
			const struct vm_snap_section *s;
			struct vm_state_reader rd;

			if (vm_snapshot_dev_section(name, sizeof(name), d->name, idx, e) < 0)
				return -1;
			if (vm_snap_need(&r->snap, name, &s, e) < 0)
				return vs_err_prefix(e,
						     "device %s %u is not in the snapshot "
						     "(configured differently?)",
						     d->name, idx);
			if (!d->restore)
				return vs_fail(e, ENOTSUP, "device %s cannot restore its state",
					       d->name);
			vm_sr_init(&rd, s->name, s->data, s->len);
			if (d->restore(idx, &rd, e) < 0)
				return vs_err_prefix(e, "device %s %u", d->name, idx);
			expected++;
		}
	}
	for (uint32_t i = 0; i < r->snap.nr; i++)
		present += !strncmp(r->snap.sec[i].name, "dev.", 4);
	if (present != expected)
		return vs_fail(e, EINVAL,
			       "snapshot: %u device sections, this machine has %u "
			       "devices: configured differently",
			       present, expected);
	return 0;
}

int vm_restore_apply(struct vm *vm, struct vm_restore *r, struct vs_err *e)
{
	if (r->machine.cpus != vm->nr_vcpus)
		return vs_fail(e, EINVAL, "snapshot: %u vCPUs, the VM has %u", r->machine.cpus,
			       vm->nr_vcpus);
	if (vm_irqchip_state_set(vm->kvm.vm_fd, &r->irqchip, e) < 0)
		return vs_err_prefix(e, "restore");
	for (unsigned i = 0; i < vm->nr_vcpus; i++)
		if (vm_vcpu_state_set(vm->kvm.fd, vm->vcpus[i].fd, &r->vcpus[i], e) < 0)
			return vs_err_prefix(e, "restore: vCPU %u", i);
	if (restore_devices(vm, r, e) < 0)
		return vs_err_prefix(e, "restore");
	vm->paused_clock = r->irqchip.clock;
	/* a diff snapshot of the restored VM layers on the chain it came from;
	 * without soft-dirty that needs a digest of every page, which would
	 * load the whole lazily mapped memory now: then the first snapshot
	 * after a restore must be a full one */
	struct vs_err probe;
	if (r->machine.nr_layers && vm_snapmem_softdirty_probe(&probe) == 0) {
		if (track_start(vm, e) < 0)
			return vs_err_prefix(e, "restore");
		track.last = r->machine;
		track.have_last = true;
	}
	return 0;
}

/* --- migration, source side ---------------------------------------------------- */

static int mig_dirty(void *o, uint64_t *bm, struct vs_err *e)
{
	return collect_dirty(o, bm, e);
}

static struct vm_freeze mig_freeze;

static int mig_pause(void *o, struct vs_err *e)
{
	if (vm_pause(o, e) < 0)
		return -1;
	if (vm_devices_freeze(o, &mig_freeze, e) < 0) {
		vm_resume(o, &(struct vs_err){0});
		return -1;
	}
	return 0;
}

static int mig_resume(void *o, struct vs_err *e)
{
	vm_devices_thaw(&mig_freeze);
	return vm_resume(o, e);
}

/* The state file in memory: written to a private temporary directory and
 * read back, so it is byte for byte what a snapshot would hold. */
static int mig_save(void *o, uint8_t **buf, size_t *len, struct vs_err *e)
{
	struct vm *vm = o;
	struct vm_machine_desc m;
	struct vm_snap_writer w;
	char dir[] = "/tmp/vessel-migrate.XXXXXX";
	int rc = -1;

	if (!mkdtemp(dir))
		return vs_fail_errno(e, "migration: temporary directory");
	autofree char *path = vs_path_join(dir, "state");
	vm_snap_writer_init(&w);
	if (describe(vm, &m, e) == 0 && build_state(vm, &m, &w, e) == 0 &&
	    vm_snap_writer_write(&w, path, "vessel-vmm " VM_VMM_VERSION, e) == 0 &&
	    vs_read_file(path, (char **)buf, len, e) == 0)
		rc = 0;
	vm_snap_writer_free(&w);
	unlink(path);
	rmdir(dir);
	return rc;
}

int vm_migrate_out(struct vm *vm, const char *to, bool postcopy, struct vs_err *e)
{
	struct vm_migrate_params params = {.postcopy = postcopy};
	struct vm_machine_desc m;
	struct vm_state_writer sw;
	struct vm_migrate_source_ops ops = {vm, mig_dirty, mig_pause, mig_resume, mig_save};
	struct vm_migrate_stats st;

	if (vm->paused)
		return vs_fail(e, EINVAL, "migrate: resume the VM first");
	/* the process's seccomp policy forbids new network sockets */
	if (!vm->cfg->no_seccomp)
		return vs_fail(e, EPERM,
			       "migrate: the VMM's seccomp policy forbids the outgoing "
			       "TCP connection; start the VM with --no-seccomp to migrate it "
			       "(docs/snapshots.md)");
	if (describe(vm, &m, e) < 0)
		return -1;
	if (track_start(vm, e) < 0)
		return vs_err_prefix(e, "migrate");
	autoclose int fd = vm_migrate_connect(to, e);
	if (fd < 0)
		return -1;
	vm_sw_init(&sw);
	vm_machine_encode(&m, &sw);
	if (sw.failed) {
		vm_sw_free(&sw);
		return vs_fail(e, ENOMEM, "migrate: out of memory");
	}
	mig_freeze.efd = -1;
	int rc = vm_migrate_send(fd, &vm->mem, sw.buf, sw.len, &ops, &params, &st, e);
	vm_sw_free(&sw);
	/* sent, or paused for good (uncertain): the devices may run again; the
	 * vCPUs stay as the protocol left them */
	vm_devices_thaw(&mig_freeze);
	if (rc == 0) {
		vm_request_exit(vm, VM_EXIT_OK, "migrated");
		return 0;
	}
	return -1;
}

/* --- where vm_run starts from ----------------------------------------------------- */

struct mig_in {
	const struct vm_config *cfg;
	struct vm_restore *r;
};

static int mig_prepare(void *o, const uint8_t *machine, size_t len, uint64_t pages,
		       struct vm_memory **mem, struct vs_err *e)
{
	struct mig_in *m = o;
	struct vm_machine_desc d;

	if (vm_machine_decode("machine", machine, len, &d, e) < 0)
		return -1;
	d.nr_layers = 0;
	if (vm_machine_check(&d, m->cfg, e) < 0)
		return -1;
	if (vm_mem_alloc(&m->r->mem, m->cfg->mem_size, m->cfg->mem_memfd, m->cfg->mem_hugepages,
			 e) < 0)
		return -1;
	*mem = &m->r->mem;
	return 0;
}

static int mig_load(void *o, const uint8_t *buf, size_t len, struct vs_err *e)
{
	struct mig_in *m = o;
	struct vm_restore tmp;
	uint8_t *copy = malloc(len ? len : 1);

	if (!copy)
		return vs_fail(e, ENOMEM, "migration: out of memory");
	memcpy(copy, buf, len);
	if (vm_restore_parse(&tmp, "migration state", copy, len, m->cfg, e) < 0) {
		free(copy);
		return -1;
	}
	tmp.mem = m->r->mem; /* the pages already received */
	tmp.mig_fd = -1;
	*m->r = tmp;
	return 0;
}

void vm_restore_free(struct vm_restore *r)
{
	if (!r)
		return;
	vm_restore_close(r);
	free(r);
}

int vm_restore_from_config(const struct vm_config *cfg, struct vm_restore **out, struct vs_err *e)
{
	struct vm_restore *r;

	*out = NULL;
	if (!cfg->restore && !cfg->migrate_listen)
		return 0;
	r = calloc(1, sizeof(*r));
	if (!r)
		return vs_fail(e, ENOMEM, "restore: out of memory");
	r->uffd_fd = -1;
	r->mig_fd = -1;
	if (cfg->restore) {
		struct vm_restore_opts o = {
			.path = cfg->restore,
			.backend = cfg->restore_uffd ? VM_RESTORE_UFFD : VM_RESTORE_MAP_PRIVATE,
		};
		if (vm_restore_open(r, &o, cfg, e) < 0) {
			free(r);
			return -1;
		}
	} else {
		struct mig_in m = {cfg, r};
		struct vm_migrate_sink_ops ops = {&m, mig_prepare, mig_load};
		int fd = vm_migrate_listen_accept(cfg->migrate_listen, NULL, NULL, e);

		if (fd < 0) {
			free(r);
			return -1;
		}
		struct vm_postcopy *pc = NULL;
		int rc = vm_migrate_recv_pc(fd, &ops, NULL, &pc, e);
		if (rc < 0 || !pc)
			close(fd);
		if (rc < 0) {
			vm_restore_free(r);
			return -1;
		}
		/* post-copy: the VM runs while its last pages arrive */
		r->postcopy = pc;
		r->mig_fd = pc ? fd : -1;
	}
	*out = r;
	return 0;
}
