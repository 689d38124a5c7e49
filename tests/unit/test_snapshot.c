/* Whole-VM snapshot files without KVM: the machine section, disk
 * identities, and the verified restore of synthetic snapshots (state file
 * plus memory layers), including its refusals. */
#include <fcntl.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test.h"
#include "vessel/cleanup.h"
#include "vessel/fs.h"
#include "vmm/snapshot.h"
#include "vmm/vm.h"

#define MEM (1ull << 20) /* 256 pages in one region */

struct fixture {
	char dir[64];
	char *state, *disk;
	struct vm_config cfg;
	struct vm_memory mem;
	uint64_t mem_id;
};

static void fill_page(uint8_t *p, unsigned v)
{
	for (unsigned i = 0; i < VM_PAGE_SIZE; i++)
		p[i] = (uint8_t)(v * 13 + i);
}

static void vcpu(struct vm_vcpu_state *s, unsigned i)
{
	memset(s, 0, sizeof(*s));
	s->regs.rip = 0x100000 + i;
	s->regs.rax = 42;
	s->sregs.cr0 = 0x80050033;
	s->mp.mp_state = KVM_MP_STATE_RUNNABLE;
	s->tsc_khz = 2000000;
	s->nr_msrs = 1;
	s->msrs = calloc(1, sizeof(*s->msrs));
	s->msrs[0] = (struct kvm_msr_entry){.index = 0x10, .data = 777};
}

/* A 2-vCPU machine with 1 MiB of memory and one disk, its memory file and
 * a state file naming it. */
