/*
 * runtime/rootfs, devices, sysctl: safe path resolution in a hostile rootfs,
 * and the whole setup run for real in a forked child inside private mount,
 * pid and ipc namespaces (nothing reaches the host; checked at the end).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/vfs.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test.h"
#include "runtime/rootfs.h"
#include "runtime/spec.h"
#include "runtime/sysctl.h"
#include "vessel/cleanup.h"
#include "vessel/fs.h"

/* ---- helpers ---------------------------------------------------------------- */

static char *make_tmp(void)
{
	char tmpl[] = "/tmp/vs-rootfs-XXXXXX";

	if (!mkdtemp(tmpl))
		return NULL;
	return strdup(tmpl);
}

static void put(const char *dir, const char *rel, const char *content)
{
	autofree char *p = vs_path_join(dir, rel);
	struct vs_err e;

	vs_write_file(p, content, strlen(content), 0644, &e);
}

static void mkd(const char *dir, const char *rel)
{
	autofree char *p = vs_path_join(dir, rel);
	struct vs_err e;

	vs_mkdir_p(p, 0755, &e);
}

static void lnk(const char *dir, const char *rel, const char *target)
{
	autofree char *p = vs_path_join(dir, rel);

	if (symlink(target, p) < 0)
		perror(p);
}

static bool host_has_mount_under(const char *dir)
{
	autofree char *mi = NULL;
	struct vs_err e;

	if (vs_read_file("/proc/self/mountinfo", &mi, NULL, &e) < 0)
		return true;
	return strstr(mi, dir) != NULL;
}

static void read_fd_str(int fd, char *buf, size_t len)
{
	ssize_t n = vs_read_all(fd, buf, len - 1);

	buf[n > 0 ? n : 0] = '\0';
}

/* In a fresh user namespace: our own ids become root (the only map a process
 * may write for itself). */
static int map_self_to_root(int fd)
{
	struct vs_err e;

	if (vs_write_str("/proc/self/uid_map", "0 0 1", &e) < 0 ||
	    vs_write_str("/proc/self/setgroups", "deny", &e) < 0 ||
	    vs_write_str("/proc/self/gid_map", "0 0 1", &e) < 0) {
		dprintf(fd, "id maps: %s\n", e.msg);
		return -1;
	}
	return 0;
}

/*
 * Runs fn in a child that ran pre (if any) and unshared `flags`; with
 * CLONE_NEWPID, fn runs as pid 1 of the new namespace. fn writes its report to fd. Returns the
 * text.
 */
static int run_isolated(int flags, int (*pre)(int fd, void *arg), void (*fn)(int fd, void *arg),
			void *arg, char *out, size_t len)
{
	int p[2];
	pid_t pid;
	int status;

	if (pipe(p) < 0)
		return -1;
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		close(p[0]);
		if (pre && pre(p[1], arg) < 0)
			_exit(1);
		if (unshare(flags) < 0) {
			dprintf(p[1], "unshare: %s\n", strerror(errno));
			_exit(1);
		}
		if ((flags & CLONE_NEWUSER) && map_self_to_root(p[1]) < 0)
			_exit(1);
		if (flags & CLONE_NEWPID) {
			pid_t c = fork();

			if (c < 0)
				_exit(1);
			if (c > 0) {
				close(p[1]);
				_exit(waitpid(c, &status, 0) == c && WIFEXITED(status)
					      ? WEXITSTATUS(status)
					      : 1);
			}
		}
		fn(p[1], arg);
		_exit(0);
	}
	close(p[1]);
	read_fd_str(p[0], out, len);
	close(p[0]);
	if (waitpid(pid, &status, 0) != pid)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

/* ---- safe resolution ----------------------------------------------------- */

TEST(open_in_root_keeps_relative_and_absolute_symlinks_inside)
{
	autofree char *t = make_tmp();
	struct vs_err e;
	char buf[64];

	REQUIRE(t);
	mkd(t, "etc");
	put(t, "etc/hostname", "inside");
	lnk(t, "up", "../../../../../../etc");
	lnk(t, "abs", "/etc");
	lnk(t, "etc/loop", "../../..");
	autoclose int root = open(t, O_PATH | O_DIRECTORY);
	REQUIRE(root >= 0);

	const char *paths[] = {"up/hostname", "abs/hostname", "/../../etc/hostname",
			       "etc/loop/etc/hostname"};
	for (size_t i = 0; i < 4; i++) {
		autoclose int fd = ct_rootfs_open_in(root, paths[i], O_RDONLY, &e);

		CHECK(fd >= 0);
		if (fd < 0)
			continue;
		read_fd_str(fd, buf, sizeof(buf));
		CHECK_STR(buf, "inside");
	}
	struct vs_err e2;
	CHECK(vs_rm_rf(t, &e2) == 0);
}

