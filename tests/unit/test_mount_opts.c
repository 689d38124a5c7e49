/* runtime/mount_opts: option strings -> mount(2) flags, propagation, attributes, data. */
#include <errno.h>
#include <sys/mount.h>
#include <sys/statvfs.h>

#include "test.h"
#include "runtime/mount_opts.h"

static int parse(struct ct_mount_opts *o, char *const *v)
{
	struct vs_err e;

	return ct_mount_opts_parse(v, "config.json: mounts[0]", o, &e);
}

TEST(mount_opts_flag_options_set_and_clear_flags)
{
	char *v[] = {"nosuid",	"nodev",       "noexec",  "ro",		"sync",
		     "dirsync", "mand",	       "noatime", "nodiratime", "lazytime",
		     "silent",	"nosymfollow", NULL};
	struct ct_mount_opts o;

	REQUIRE(parse(&o, v) == 0);
	CHECK_EQ(o.flags, MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RDONLY | MS_SYNCHRONOUS |
				  MS_DIRSYNC | MS_MANDLOCK | MS_NOATIME | MS_NODIRATIME |
				  MS_LAZYTIME | MS_SILENT | MS_NOSYMFOLLOW);
	CHECK_EQ(o.cleared, 0);
	CHECK(o.data == NULL);
	ct_mount_opts_free(&o);

	char *w[] = {"suid",	  "dev",	"exec",		 "rw",	       "async",
		     "nomand",	  "atime",	"diratime",	 "nolazytime", "loud",
		     "symfollow", "norelatime", "nostrictatime", NULL};
	REQUIRE(parse(&o, w) == 0);
	CHECK_EQ(o.flags, 0);
	CHECK_EQ(o.cleared, MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RDONLY | MS_SYNCHRONOUS |
				    MS_MANDLOCK | MS_NOATIME | MS_NODIRATIME | MS_LAZYTIME |
				    MS_SILENT | MS_NOSYMFOLLOW | MS_RELATIME | MS_STRICTATIME);
	ct_mount_opts_free(&o);
}

TEST(mount_opts_later_option_wins)
{
	char *v[] = {"ro", "nosuid", "rw", NULL};
	char *atime[] = {"noatime", "strictatime", NULL};
	struct ct_mount_opts o;

	REQUIRE(parse(&o, v) == 0);
	CHECK_EQ(o.flags, MS_NOSUID);
	CHECK_EQ(o.cleared, MS_RDONLY);
	ct_mount_opts_free(&o);
	/* the atime modes exclude each other */
	REQUIRE(parse(&o, atime) == 0);
	CHECK_EQ(o.flags, MS_STRICTATIME);
	ct_mount_opts_free(&o);
}

TEST(mount_opts_bind_rbind_and_remount)
{
	char *b[] = {"bind", NULL};
	char *rb[] = {"rbind", "remount", NULL};
	struct ct_mount_opts o;

	REQUIRE(parse(&o, b) == 0);
	CHECK_EQ(o.flags, MS_BIND);
	ct_mount_opts_free(&o);
	REQUIRE(parse(&o, rb) == 0);
	CHECK_EQ(o.flags, MS_BIND | MS_REC | MS_REMOUNT);
	ct_mount_opts_free(&o);
}

TEST(mount_opts_unknown_options_go_to_data_in_order)
{
	char *v[] = {"nosuid", "size=65536k", "mode=755", "x-custom", "uid=5", NULL};
	struct ct_mount_opts o;

	REQUIRE(parse(&o, v) == 0);
	CHECK_EQ(o.flags, MS_NOSUID);
	CHECK_STR(o.data, "size=65536k,mode=755,x-custom,uid=5");
	ct_mount_opts_free(&o);
	CHECK(o.data == NULL);
}

TEST(mount_opts_propagation_last_wins)
{
	char *v[] = {"rbind", "shared", "rslave", NULL};
	char *p[] = {"runbindable", NULL};
	struct ct_mount_opts o;

	REQUIRE(parse(&o, v) == 0);
	CHECK_EQ(o.propagation, MS_SLAVE | MS_REC);
	CHECK_EQ(o.flags, MS_BIND | MS_REC);
	ct_mount_opts_free(&o);
	REQUIRE(parse(&o, p) == 0);
	CHECK_EQ(o.propagation, MS_UNBINDABLE | MS_REC);
	ct_mount_opts_free(&o);
}

TEST(mount_opts_recursive_options_become_mount_attributes)
{
	char *v[] = {"rbind",	"rro",	       "rnosuid",      "rnodev",
		     "rnoexec", "rnodiratime", "rnosymfollow", NULL};
	char *undo[] = {"rro", "rrw", "rnosuid", "rsuid", NULL};
	struct ct_mount_opts o;

	REQUIRE(parse(&o, v) == 0);
	CHECK_EQ(o.attr_set, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV |
				     MOUNT_ATTR_NOEXEC | MOUNT_ATTR_NODIRATIME |
				     MOUNT_ATTR_NOSYMFOLLOW);
	CHECK_EQ(o.attr_clr, 0);
	/* the non-recursive flags are untouched */
	CHECK_EQ(o.flags, MS_BIND | MS_REC);
	ct_mount_opts_free(&o);

	REQUIRE(parse(&o, undo) == 0);
	CHECK_EQ(o.attr_set, 0);
	CHECK_EQ(o.attr_clr, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID);
	ct_mount_opts_free(&o);
}