static int fixture_make(struct fixture *f, unsigned cpus_in_file)
{
	struct vs_err e;
	struct vm_machine_desc m;
	struct vm_irqchip_state irq;
	struct vm_vcpu_state vs[4];
	struct vm_snap_writer w;

	memset(f, 0, sizeof(*f));
	strcpy(f->dir, "/tmp/vessel-snapshot.XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	f->state = vs_path_join(f->dir, "vm.snap");
	f->disk = vs_path_join(f->dir, "disk.img");
	uint8_t blk[8192];
	memset(blk, 0x5a, sizeof(blk));
	if (vs_write_file(f->disk, blk, sizeof(blk), 0600, &e) < 0)
		return -1;

	vm_config_init(&f->cfg);
	f->cfg.cpus = 2;
	f->cfg.mem_size = MEM;
	f->cfg.nr_disks = 1;
	f->cfg.disks[0].path = strdup(f->disk);

	if (vm_mem_alloc(&f->mem, MEM, false, false, &e) < 0)
		return -1;
	for (unsigned p = 0; p < 256; p += 5)
		fill_page(vm_snapmem_page(&f->mem, p), p);
	f->mem_id = vm_snapmem_new_id();
	autofree char *mp = vs_path_join(f->dir, "vm.snap.mem");
	if (vm_snapmem_write_full(&f->mem, mp, f->mem_id, &e) < 0)
		return -1;

	memset(&m, 0, sizeof(m));
	m.cpus = cpus_in_file;
	vm_snapmem_layout_of(&f->mem, &m.layout);
	m.nr_layers = 1;
	m.layers[0] = (struct vm_mem_layer){.diff = false, .id = f->mem_id};
	strcpy(m.layers[0].name, "vm.snap.mem");
	m.nr_disks = 1;
	if (vm_disk_identity_of(f->disk, false, &m.disks[0], &e) < 0)
		return -1;
	memset(&irq, 0, sizeof(irq));
	for (unsigned i = 0; i < 3; i++)
		irq.chip[i].chip_id = i;
	irq.clock.clock = 5000000000ull;
	for (unsigned i = 0; i < cpus_in_file; i++)
		vcpu(&vs[i], i);
	vm_snap_writer_init(&w);
	int rc = vm_snapshot_build(&w, &m, &irq, vs, cpus_in_file, &e);
	if (rc == 0) {
		uint8_t blob[3] = {1, 2, 3};
		rc = vm_snap_writer_add(&w, "dev.rtc.0", blob, sizeof(blob), &e);
	}
	if (rc == 0)
		rc = vm_snap_writer_write(&w, f->state, "vessel-vmm test", &e);
	vm_snap_writer_free(&w);
	for (unsigned i = 0; i < cpus_in_file; i++)
		vm_vcpu_state_free(&vs[i]);
	return rc;
}

static void fixture_free(struct fixture *f)
{
	struct vs_err e;

	vm_mem_free(&f->mem);
	vm_config_free(&f->cfg);
	vs_rm_rf(f->dir, &e);
	free(f->state);
	free(f->disk);
}

static int same_memory(const struct vm_memory *a, const struct vm_memory *b)
{
	for (uint64_t p = 0; p < 256; p++)
		if (memcmp(vm_snapmem_page(a, p), vm_snapmem_page(b, p), VM_PAGE_SIZE))
			return 0;
	return 1;
}

TEST(machine_section_round_trips_and_refuses_a_bad_layer_order)
{
	struct vm_machine_desc m = {.cpus = 3}, d;
	struct vm_state_writer w;
	struct vs_err e = {0};

	m.layout.nr = 2;
	m.layout.r[0].size = 0xc0000000ull;
	m.layout.r[1].gpa = 0x100000000ull;
	m.layout.r[1].size = 0x40000000ull;
	m.nr_layers = 2;
	m.layers[0] = (struct vm_mem_layer){false, 11, "base.mem"};
	m.layers[1] = (struct vm_mem_layer){true, 12, "/var/snap/d1"};
	m.nr_disks = 1;
	strcpy(m.disks[0].path, "/images/root.img");
	m.disks[0].size = 1 << 30;
	m.disks[0].sample_crc = 0xabcd;
	m.disks[0].mtime_ns = -5;
	vm_sw_init(&w);
	vm_machine_encode(&m, &w);
	REQUIRE(vm_machine_decode("machine", w.buf, w.len, &d, &e) == 0);
	CHECK(!memcmp(&m, &d, sizeof(m)));
	for (size_t n = 0; n < w.len; n++)
		CHECK(vm_machine_decode("machine", w.buf, n, &d, &e) < 0);
	vm_sw_free(&w);

	m.layers[0].diff = true; /* a diff cannot be the base */
	vm_sw_init(&w);
	vm_machine_encode(&m, &w);
	CHECK(vm_machine_decode("machine", w.buf, w.len, &d, &e) < 0);
	CHECK_CONTAINS(e.msg, "first layer must be a full memory file");
	vm_sw_free(&w);
}

TEST(disk_identity_refuses_missing_resized_changed_and_touched_disks)
{
	struct fixture f;
	struct vm_disk_identity id;
	struct vs_err e = {0};
	uint8_t b = 0x11;

	REQUIRE(fixture_make(&f, 2) == 0);
	REQUIRE(vm_disk_identity_of(f.disk, false, &id, &e) == 0);
	CHECK_EQ(id.size, 8192);
	CHECK(vm_disk_identity_check(&id, f.disk, &e) == 0);

	/* a copy elsewhere, same content: accepted */
	autofree char *copy = vs_path_join(f.dir, "copy.img");
	autofree char *data = NULL;
	size_t len;
	REQUIRE(vs_read_file(f.disk, &data, &len, &e) == 0);
	REQUIRE(vs_write_file(copy, data, len, 0600, &e) == 0);
	CHECK(vm_disk_identity_check(&id, copy, &e) == 0);

	CHECK(vm_disk_identity_check(&id, "/nonexistent/disk.img", &e) < 0);
	CHECK_CONTAINS(e.msg, "missing");

	int fd = open(copy, O_WRONLY);
	REQUIRE(fd >= 0);
	CHECK(pwrite(fd, &b, 1, 100) == 1);
	CHECK(vm_disk_identity_check(&id, copy, &e) < 0);
	CHECK_CONTAINS(e.msg, "content differs");
	CHECK(ftruncate(fd, 4096) == 0);
	close(fd);
	CHECK(vm_disk_identity_check(&id, copy, &e) < 0);
	CHECK_CONTAINS(e.msg, "4096 bytes, the snapshot's disk had 8192");

	/* the same file written back with the same bytes: content matches but
	 * the modification time tells */
	struct timespec ts[2] = {{0, UTIME_OMIT}, {12345, 0}};
	REQUIRE(utimensat(AT_FDCWD, f.disk, ts, 0) == 0);
	CHECK(vm_disk_identity_check(&id, f.disk, &e) < 0);
	CHECK_CONTAINS(e.msg, "modified since the snapshot");
	fixture_free(&f);
}

TEST(restore_open_maps_memory_and_decodes_every_vcpu)
{
	struct fixture f;
	struct vm_restore r;
	struct vm_restore_opts o;
	struct vs_err e = {0};

	REQUIRE(fixture_make(&f, 2) == 0);
	o = (struct vm_restore_opts){.path = f.state, .backend = VM_RESTORE_MAP_PRIVATE};
	REQUIRE(vm_restore_open(&r, &o, &f.cfg, &e) == 0);
	CHECK_EQ(r.machine.cpus, 2);
	CHECK_EQ(r.vcpus[1].regs.rip, 0x100001);
	CHECK_EQ(r.vcpus[0].msrs[0].data, 777);
	CHECK_EQ(r.irqchip.clock.clock, 5000000000ull);
	CHECK_EQ(r.top_id, f.mem_id);
	CHECK(same_memory(&f.mem, &r.mem));
	vm_restore_close(&r);
	fixture_free(&f);
}

TEST(restore_with_uffd_backend_loads_pages_on_first_touch)
{
	struct fixture f;
	struct vm_restore r;
	struct vm_restore_opts o;
	struct vs_err e = {0};

	REQUIRE(fixture_make(&f, 2) == 0);
	o = (struct vm_restore_opts){.path = f.state, .backend = VM_RESTORE_UFFD};
	if (vm_restore_open(&r, &o, &f.cfg, &e) < 0) {
		fixture_free(&f);
		if (strstr(e.msg, "userfaultfd"))
			SKIP("%.200s", e.msg);
		REQUIRE(!"restore failed");
	}
	CHECK_EQ(vm_uffd_served(r.uffd), 0);
	CHECK(!memcmp(vm_snapmem_page(&r.mem, 5), vm_snapmem_page(&f.mem, 5), VM_PAGE_SIZE));
	CHECK_EQ(vm_uffd_served(r.uffd), 1);
	CHECK(same_memory(&f.mem, &r.mem));
	CHECK_EQ(vm_uffd_served(r.uffd), 256);
	vm_restore_close(&r);
	fixture_free(&f);
}

TEST(restore_refuses_other_machine_shape_and_changed_disk_before_mapping)
{
	struct fixture f;
	struct vm_restore r;
	struct vm_restore_opts o;
	struct vs_err e = {0};

	REQUIRE(fixture_make(&f, 2) == 0);
	o = (struct vm_restore_opts){.path = f.state};
	f.cfg.cpus = 4;
	CHECK(vm_restore_open(&r, &o, &f.cfg, &e) < 0);
	CHECK_CONTAINS(e.msg, "taken with 2 vCPUs, the machine has 4");
	f.cfg.cpus = 2;
	f.cfg.mem_size = 2 * MEM;
	CHECK(vm_restore_open(&r, &o, &f.cfg, &e) < 0);
	CHECK_CONTAINS(e.msg, "MiB of memory");
	f.cfg.mem_size = MEM;
	int fd = open(f.disk, O_WRONLY | O_APPEND);
	CHECK(write(fd, "x", 1) == 1);
	close(fd);
	CHECK(vm_restore_open(&r, &o, &f.cfg, &e) < 0);
	CHECK_CONTAINS(e.msg, "disk.img");
	CHECK_EQ(r.mem.nr, 0);
	fixture_free(&f);
}

TEST(restore_refuses_truncated_corrupt_foreign_and_missing_files)
{
	struct fixture f;
	struct vm_restore r;
	struct vm_restore_opts o;
	struct vs_err e = {0};
	struct stat st;

	REQUIRE(fixture_make(&f, 2) == 0);
	o = (struct vm_restore_opts){.path = f.state};
	REQUIRE(stat(f.state, &st) == 0);

	autofree char *mem = vs_path_join(f.dir, "vm.snap.mem");
	autofree char *moved = vs_path_join(f.dir, "elsewhere");
	REQUIRE(rename(mem, moved) == 0);
	CHECK(vm_restore_open(&r, &o, &f.cfg, &e) < 0);
	CHECK_CONTAINS(e.msg, "vm.snap.mem");
	REQUIRE(rename(moved, mem) == 0);

	int fd = open(f.state, O_RDWR);
	uint8_t b;
	REQUIRE(pread(fd, &b, 1, st.st_size - 8) == 1);
	b ^= 1;
	CHECK(pwrite(fd, &b, 1, st.st_size - 8) == 1);
	CHECK(vm_restore_open(&r, &o, &f.cfg, &e) < 0);
	CHECK_CONTAINS(e.msg, "checksum mismatch");
	CHECK(ftruncate(fd, st.st_size / 2) == 0);
	CHECK(vm_restore_open(&r, &o, &f.cfg, &e) < 0);
	CHECK_CONTAINS(e.msg, "truncated");
	CHECK(pwrite(fd, "QEMU", 4, 0) == 4);
	close(fd);
	CHECK(vm_restore_open(&r, &o, &f.cfg, &e) < 0);
	CHECK_CONTAINS(e.msg, "not a Vessel snapshot");
	o.path = "/nonexistent/vm.snap";
	CHECK(vm_restore_open(&r, &o, &f.cfg, &e) < 0);
	CHECK_CONTAINS(e.msg, "/nonexistent/vm.snap");
	fixture_free(&f);
}

TEST(restore_refuses_a_vcpu_section_missing_from_the_file)
{
	struct fixture f;
	struct vm_restore r;
	struct vm_restore_opts o;
	struct vs_err e = {0};

	/* the machine section says 2 vCPUs but only vcpu.0 is in the file */
	REQUIRE(fixture_make(&f, 2) == 0);
	struct vm_snap s;
	REQUIRE(vm_snap_open(f.state, &s, &e) == 0);
	struct vm_snap_writer w;
	vm_snap_writer_init(&w);
	for (uint32_t i = 0; i < s.nr; i++)
		if (strcmp(s.sec[i].name, "vcpu.1"))
			REQUIRE(vm_snap_writer_add(&w, s.sec[i].name, s.sec[i].data, s.sec[i].len,
						   &e) == 0);
	REQUIRE(vm_snap_writer_write(&w, f.state, "t", &e) == 0);
	vm_snap_writer_free(&w);
	vm_snap_close(&s);
	o = (struct vm_restore_opts){.path = f.state};
	CHECK(vm_restore_open(&r, &o, &f.cfg, &e) < 0);
	CHECK_CONTAINS(e.msg, "section \"vcpu.1\" missing");
	fixture_free(&f);
}

TEST(device_section_names_that_do_not_fit_are_refused)
{
	char n[VM_SNAP_NAME_MAX];
	struct vs_err e = {0};

	CHECK(vm_snapshot_dev_section(n, sizeof(n), "virtio-blk", 3, &e) == 0);
	CHECK_STR(n, "dev.virtio-blk.3");
	CHECK(vm_snapshot_dev_section(n, sizeof(n), "a-very-long-device-name", 0, &e) < 0);
	CHECK_CONTAINS(e.msg, "a-very-long-device-name");
}

/* --- the device freeze, on a real event loop --------------------------------------- */

struct dev_sim {
	int efd;
	_Atomic int handled;
};

static void dev_handler(void *opaque, uint32_t events)
{
	struct dev_sim *d = opaque;
	uint64_t v;

	if (read(d->efd, &v, sizeof(v)) == sizeof(v))
		atomic_fetch_add(&d->handled, 1);
}

static void *run_loop(void *arg)
{
	struct vm *vm = arg;
	struct vs_err e;

	vm_event_loop_run(vm->loop, &e);
	return NULL;
}

/* waits until the loop has handled n events (progress, not time) */
static int wait_handled(struct dev_sim *d, int n)
{
	for (int i = 0; i < 100000 && atomic_load(&d->handled) < n; i++)
		usleep(100);
	return atomic_load(&d->handled) >= n;
}

TEST(device_freeze_holds_every_handler_until_the_thaw)
{
	struct vm *vm = calloc(1, sizeof(*vm));
	struct vs_err e = {0};
	struct dev_sim d = {.efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)};
	struct vm_freeze f;
	pthread_t th;
	uint64_t one = 1;

	REQUIRE(vm && d.efd >= 0);
	vm->loop = vm_event_loop_new(&e);
	REQUIRE(vm->loop);
	REQUIRE(vm_event_add(vm->loop, d.efd, EPOLLIN, dev_handler, &d, &e) == 0);
	REQUIRE(pthread_create(&th, NULL, run_loop, vm) == 0);
	CHECK(write(d.efd, &one, 8) == 8);
	CHECK(wait_handled(&d, 1));

	REQUIRE(vm_devices_freeze(vm, &f, &e) == 0);
	/* the freeze job runs on the loop thread: when it returns, the loop is
	 * inside it, so a device event now cannot be handled until the thaw */
	CHECK(write(d.efd, &one, 8) == 8);
	for (int i = 0; i < 1000; i++)
		sched_yield();
	CHECK_EQ(atomic_load(&d.handled), 1);
	vm_devices_thaw(&f);
	CHECK(wait_handled(&d, 2));

	vm_event_loop_stop(vm->loop);
	pthread_join(th, NULL);
	/* a loop that no longer runs: the freeze reports the VM stopping */
	atomic_store(&vm->stopping, true);
	CHECK(vm_devices_freeze(vm, &f, &e) < 0);
	CHECK_CONTAINS(e.msg, "stopping");
	vm_event_loop_free(vm->loop);
	close(d.efd);
	free(vm);
}