TEST(mkpath_in_follows_dangling_symlinks_inside_the_root)
{
	autofree char *t = make_tmp();
	char host_target[64];
	struct vs_err e;
	struct stat st;

	REQUIRE(t);
	/* a name that must not appear on the host */
	snprintf(host_target, sizeof(host_target), "/vessel-escape-%d", (int)getpid());
	autofree char *link_to = vs_strdup_printf("%s/deep", host_target);
	lnk(t, "evil", link_to);
	lnk(t, "rel", "../../../../x/y");
	autoclose int root = open(t, O_PATH | O_DIRECTORY);
	REQUIRE(root >= 0);

	autoclose int a = ct_rootfs_mkpath_in(root, "/evil/sub", false, &e);
	CHECK(a >= 0);
	CHECK(stat(host_target, &st) < 0 && errno == ENOENT);
	autofree char *made = vs_strdup_printf("%s%s/deep/sub", t, host_target);
	CHECK(stat(made, &st) == 0 && S_ISDIR(st.st_mode));

	autoclose int b = ct_rootfs_mkpath_in(root, "rel/file", true, &e);
	CHECK(b >= 0);
	autofree char *f = vs_path_join(t, "x/y/file");
	CHECK(stat(f, &st) == 0 && S_ISREG(st.st_mode) && st.st_size == 0);

	autoclose int c = ct_rootfs_mkpath_in(root, "../../../outside/dir", false, &e);
	CHECK(c >= 0);
	autofree char *o = vs_path_join(t, "outside/dir");
	CHECK(stat(o, &st) == 0 && S_ISDIR(st.st_mode));

	/* existing paths are opened, not recreated */
	autoclose int d = ct_rootfs_mkpath_in(root, "/outside", false, &e);
	CHECK(d >= 0);
	struct vs_err e2;
	CHECK(vs_rm_rf(t, &e2) == 0);
}

TEST(mkpath_in_reports_symlink_loops)
{
	autofree char *t = make_tmp();
	struct vs_err e;

	REQUIRE(t);
	lnk(t, "a", "b");
	lnk(t, "b", "a");
	autoclose int root = open(t, O_PATH | O_DIRECTORY);
	REQUIRE(root >= 0);
	CHECK(ct_rootfs_mkpath_in(root, "/a/x", false, &e) < 0);
	CHECK_EQ(e.errnum, ELOOP);
	CHECK_CONTAINS(e.msg, "a/x");
	struct vs_err e2;
	CHECK(vs_rm_rf(t, &e2) == 0);
}

/* ---- sysctl ---------------------------------------------------------------- */

TEST(sysctl_path_maps_dots_and_refuses_escapes)
{
	char b[128];

	CHECK(ct_sysctl_path("net.ipv4.ip_forward", b, sizeof(b)) == 0);
	CHECK_STR(b, "/proc/sys/net/ipv4/ip_forward");
	CHECK(ct_sysctl_path("net/ipv4/conf/eth0.1/forwarding", b, sizeof(b)) == 0);
	CHECK_STR(b, "/proc/sys/net/ipv4/conf/eth0.1/forwarding");
	CHECK(ct_sysctl_path("", b, sizeof(b)) < 0);
	CHECK(ct_sysctl_path("kernel..x", b, sizeof(b)) < 0);
	CHECK(ct_sysctl_path("../../etc/passwd", b, sizeof(b)) < 0);
	CHECK(ct_sysctl_path("net/../../etc", b, sizeof(b)) < 0);
	CHECK(ct_sysctl_path("net.ipv4.ip_forward", b, 10) < 0);
}

static struct ct_namespace ns_ipc_net[] = {{CT_NS_IPC, NULL}, {CT_NS_NET, NULL}};

TEST(sysctl_check_needs_the_scoping_namespace)
{
	struct ct_kv kv[1];
	struct ct_spec s = {0};
	struct vs_err e;

	s.lnx.sysctl = kv;
	s.lnx.n_sysctl = 1;
	kv[0] = (struct ct_kv){"kernel.shmmax", "1"};
	CHECK(ct_sysctl_check(&s, &e) < 0);
	CHECK_CONTAINS(e.msg,
		       "config.json: linux.sysctl: \"kernel.shmmax\": needs a ipc namespace");
	kv[0].key = "net.ipv4.ip_forward";
	CHECK(ct_sysctl_check(&s, &e) < 0);
	CHECK_CONTAINS(e.msg, "needs a network namespace");
	kv[0].key = "vm.swappiness";
	CHECK(ct_sysctl_check(&s, &e) < 0);
	CHECK_CONTAINS(e.msg, "\"vm.swappiness\": not namespaced");
	kv[0].key = "kernel.hostname";
	CHECK(ct_sysctl_check(&s, &e) < 0);
	CHECK_CONTAINS(e.msg, "needs a uts namespace");

	s.lnx.namespaces = ns_ipc_net;
	s.lnx.n_namespaces = 2;
	const char *ok[] = {"kernel.shmmax",	 "kernel.msgmnb",	"kernel.sem",
			    "fs.mqueue.msg_max", "net.ipv4.ip_forward", "net/core/somaxconn"};
	for (size_t i = 0; i < 6; i++) {
		kv[0].key = (char *)ok[i];
		CHECK(ct_sysctl_check(&s, &e) == 0);
	}
	kv[0].key = "kernel.semx";
	CHECK(ct_sysctl_check(&s, &e) < 0);
	kv[0].key = "kernel.pid_max";
	CHECK(ct_sysctl_check(&s, &e) < 0);
}