TEST(mount_opts_recursive_atime_sets_the_whole_atime_field)
{
	char *v[] = {"rnoatime", NULL};
	char *w[] = {"rnoatime", "rstrictatime", NULL};
	char *r[] = {"ratime", NULL};
	struct ct_mount_opts o;

	/* mount_setattr(2): an atime change clears all of MOUNT_ATTR__ATIME */
	REQUIRE(parse(&o, v) == 0);
	CHECK_EQ(o.attr_set, MOUNT_ATTR_NOATIME);
	CHECK_EQ(o.attr_clr, MOUNT_ATTR__ATIME);
	ct_mount_opts_free(&o);
	REQUIRE(parse(&o, w) == 0);
	CHECK_EQ(o.attr_set, MOUNT_ATTR_STRICTATIME);
	CHECK_EQ(o.attr_clr, MOUNT_ATTR__ATIME);
	ct_mount_opts_free(&o);
	REQUIRE(parse(&o, r) == 0);
	CHECK_EQ(o.attr_set, MOUNT_ATTR_RELATIME);
	CHECK_EQ(o.attr_clr, MOUNT_ATTR__ATIME);
	ct_mount_opts_free(&o);
}

TEST(mount_opts_tmpcopyup_and_idmap_are_recognised)
{
	char *v[] = {"tmpcopyup", "idmap", NULL};
	char *r[] = {"ridmap", NULL};
	struct ct_mount_opts o;

	REQUIRE(parse(&o, v) == 0);
	CHECK(o.tmpcopyup);
	CHECK(o.idmap);
	CHECK(!o.idmap_recursive);
	CHECK(o.data == NULL);
	ct_mount_opts_free(&o);
	REQUIRE(parse(&o, r) == 0);
	CHECK(o.idmap && o.idmap_recursive);
	ct_mount_opts_free(&o);
}

TEST(mount_opts_empty_option_is_refused_with_its_index)
{
	char *v[] = {"ro", "", NULL};
	struct ct_mount_opts o;
	struct vs_err e;

	CHECK(ct_mount_opts_parse(v, "config.json: mounts[3]", &o, &e) < 0);
	CHECK_CONTAINS(e.msg, "config.json: mounts[3]: options[1]: empty option");
	CHECK_EQ(e.errnum, EINVAL);
}

TEST(mount_opts_notmpcopyup_and_iversion)
{
	char *v[] = {"tmpcopyup", "iversion", "notmpcopyup", NULL};
	char *w[] = {"noiversion", "rnostrictatime", NULL};
	struct ct_mount_opts o;

	REQUIRE(parse(&o, v) == 0);
	CHECK(!o.tmpcopyup);
	CHECK_EQ(o.flags, MS_I_VERSION);
	CHECK(o.data == NULL);
	ct_mount_opts_free(&o);
	REQUIRE(parse(&o, w) == 0);
	CHECK_EQ(o.cleared, MS_I_VERSION);
	CHECK_EQ(o.attr_set, MOUNT_ATTR_RELATIME);
	CHECK_EQ(o.attr_clr, MOUNT_ATTR__ATIME);
	CHECK(o.data == NULL);
	ct_mount_opts_free(&o);
}

TEST(mount_opts_no_options_is_empty)
{
	struct ct_mount_opts o;

	REQUIRE(parse(&o, NULL) == 0);
	CHECK_EQ(o.flags, 0);
	CHECK_EQ(o.propagation, 0);
	CHECK(o.data == NULL);
}

TEST(mount_opts_remount_keeps_locked_source_flags)
{
	char *v[] = {"bind", "ro", NULL};
	char *plain[] = {"rbind", NULL};
	char *rw[] = {"bind", "rw", "suid", NULL};
	struct ct_mount_opts o;
	unsigned long f;

	REQUIRE(parse(&o, v) == 0);
	/* source nosuid,nodev,noatime: kept, ro added */
	f = ct_mount_opts_remount_flags(&o, ST_NOSUID | ST_NODEV | ST_NOATIME);
	CHECK_EQ(f, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOATIME);
	/* relatime source, nothing else */
	f = ct_mount_opts_remount_flags(&o, ST_RELATIME);
	CHECK_EQ(f, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_RELATIME);
	/* no atime flag at all: strictatime, said explicitly */
	f = ct_mount_opts_remount_flags(&o, ST_NOEXEC);
	CHECK_EQ(f, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOEXEC | MS_STRICTATIME);
	ct_mount_opts_free(&o);

	/* a bind asking for nothing more needs no remount */
	REQUIRE(parse(&o, plain) == 0);
	CHECK_EQ(ct_mount_opts_remount_flags(&o, ST_NOSUID | ST_RDONLY | ST_RELATIME), 0);
	ct_mount_opts_free(&o);

	/* turning a source flag off does need one, and drops just those */
	REQUIRE(parse(&o, rw) == 0);
	f = ct_mount_opts_remount_flags(&o, ST_RDONLY | ST_NOSUID | ST_NODEV | ST_RELATIME);
	CHECK_EQ(f, MS_REMOUNT | MS_BIND | MS_NODEV | MS_RELATIME);
	ct_mount_opts_free(&o);
}

TEST(propagation_names_parse)
{
	unsigned long f = 0;

	CHECK(ct_propagation_parse("rprivate", &f) == 0 && f == (MS_PRIVATE | MS_REC));
	CHECK(ct_propagation_parse("shared", &f) == 0 && f == MS_SHARED);
	CHECK(ct_propagation_parse("rslave", &f) == 0 && f == (MS_SLAVE | MS_REC));
	CHECK(ct_propagation_parse("unbindable", &f) == 0 && f == MS_UNBINDABLE);
	CHECK(ct_propagation_parse("ro", &f) < 0);
	CHECK(ct_propagation_parse("", &f) < 0);
}
