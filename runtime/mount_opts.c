/* mounts[].options -> mount(2) flags, propagation, mount_setattr attributes, data. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/statvfs.h>

#include "runtime/mount_opts.h"
#include "vessel/cleanup.h"

enum opt_kind {
	OPT_SET,   /* flag on */
	OPT_CLEAR, /* flag off */
	OPT_PROPAGATION,
	OPT_ATTR_SET, /* recursive: mount_setattr attr_set (and attr_clr for atime) */
	OPT_ATTR_CLR, /* recursive: mount_setattr attr_clr */
	OPT_TMPCOPYUP,
	OPT_IDMAP,
	OPT_RIDMAP,
	OPT_IGNORE,
};

struct opt {
	const char *name;
	enum opt_kind kind;
	unsigned long flag; /* MS_* or MOUNT_ATTR_* */
};

/* mount(8) "FILESYSTEM-INDEPENDENT MOUNT OPTIONS" and runtime-spec config-linux.md
 * "Mount Options" (the r* forms were added in runtime-spec 1.1). */
static const struct opt opts[] = {
	{"defaults", OPT_IGNORE, 0},
	{"ro", OPT_SET, MS_RDONLY},
	{"rw", OPT_CLEAR, MS_RDONLY},
	{"nosuid", OPT_SET, MS_NOSUID},
	{"suid", OPT_CLEAR, MS_NOSUID},
	{"nodev", OPT_SET, MS_NODEV},
	{"dev", OPT_CLEAR, MS_NODEV},
	{"noexec", OPT_SET, MS_NOEXEC},
	{"exec", OPT_CLEAR, MS_NOEXEC},
	{"sync", OPT_SET, MS_SYNCHRONOUS},
	{"async", OPT_CLEAR, MS_SYNCHRONOUS},
	{"dirsync", OPT_SET, MS_DIRSYNC},
	{"remount", OPT_SET, MS_REMOUNT},
	{"mand", OPT_SET, MS_MANDLOCK},
	{"nomand", OPT_CLEAR, MS_MANDLOCK},
	{"atime", OPT_CLEAR, MS_NOATIME},
	{"noatime", OPT_SET, MS_NOATIME},
	{"diratime", OPT_CLEAR, MS_NODIRATIME},
	{"nodiratime", OPT_SET, MS_NODIRATIME},
	{"relatime", OPT_SET, MS_RELATIME},
	{"norelatime", OPT_CLEAR, MS_RELATIME},
	{"strictatime", OPT_SET, MS_STRICTATIME},
	{"nostrictatime", OPT_CLEAR, MS_STRICTATIME},
	{"lazytime", OPT_SET, MS_LAZYTIME},
	{"nolazytime", OPT_CLEAR, MS_LAZYTIME},
	{"iversion", OPT_SET, MS_I_VERSION},
	{"noiversion", OPT_CLEAR, MS_I_VERSION},
	{"silent", OPT_SET, MS_SILENT},
	{"loud", OPT_CLEAR, MS_SILENT},
	{"nosymfollow", OPT_SET, MS_NOSYMFOLLOW},
	{"symfollow", OPT_CLEAR, MS_NOSYMFOLLOW},
	{"bind", OPT_SET, MS_BIND},
	{"rbind", OPT_SET, MS_BIND | MS_REC},
	{"shared", OPT_PROPAGATION, MS_SHARED},
	{"rshared", OPT_PROPAGATION, MS_SHARED | MS_REC},
	{"slave", OPT_PROPAGATION, MS_SLAVE},
	{"rslave", OPT_PROPAGATION, MS_SLAVE | MS_REC},
	{"private", OPT_PROPAGATION, MS_PRIVATE},
	{"rprivate", OPT_PROPAGATION, MS_PRIVATE | MS_REC},
	{"unbindable", OPT_PROPAGATION, MS_UNBINDABLE},
	{"runbindable", OPT_PROPAGATION, MS_UNBINDABLE | MS_REC},
	{"rro", OPT_ATTR_SET, MOUNT_ATTR_RDONLY},
	{"rrw", OPT_ATTR_CLR, MOUNT_ATTR_RDONLY},
	{"rnosuid", OPT_ATTR_SET, MOUNT_ATTR_NOSUID},
	{"rsuid", OPT_ATTR_CLR, MOUNT_ATTR_NOSUID},
	{"rnodev", OPT_ATTR_SET, MOUNT_ATTR_NODEV},
	{"rdev", OPT_ATTR_CLR, MOUNT_ATTR_NODEV},
	{"rnoexec", OPT_ATTR_SET, MOUNT_ATTR_NOEXEC},
	{"rexec", OPT_ATTR_CLR, MOUNT_ATTR_NOEXEC},
	{"rnosymfollow", OPT_ATTR_SET, MOUNT_ATTR_NOSYMFOLLOW},
	{"rsymfollow", OPT_ATTR_CLR, MOUNT_ATTR_NOSYMFOLLOW},
	{"rnodiratime", OPT_ATTR_SET, MOUNT_ATTR_NODIRATIME},
	{"rdiratime", OPT_ATTR_CLR, MOUNT_ATTR_NODIRATIME},
	/* The atime mode is one field (MOUNT_ATTR__ATIME): mount_setattr(2)
	 * wants all of it in attr_clr and one value in attr_set. "atime" and
	 * "norelatime" mean the kernel default, relatime. */
	{"rnoatime", OPT_ATTR_SET, MOUNT_ATTR_NOATIME},
	{"rstrictatime", OPT_ATTR_SET, MOUNT_ATTR_STRICTATIME},
	{"rrelatime", OPT_ATTR_SET, MOUNT_ATTR_RELATIME},
	{"ratime", OPT_ATTR_SET, MOUNT_ATTR_RELATIME},
	{"rnorelatime", OPT_ATTR_SET, MOUNT_ATTR_STRICTATIME},
	{"rnostrictatime", OPT_ATTR_SET, MOUNT_ATTR_RELATIME},
	{"tmpcopyup", OPT_TMPCOPYUP, 1},
	{"notmpcopyup", OPT_TMPCOPYUP, 0},
	{"idmap", OPT_IDMAP, 0},
	{"ridmap", OPT_RIDMAP, 0},
};