/* ---- validate -------------------------------------------------------------- */

TEST(validate_names_missing_rootfs)
{
	struct ct_spec s = {0};
	struct vs_err e;

	s.root_path = "rootfs";
	CHECK(ct_rootfs_validate(&s, "/nonexistent-bundle", &e) < 0);
	CHECK_STR(e.msg, "config.json: root.path: /nonexistent-bundle/rootfs");
	CHECK_EQ(e.errnum, ENOENT);
	s.root_path = "/etc/hostname";
	CHECK(ct_rootfs_validate(&s, "/b", &e) < 0);
	CHECK_CONTAINS(e.msg, "config.json: root.path: /etc/hostname");
	CHECK_EQ(e.errnum, ENOTDIR);
}

TEST(validate_refuses_bad_mounts_by_index)
{
	autofree char *t = make_tmp();
	struct ct_spec s = {0};
	struct ct_mount m[2] = {0};
	char *bind[] = {"rbind", "ro", NULL};
	char *idmap[] = {"bind", "idmap", NULL};
	struct vs_err e;

	REQUIRE(t);
	s.root_path = t;
	s.mounts = m;
	s.n_mounts = 2;
	m[0] = (struct ct_mount){.destination = "/proc", .type = "proc", .source = "proc"};
	m[1] = (struct ct_mount){.destination = "/data", .source = "missing-dir", .options = bind};
	CHECK(ct_rootfs_validate(&s, "/nonexistent-bundle", &e) < 0);
	CHECK_CONTAINS(e.msg, "config.json: mounts[1].source: /nonexistent-bundle/missing-dir");
	CHECK_EQ(e.errnum, ENOENT);

	/* idmap with no mappings on the mount nor in linux */
	m[1] = (struct ct_mount){.destination = "/data", .source = "/tmp", .options = idmap};
	CHECK(ct_rootfs_validate(&s, "/b", &e) < 0);
	CHECK_CONTAINS(e.msg,
		       "config.json: mounts[1] (/data): idmap needs uidMappings and gidMappings");
	/* idmap of something that is not a bind */
	char *idmap_only[] = {"idmap", NULL};
	m[1] = (struct ct_mount){
		.destination = "/data", .type = "tmpfs", .source = "tmpfs", .options = idmap_only};
	CHECK(ct_rootfs_validate(&s, "/b", &e) < 0);
	CHECK_CONTAINS(e.msg,
		       "config.json: mounts[1] (/data): idmapped mounts must be bind mounts");

	m[1] = (struct ct_mount){.destination = "/data", .source = "x"};
	CHECK(ct_rootfs_validate(&s, "/b", &e) < 0);
	CHECK_CONTAINS(e.msg, "config.json: mounts[1].type: missing");

	m[1] = (struct ct_mount){.destination = "/data", .type = "tmpfs", .source = "tmpfs"};
	CHECK(ct_rootfs_validate(&s, "/b", &e) == 0);
	struct vs_err e2;
	CHECK(vs_rm_rf(t, &e2) == 0);
}

/* ---- the real thing, in private namespaces ---------------------------------- */

struct setup_case {
	struct ct_spec *spec;
	struct ct_rootfs_opts opts;
	const char *host_dir; /* bound read-only at /mnt/host */
	char *console;	      /* a file standing in for the pty */
	bool userns;
};

static void report(int fd, bool ok, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void report(int fd, bool ok, const char *fmt, ...)
{
	char b[512];
	va_list ap;

	if (ok)
		return;
	va_start(ap, fmt);
	vsnprintf(b, sizeof(b), fmt, ap);
	va_end(ap);
	dprintf(fd, "%s (errno %s)\n", b, strerror(errno));
}

static bool write_fails_erofs(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT, 0644);

	if (fd >= 0) {
		close(fd);
		return false;
	}
	return errno == EROFS;
}

static bool statfs_is_tmpfs(const char *path)
{
	struct statfs sf;

	return statfs(path, &sf) == 0 && sf.f_type == TMPFS_MAGIC;
}

static int count_pids(void)
{
	DIR *d = opendir("/proc");
	struct dirent *de;
	int n = 0;

	if (!d)
		return -1;
	while ((de = readdir(d)))
		if (de->d_name[0] >= '1' && de->d_name[0] <= '9')
			n++;
	closedir(d);
	return n;
}

static void setup_and_check(int fd, void *arg)
{
	struct setup_case *c = arg;
	struct vs_err e;
	struct stat st;
	char buf[256];
	char msg[700];

	if (ct_rootfs_setup(c->spec, &c->opts, &e) < 0 || ct_rootfs_finalize(c->spec, &e) < 0) {
		dprintf(fd, "setup failed: %s\n", vs_err_str(&e, msg, sizeof(msg)));
		return;
	}
	/* the root is the rootfs */
	report(fd, access("/marker", F_OK) == 0, "/marker missing: root not switched");
	report(fd, getcwd(buf, sizeof(buf)) && !strcmp(buf, "/"), "cwd is not /");
	/* /proc is ours: pid 1 is us, and only our processes are there */
	report(fd, getpid() == 1, "not pid 1");
	report(fd, count_pids() == 1, "/proc shows %d processes", count_pids());
	/* tmpfs with tmpcopyup */
	report(fd, access("/tmp/seed", F_OK) == 0, "/tmp/seed not copied up");
	report(fd, !write_fails_erofs("/tmp/new") && access("/tmp/new", F_OK) == 0,
	       "/tmp not writable");
	report(fd, statfs_is_tmpfs("/tmp"), "/tmp is not a tmpfs");
	/* read-only bind of a host dir */
	int h = open("/mnt/host/hostfile", O_RDONLY);

	report(fd, h >= 0, "/mnt/host/hostfile missing");
	if (h >= 0) {
		read_fd_str(h, buf, sizeof(buf));
		close(h);
		report(fd, !strcmp(buf, "from-host"), "/mnt/host/hostfile has \"%s\"", buf);
	}
	report(fd, write_fails_erofs("/mnt/host/x"), "/mnt/host is writable");
	/* root.readonly */
	report(fd, write_fails_erofs("/newfile"), "root is writable");
	/* maskedPaths */
	report(fd,
	       stat("/etc/shadow", &st) == 0 && S_ISCHR(st.st_mode) && st.st_rdev == makedev(1, 3),
	       "/etc/shadow not masked by /dev/null");
	report(fd, (h = open("/etc/shadow", O_RDONLY)) >= 0 && read(h, buf, 1) == 0,
	       "/etc/shadow readable");
	if (h >= 0)
		close(h);
	report(fd, access("/secret/key", F_OK) < 0 && errno == ENOENT, "/secret not masked");
	report(fd, write_fails_erofs("/secret/new"), "masked /secret is writable");
	/* readonlyPaths */
	report(fd, write_fails_erofs("/proc/sys/kernel/shmmni"), "/proc/sys writable");
	report(fd, access("/rw/data/file", F_OK) == 0, "/rw/data/file missing");
	report(fd, write_fails_erofs("/rw/data/new"), "readonly /rw/data is writable");
	/* sysctl, applied in our ipc namespace before /proc/sys went read-only */
	int s = open("/proc/sys/kernel/shmmni", O_RDONLY);
	report(fd, s >= 0, "open shmmni");
	if (s >= 0) {
		read_fd_str(s, buf, sizeof(buf));
		close(s);
		report(fd, !strcmp(buf, "1234\n"), "kernel.shmmni is %s", buf);
	}
	/* devices */
	int n = open("/dev/null", O_WRONLY);
	report(fd, n >= 0 && write(n, "x", 1) == 1, "/dev/null not writable");
	if (n >= 0)
		close(n);
	report(fd, stat("/dev/zero", &st) == 0 && st.st_rdev == makedev(1, 5), "/dev/zero");
	if (c->userns) {
		struct statvfs sv;

		/* devices are the host's nodes, bound */
		report(fd,
		       stat("/dev/full", &st) == 0 && S_ISCHR(st.st_mode) &&
			       st.st_rdev == makedev(1, 7),
		       "/dev/full from linux.devices");
		/* the host dir's mount was nosuid,nodev,noexec before the user
		 * namespace: locked, and the ro remount had to keep them */
		report(fd,
		       statvfs("/mnt/host", &sv) == 0 && (sv.f_flag & ST_NOSUID) &&
			       (sv.f_flag & ST_NODEV) && (sv.f_flag & ST_NOEXEC) &&
			       (sv.f_flag & ST_RDONLY),
		       "/mnt/host flags %lx", (unsigned long)sv.f_flag);
		/* no sysfs in a user namespace without a network namespace:
		 * the host's is bound instead */
		report(fd, access("/sys/kernel", F_OK) == 0, "/sys empty");
		report(fd, write_fails_erofs("/sys/kernel/x"), "/sys writable");
	} else {
		report(fd,
		       stat("/dev/vessel-test", &st) == 0 && S_ISCHR(st.st_mode) &&
			       st.st_rdev == makedev(1, 7) && (st.st_mode & 07777) == 0600 &&
			       st.st_uid == 7 && st.st_gid == 8,
		       "/dev/vessel-test wrong: mode %o uid %d", st.st_mode, (int)st.st_uid);
	}
	report(fd, stat("/dev/sub/fifo", &st) == 0 && S_ISFIFO(st.st_mode), "/dev/sub/fifo");
	ssize_t l = readlink("/dev/ptmx", buf, sizeof(buf) - 1);
	report(fd, l == 8 && !memcmp(buf, "pts/ptmx", 8), "/dev/ptmx link");
	l = readlink("/dev/fd", buf, sizeof(buf) - 1);
	report(fd, l == 13 && !memcmp(buf, "/proc/self/fd", 13), "/dev/fd link");
	report(fd, access("/dev/pts/ptmx", F_OK) == 0, "devpts not mounted");
	/* the old root is gone */
	report(fd, access(c->host_dir, F_OK) < 0, "host dir still visible");
	/* "rro" (mount_setattr AT_RECURSIVE) reaches the submount of the bind;
	 * the original tree stays writable */
	report(fd, write_fails_erofs("/recview/sub/x"), "rro did not reach the submount");
	report(fd, write_fails_erofs("/recview/x"), "rro did not make the bind read-only");
	report(fd, !write_fails_erofs("/rec/sub/x"), "rro leaked to the source tree");
	/* /dev/console is the console we were given */
	int k = open("/dev/console", O_RDONLY);
	report(fd, k >= 0, "/dev/console missing");
	if (k >= 0) {
		read_fd_str(k, buf, sizeof(buf));
		close(k);
		report(fd, !strcmp(buf, "console"), "/dev/console has \"%s\"", buf);
	}
	dprintf(fd, "done\n");
}