static bool is_atime_opt(const char *name)
{
	static const char *const atime[] = {"rnoatime", "rstrictatime", "rrelatime",
					    "ratime",	"rnorelatime",	"rnostrictatime"};

	for (size_t i = 0; i < sizeof(atime) / sizeof(atime[0]); i++)
		if (!strcmp(name, atime[i]))
			return true;
	return false;
}

static int data_append(char **data, const char *opt)
{
	char *n;

	if (!*data) {
		n = strdup(opt);
	} else {
		size_t a = strlen(*data), b = strlen(opt);

		n = realloc(*data, a + b + 2);
		if (n) {
			n[a] = ',';
			memcpy(n + a + 1, opt, b + 1);
		}
	}
	if (!n)
		return -1;
	*data = n;
	return 0;
}

int ct_mount_opts_parse(char *const *options, const char *what, struct ct_mount_opts *out,
			struct vs_err *e)
{
	struct ct_mount_opts o = {0};

	for (size_t i = 0; options && options[i]; i++) {
		const char *s = options[i];
		const struct opt *hit = NULL;

		if (!*s) {
			ct_mount_opts_free(&o);
			return vs_fail(e, EINVAL, "%s: options[%zu]: empty option", what, i);
		}
		for (size_t k = 0; k < sizeof(opts) / sizeof(opts[0]); k++) {
			if (!strcmp(s, opts[k].name)) {
				hit = &opts[k];
				break;
			}
		}
		if (!hit) {
			if (data_append(&o.data, s) < 0) {
				ct_mount_opts_free(&o);
				return vs_fail(e, ENOMEM, "%s: options: out of memory", what);
			}
			continue;
		}
		switch (hit->kind) {
		case OPT_SET:
			o.flags |= hit->flag;
			o.cleared &= ~hit->flag;
			/* atime modes exclude each other: the last one wins */
			if (hit->flag & (MS_NOATIME | MS_RELATIME | MS_STRICTATIME)) {
				unsigned long others =
					(MS_NOATIME | MS_RELATIME | MS_STRICTATIME) & ~hit->flag;

				o.flags &= ~others;
			}
			break;
		case OPT_CLEAR:
			o.flags &= ~hit->flag;
			o.cleared |= hit->flag;
			break;
		case OPT_PROPAGATION: o.propagation = hit->flag; break;
		case OPT_ATTR_SET:
			if (is_atime_opt(hit->name)) {
				o.attr_set &= ~(uint64_t)MOUNT_ATTR__ATIME;
				o.attr_clr |= MOUNT_ATTR__ATIME;
			} else {
				o.attr_clr &= ~(uint64_t)hit->flag;
			}
			o.attr_set |= hit->flag;
			break;
		case OPT_ATTR_CLR:
			o.attr_set &= ~(uint64_t)hit->flag;
			o.attr_clr |= hit->flag;
			break;
		case OPT_TMPCOPYUP: o.tmpcopyup = hit->flag; break;
		case OPT_IDMAP: o.idmap = true; break;
		case OPT_RIDMAP:
			o.idmap = true;
			o.idmap_recursive = true;
			break;
		case OPT_IGNORE: break;
		}
	}
	*out = o;
	return 0;
}

void ct_mount_opts_free(struct ct_mount_opts *o)
{
	free(o->data);
	o->data = NULL;
}

unsigned long ct_mount_opts_remount_flags(const struct ct_mount_opts *o, unsigned long statfs_flags)
{
	static const struct {
		unsigned long st, ms;
	} keep[] = {
		{ST_RDONLY, MS_RDONLY}, {ST_NOSUID, MS_NOSUID},		{ST_NODEV, MS_NODEV},
		{ST_NOEXEC, MS_NOEXEC}, {ST_NODIRATIME, MS_NODIRATIME},
	};
	const unsigned long atime = MS_NOATIME | MS_RELATIME | MS_STRICTATIME;
	const unsigned long bind_only = MS_BIND | MS_REC | MS_SILENT | MS_REMOUNT;
	unsigned long want = o->flags & ~(MS_REC | MS_REMOUNT);
	unsigned long source = 0;

	for (size_t i = 0; i < sizeof(keep) / sizeof(keep[0]); i++)
		if (statfs_flags & keep[i].st)
			source |= keep[i].ms;

	/* Nothing beyond the bind itself was asked, and nothing the source has
	 * was turned off: the bind already is what the config wants. */
	if (!(o->flags & ~bind_only) && !(o->cleared & source))
		return 0;

	want |= source & ~o->cleared;
	if (!((o->flags | o->cleared) & atime)) {
		/* Keep the source's atime mode: it is locked in a user namespace
		 * and a remount without atime flags would pick relatime. */
		if (statfs_flags & ST_NOATIME)
			want |= MS_NOATIME;
		else if (statfs_flags & ST_RELATIME)
			want |= MS_RELATIME;
		else
			want |= MS_STRICTATIME;
	}
	return want | MS_REMOUNT | MS_BIND;
}

int ct_propagation_parse(const char *s, unsigned long *out)
{
	for (size_t k = 0; k < sizeof(opts) / sizeof(opts[0]); k++) {
		if (opts[k].kind == OPT_PROPAGATION && !strcmp(s, opts[k].name)) {
			*out = opts[k].flag;
			return 0;
		}
	}
	return -1;
}