static char *o_proc[] = {"nosuid", "noexec", "nodev", NULL};
static char *o_dev[] = {"nosuid", "strictatime", "mode=755", "size=65536k", NULL};
static char *o_pts[] = {"nosuid",    "noexec", "newinstance", "ptmxmode=0666",
			"mode=0620", "gid=5",  NULL};
static char *o_tmp[] = {"nosuid", "nodev", "tmpcopyup", "mode=1777", NULL};
static char *o_host[] = {"rbind", "ro", "nosuid", NULL};
static char *o_sys[] = {"nosuid", "noexec", "nodev", "ro", NULL};
static char *o_rro[] = {"rbind", "rro", NULL};
static char *masked[] = {"/proc/kcore", "/etc/shadow", "/secret", "/does/not/exist", NULL};
static char *readonly[] = {"/proc/sys", "/rw/data", "/not/there", NULL};
static struct ct_namespace ns_all[] = {{CT_NS_MOUNT, NULL}, {CT_NS_PID, NULL}, {CT_NS_IPC, NULL}};
static struct ct_kv sysctls[] = {{"kernel.shmmni", "1234"}};

/* A busybox-style rootfs with seeds for every check, and the spec using it. */
static void build_case(const char *t, struct setup_case *c, struct ct_spec *s, struct ct_mount *m,
		       struct ct_device *d, char **host_dir)
{
	*host_dir = vs_path_join(t, "host");
	autofree char *root = vs_path_join(t, "rootfs");

	mkd(t, "rootfs/bin");
	mkd(t, "rootfs/rec");
	mkd(t, "rootfs/tmp");
	mkd(t, "host");
	put(t, "host/hostfile", "from-host");
	put(t, "rootfs/marker", "x");
	mkd(t, "rootfs/etc");
	put(t, "rootfs/etc/shadow", "root:secret");
	put(t, "rootfs/tmp/seed", "seed");
	mkd(t, "rootfs/secret");
	put(t, "rootfs/secret/key", "k");
	mkd(t, "rootfs/rw/data");
	put(t, "rootfs/rw/data/file", "f");
	/* a hostile image: /mnt is a link out of the rootfs */
	lnk(t, "rootfs/mnt", "../../../../mnt-escape");

	m[0] = (struct ct_mount){
		.destination = "/proc", .type = "proc", .source = "proc", .options = o_proc};
	m[1] = (struct ct_mount){
		.destination = "/dev", .type = "tmpfs", .source = "tmpfs", .options = o_dev};
	m[2] = (struct ct_mount){
		.destination = "/dev/pts", .type = "devpts", .source = "devpts", .options = o_pts};
	m[3] = (struct ct_mount){
		.destination = "/tmp", .type = "tmpfs", .source = "tmpfs", .options = o_tmp};
	m[4] = (struct ct_mount){
		.destination = "/mnt/host", .type = "bind", .source = *host_dir, .options = o_host};
	m[5] = (struct ct_mount){
		.destination = "/sys", .type = "sysfs", .source = "sysfs", .options = o_sys};
	d[0] = (struct ct_device){.type = 'c',
				  .path = "/dev/vessel-test",
				  .major = 1,
				  .minor = 7,
				  .file_mode_set = true,
				  .file_mode = 0600,
				  .uid_set = true,
				  .uid = 7,
				  .gid_set = true,
				  .gid = 8};
	d[1] = (struct ct_device){.type = 'p', .path = "/dev/sub/fifo"};

	s->root_path = strdup(root);
	s->root_readonly = true;
	s->mounts = m;
	m[6] = (struct ct_mount){.destination = "/rec", .type = "tmpfs", .source = "tmpfs"};
	m[7] = (struct ct_mount){.destination = "/rec/sub", .type = "tmpfs", .source = "tmpfs"};
	/* the host path of /rec is the rootfs bind, where m[6] and m[7] live */
	m[8] = (struct ct_mount){.destination = "/recview",
				 .type = "bind",
				 .source = "rootfs/rec",
				 .options = o_rro};
	s->n_mounts = 9;
	s->lnx.devices = d;
	s->lnx.n_devices = 2;
	s->lnx.namespaces = ns_all;
	s->lnx.n_namespaces = 3;
	s->lnx.sysctl = sysctls;
	s->lnx.n_sysctl = 1;
	s->lnx.masked_paths = masked;
	s->lnx.readonly_paths = readonly;
	c->spec = s;
	c->opts.bundle = t;
	c->host_dir = *host_dir;
	put(t, "console", "console");
	c->console = vs_path_join(t, "console");
	c->opts.console_path = c->console;
}

/* Before the user namespace: the host dir gets a nosuid,nodev,noexec mount,
 * which the user namespace then sees as locked. */
static int lock_host_dir(int fd, void *arg)
{
	struct setup_case *c = arg;

	if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
	    mount("tmpfs", c->host_dir, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0) {
		dprintf(fd, "lock_host_dir: %s\n", strerror(errno));
		return -1;
	}
	put(c->host_dir, "hostfile", "from-host");
	return 0;
}

static void run_setup_case(bool no_pivot, bool userns)
{
	autofree char *t = make_tmp();
	autofree char *host_dir = NULL;
	struct setup_case c = {0};
	struct ct_spec s = {0};
	struct ct_mount m[9];
	struct ct_device d[2];
	char out[4096];
	struct vs_err e;
	struct stat st;

	REQUIRE(t);
	build_case(t, &c, &s, m, d, &host_dir);
	c.opts.no_pivot = no_pivot;
	c.opts.in_userns = c.userns = userns;
	int flags = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC | (userns ? CLONE_NEWUSER : 0);
	if (userns) {
		/* m[2] keeps gid=5, which this map lacks: the fallback drops it */
		d[0] = (struct ct_device){.type = 'c', .path = "/dev/full", .major = 1, .minor = 7};
	}
	CHECK(ct_rootfs_validate(&s, t, &e) == 0);
	int rc = run_isolated(flags, userns ? lock_host_dir : NULL, setup_and_check, &c, out,
			      sizeof(out));
	CHECK_EQ(rc, 0);
	if (strcmp(out, "done\n"))
		fprintf(stderr, "  child reported:\n%s", out);
	CHECK_STR(out, "done\n");
	/* nothing leaked: no mount under the temp dir, no escape, host sysctl intact */
	CHECK(!host_has_mount_under(t));
	CHECK(stat("/mnt-escape", &st) < 0 && errno == ENOENT);
	autofree char *inside = vs_path_join(t, "rootfs/mnt-escape/host");
	CHECK(stat(inside, &st) == 0 && S_ISDIR(st.st_mode));
	free(s.root_path);
	free(c.console);
	CHECK(vs_rm_rf(t, &e) == 0);
}

TEST(setup_mounts_devices_masks_and_readonly_root_in_private_namespaces)
{
	if (geteuid() != 0)
		SKIP("needs root");
	run_setup_case(false, false);
}

TEST(setup_with_no_pivot_moves_the_rootfs_and_chroots)
{
	if (geteuid() != 0)
		SKIP("needs root");
	run_setup_case(true, false);
}

TEST(setup_in_user_namespace_binds_devices_and_keeps_locked_flags)
{
	if (geteuid() != 0)
		SKIP("needs root");
	run_setup_case(false, true);
}

static void failing_mount(int fd, void *arg)
{
	struct setup_case *c = arg;
	struct vs_err e;
	char msg[700];

	if (ct_rootfs_setup(c->spec, &c->opts, &e) == 0) {
		dprintf(fd, "setup succeeded\n");
		return;
	}
	dprintf(fd, "%s", vs_err_str(&e, msg, sizeof(msg)));
}

TEST(failing_mount_names_the_mount_and_leaves_nothing)
{
	autofree char *t = make_tmp();
	struct ct_spec s = {0};
	struct ct_mount m[2];
	char *none[] = {NULL};
	struct setup_case c = {.spec = &s};
	char out[1024];
	struct vs_err e;

	if (geteuid() != 0)
		SKIP("needs root");
	REQUIRE(t);
	mkd(t, "rootfs");
	s.root_path = "rootfs";
	s.mounts = m;
	s.n_mounts = 2;
	m[0] = (struct ct_mount){
		.destination = "/proc", .type = "proc", .source = "proc", .options = none};
	m[1] = (struct ct_mount){
		.destination = "/x", .type = "vesselnofs", .source = "src", .options = none};
	c.opts.bundle = t;
	run_isolated(CLONE_NEWNS | CLONE_NEWPID, NULL, failing_mount, &c, out, sizeof(out));
	CHECK_STR(out,
		  "config.json: mounts[1] (src -> /x, type vesselnofs): mount: No such device");
	CHECK(!host_has_mount_under(t));
	CHECK(vs_rm_rf(t, &e) == 0);
}

/* The propagation tag of "/" in our mountinfo ("shared:", "master:" or none). */
static void root_propagation(int fd, void *arg)
{
	struct setup_case *c = arg;
	autofree char *mi = NULL;
	struct vs_err e;
	char msg[700];

	if (ct_rootfs_setup(c->spec, &c->opts, &e) < 0 ||
	    vs_read_file("/proc/self/mountinfo", &mi, NULL, &e) < 0) {
		dprintf(fd, "setup failed: %s\n", vs_err_str(&e, msg, sizeof(msg)));
		return;
	}
	for (char *save = NULL, *l = strtok_r(mi, "\n", &save); l;
	     l = strtok_r(NULL, "\n", &save)) {
		char mp[256];

		if (sscanf(l, "%*d %*d %*s %*s %255s", mp) == 1 && !strcmp(mp, "/")) {
			dprintf(fd, "%s",
				strstr(l, " shared:")	? "shared"
				: strstr(l, " master:") ? "slave"
							: "private");
			return;
		}
	}
	dprintf(fd, "no / in mountinfo");
}

/* A private copy of the host tree made rshared, so the container's copy of
 * it has peers (a slave needs a master; a host tree may be private). */
static int shared_tree(int fd, void *arg)
{
	if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_SHARED, NULL) < 0) {
		dprintf(fd, "shared_tree: %s\n", strerror(errno));
		return -1;
	}
	/* keep this namespace (the master) alive after the child leaves it:
	 * the fd stays open until the child exits */
	if (open("/proc/self/ns/mnt", O_RDONLY) < 0) {
		dprintf(fd, "shared_tree: open ns: %s\n", strerror(errno));
		return -1;
	}
	return 0;
}

TEST(rootfs_propagation_applies_to_the_new_root)
{
	static const struct {
		unsigned long flags;
		const char *want;
	} cases[] = {
		{0, "private"},			/* the default: rprivate */
		{MS_SHARED | MS_REC, "shared"}, /* pivot_root refuses shared: set after */
		{MS_SLAVE | MS_REC, "slave"},
	};
	autofree char *t = make_tmp();
	char out[256];
	struct vs_err e;
	struct ct_mount proc = {.destination = "/proc", .type = "proc", .source = "proc"};

	if (geteuid() != 0)
		SKIP("needs root");
	REQUIRE(t);
	mkd(t, "rootfs");
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct ct_spec s = {0};
		struct setup_case c = {.spec = &s};

		s.root_path = "rootfs";
		s.mounts = &proc;
		s.n_mounts = 1;
		s.lnx.rootfs_propagation_flags = cases[i].flags;
		c.opts.bundle = t;
		run_isolated(CLONE_NEWNS | CLONE_NEWPID, shared_tree, root_propagation, &c, out,
			     sizeof(out));
		CHECK_STR(out, cases[i].want);
	}
	CHECK(!host_has_mount_under(t));
	CHECK(vs_rm_rf(t, &e) == 0);
}

/* ---- idmapped mounts -------------------------------------------------------- */

struct idmap_case {
	struct ct_spec spec;
	struct ct_mount mount;
	struct ct_id_map map;
	struct ct_rootfs_opts opts;
	struct ct_idmap_mounts idmaps;
	const char *file; /* in the container */
	uid_t want;
};

/* In the host user namespace, before the container's: as the runtime would. */
static int prepare_idmaps(int fd, void *arg)
{
	struct idmap_case *c = arg;
	struct vs_err e;
	char msg[700];

	if (ct_rootfs_idmap_prepare(&c->spec, c->opts.bundle, &c->idmaps, &e) < 0) {
		dprintf(fd, "prepare: %s\n", vs_err_str(&e, msg, sizeof(msg)));
		return -1;
	}
	c->opts.idmaps = &c->idmaps;
	return 0;
}

static void idmap_check(int fd, void *arg)
{
	struct idmap_case *c = arg;
	struct vs_err e;
	struct stat st;
	char msg[700];

	if (ct_rootfs_setup(&c->spec, &c->opts, &e) < 0) {
		dprintf(fd, "setup failed: %s\n", vs_err_str(&e, msg, sizeof(msg)));
		return;
	}
	if (stat(c->file, &st) < 0) {
		dprintf(fd, "stat %s: %s\n", c->file, strerror(errno));
		return;
	}
	dprintf(fd, "%u:%u", (unsigned)st.st_uid, (unsigned)st.st_gid);
}

static void run_idmap_case(bool userns, uint32_t container_id, uint32_t host_id, uid_t disk_owner,
			   const char *want)
{
	autofree char *t = make_tmp();
	struct idmap_case c = {0};
	char *opts[] = {"bind", "idmap", NULL};
	char out[1024];
	struct vs_err e;
	struct stat st;

	REQUIRE(t);
	mkd(t, "rootfs");
	mkd(t, "src");
	put(t, "src/f", "x");
	autofree char *f = vs_path_join(t, "src/f");
	REQUIRE(chown(f, disk_owner, disk_owner) == 0);
	if (userns)
		REQUIRE(chmod(t, 0755) == 0); /* reachable for the container's root */
	c.map = (struct ct_id_map){.container_id = container_id, .host_id = host_id, .size = 1};
	c.mount = (struct ct_mount){.destination = "/idm",
				    .type = "bind",
				    .source = "src",
				    .options = opts,
				    .uid_mappings = &c.map,
				    .n_uid_mappings = 1,
				    .gid_mappings = &c.map,
				    .n_gid_mappings = 1};
	c.spec.root_path = "rootfs";
	c.spec.mounts = &c.mount;
	c.spec.n_mounts = 1;
	c.opts.bundle = t;
	c.opts.in_userns = userns;
	c.file = "/idm/f";
	CHECK(ct_rootfs_validate(&c.spec, t, &e) == 0);
	run_isolated(CLONE_NEWNS | CLONE_NEWPID | (userns ? CLONE_NEWUSER : 0), prepare_idmaps,
		     idmap_check, &c, out, sizeof(out));
	CHECK_STR(out, want);
	/* the source itself is untouched */
	CHECK(stat(f, &st) == 0 && st.st_uid == disk_owner);
	CHECK(!host_has_mount_under(t));
	CHECK(vs_rm_rf(t, &e) == 0);
}

TEST(idmapped_bind_shows_mapped_owners)
{
	if (geteuid() != 0)
		SKIP("needs root");
	/* on-disk 0 is seen as 1234 through the mount ("containerID hostID size") */
	run_idmap_case(false, 0, 1234, 0, "1234:1234");
	/* an owner outside the map is the overflow id */
	run_idmap_case(false, 0, 1234, 5, "65534:65534");
}

TEST(idmapped_bind_prepared_outside_is_attached_inside_a_user_namespace)
{
	if (geteuid() != 0)
		SKIP("needs root");
	/* the container's user namespace maps only 0<->0 (run_isolated): a
	 * file owned by 1000 on disk is its root through the idmap */
	run_idmap_case(true, 1000, 0, 1000, "0:0");
}

TEST(idmap_without_preparation_is_a_clear_error)
{
	autofree char *t = make_tmp();
	struct idmap_case c = {0};
	char *opts[] = {"rbind", "ridmap", NULL};
	char out[1024];
	struct vs_err e;

	if (geteuid() != 0)
		SKIP("needs root");
	REQUIRE(t);
	mkd(t, "rootfs");
	mkd(t, "src");
	c.map = (struct ct_id_map){.container_id = 0, .host_id = 1000, .size = 10};
	c.mount = (struct ct_mount){.destination = "/idm",
				    .type = "bind",
				    .source = "src",
				    .options = opts,
				    .uid_mappings = &c.map,
				    .n_uid_mappings = 1,
				    .gid_mappings = &c.map,
				    .n_gid_mappings = 1};
	c.spec.root_path = "rootfs";
	c.spec.mounts = &c.mount;
	c.spec.n_mounts = 1;
	c.opts.bundle = t;
	c.file = "/idm";
	run_isolated(CLONE_NEWNS | CLONE_NEWPID, NULL, idmap_check, &c, out, sizeof(out));
	CHECK_CONTAINS(
		out,
		"config.json: mounts[0] (src -> /idm, type bind): idmapped mount not prepared");
	CHECK(!host_has_mount_under(t));
	CHECK(vs_rm_rf(t, &e) == 0);
}
