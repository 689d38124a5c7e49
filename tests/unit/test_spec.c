/* config.json parsing: every section's values, and the error for each kind
 * of bad input naming the file and field. */
#include <errno.h>
#include <limits.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/resource.h>
#include <unistd.h>

#include "test.h"
#include "vessel/cleanup.h"
#include "vessel/fs.h"
#include "vessel/json.h"
#include "runtime/spec.h"

/* Tests write JSON with single quotes for readability; this swaps them. */
static char *dq(const char *s)
{
	char *d = strdup(s);

	for (char *p = d; *p; p++)
		if (*p == '\'')
			*p = '"';
	return d;
}

static struct ct_spec *parse_ok(const char *json)
{
	autofree char *buf = dq(json);
	struct ct_spec *s = NULL;
	struct vs_err e = {0};

	if (ct_spec_parse("config.json", buf, strlen(buf), &s, &e) < 0) {
		fprintf(stderr, "  unexpected error: %s\n", e.msg);
		return NULL;
	}
	return s;
}

/* Parses a config that must fail; returns the message (static). */
static const char *parse_err(const char *json)
{
	static struct vs_err e;
	autofree char *buf = dq(json);
	struct ct_spec *s = NULL;

	memset(&e, 0, sizeof(e));
	if (ct_spec_parse("config.json", buf, strlen(buf), &s, &e) == 0) {
		ct_spec_free(s);
		return "(parsed without error)";
	}
	if (s)
		return "(out set on failure)";
	return e.msg;
}

#define HEAD "'ociVersion':'1.2.0','root':{'path':'rootfs'}"
#define PROC "'process':{'args':['sh'],'cwd':'/'}"

static const char full_config[] =
	"{'ociVersion':'1.2.0',"
	" 'root':{'path':'rootfs','readonly':true},"
	" 'hostname':'box','domainname':'example.org',"
	" 'mounts':["
	"  {'destination':'/proc','type':'proc','source':'proc'},"
	"  {'destination':'/data','source':'/srv/data','options':['rbind','ro'],"
	"   'uidMappings':[{'containerID':0,'hostID':100000,'size':65536}],"
	"   'gidMappings':[{'containerID':0,'hostID':200000,'size':1000}]}],"
	" 'process':{'terminal':true,'consoleSize':{'height':40,'width':120},"
	"  'user':{'uid':1000,'gid':1001,'umask':18,'additionalGids':[5,6,7]},"
	"  'args':['/bin/sh','-c','echo hi'],"
	"  'env':['PATH=/bin','A=b=c'],"
	"  'cwd':'/home',"
	"  'capabilities':{'bounding':['CAP_KILL'],'effective':['CAP_KILL'],"
	"                  'permitted':['CAP_KILL']},"
	"  'rlimits':[{'type':'RLIMIT_NOFILE','hard':4096,'soft':1024},"
	"             {'type':'RLIMIT_CORE','hard':0,'soft':0}],"
	"  'noNewPrivileges':true,'apparmorProfile':'aa','selinuxLabel':'sl',"
	"  'oomScoreAdj':-500,"
	"  'ioPriority':{'class':'IOPRIO_CLASS_BE','priority':4},"
	"  'scheduler':{'policy':'SCHED_DEADLINE','nice':3,'priority':0,"
	"               'flags':['SCHED_FLAG_RESET_ON_FORK','SCHED_FLAG_RECLAIM'],"
	"               'runtime':1000,'deadline':2000,'period':3000},"
	"  'execCPUAffinity':{'initial':'0','final':'0-1,3'}},"
	" 'linux':{"
	"  'namespaces':[{'type':'pid'},{'type':'network','path':'/run/netns/x'},"
	"   {'type':'mount'},{'type':'ipc'},{'type':'uts'},{'type':'user'},"
	"   {'type':'cgroup'},{'type':'time'}],"
	"  'uidMappings':[{'containerID':0,'hostID':1000,'size':1},"
	"                 {'containerID':1,'hostID':100000,'size':65535}],"
	"  'gidMappings':[{'containerID':0,'hostID':1000,'size':1}],"
	"  'timeOffsets':{'monotonic':{'secs':-5,'nanosecs':7},'boottime':{'secs':86400}},"
	"  'devices':[{'type':'c','path':'/dev/fuse','major':10,'minor':229,"
	"              'fileMode':438,'uid':0,'gid':0},"
	"             {'type':'p','path':'/dev/fifo'}],"
	"  'cgroupsPath':'/vessel/t1',"
	"  'resources':{'pids':{'limit':64}},"
	"  'rootfsPropagation':'rslave',"
	"  'sysctl':{'net.ipv4.ip_forward':'1','kernel.msgmax':'8192'},"
	"  'maskedPaths':['/proc/kcore'],'readonlyPaths':['/proc/sys','/proc/bus'],"
	"  'mountLabel':'ml',"
	"  'personality':{'domain':'LINUX32','flags':[]},"
	"  'intelRdt':{'closID':'g1','l3CacheSchema':'L3:0=ff','schemata':['MB:0=50'],"
	"              'enableMonitoring':true},"
	"  'memoryPolicy':{'mode':'MPOL_BIND','nodes':'0-1','flags':['MPOL_F_STATIC_NODES']}},"
	" 'hooks':{"
	"  'prestart':[{'path':'/bin/pre','args':['pre','a'],'env':['X=1'],'timeout':5}],"
	"  'createRuntime':[{'path':'/bin/cr'}],"
	"  'createContainer':[{'path':'/bin/cc'},{'path':'/bin/cc2'}],"
	"  'startContainer':[{'path':'/bin/sc'}],"
	"  'poststart':[{'path':'/bin/ps'}],"
	"  'poststop':[{'path':'/bin/pst','timeout':1}]},"
	" 'annotations':{'org.example.key':'value','io.x':''},"
	" 'someExtension':{'ignored':true}"
	"}";

TEST(full_config_parses_top_level_root_and_mounts)
{
	struct ct_spec *s = parse_ok(full_config);

	REQUIRE(s);
	CHECK(s->json != NULL);
	CHECK_STR(s->oci_version, "1.2.0");
	CHECK_STR(s->root_path, "rootfs");
	CHECK(s->root_readonly);
	CHECK_STR(s->hostname, "box");
	CHECK_STR(s->domainname, "example.org");
	REQUIRE(s->n_mounts == 2);
	CHECK_STR(s->mounts[0].destination, "/proc");
	CHECK_STR(s->mounts[0].type, "proc");
	CHECK_STR(s->mounts[0].source, "proc");
	CHECK(s->mounts[0].options == NULL);
	CHECK(s->mounts[1].type == NULL);
	CHECK_STR(s->mounts[1].options[0], "rbind");
	CHECK_STR(s->mounts[1].options[1], "ro");
	CHECK(s->mounts[1].options[2] == NULL);
	REQUIRE(s->mounts[1].n_uid_mappings == 1 && s->mounts[1].n_gid_mappings == 1);
	CHECK_EQ(s->mounts[1].uid_mappings[0].host_id, 100000);
	CHECK_EQ(s->mounts[1].uid_mappings[0].size, 65536);
	CHECK_EQ(s->mounts[1].gid_mappings[0].host_id, 200000);
	REQUIRE(s->n_annotations == 2);
	CHECK_STR(ct_spec_annotation(s, "org.example.key"), "value");
	CHECK_STR(ct_spec_annotation(s, "io.x"), "");
	CHECK(ct_spec_annotation(s, "nope") == NULL);
	ct_spec_free(s);
}

TEST(full_config_parses_process)
{
	struct ct_spec *s = parse_ok(full_config);
	struct ct_process *p;

	REQUIRE(s && s->process);
	p = s->process;
	CHECK(p->terminal);
	CHECK(p->console_size_set);
	CHECK_EQ(p->console_height, 40);
	CHECK_EQ(p->console_width, 120);
	CHECK_EQ(p->uid, 1000);
	CHECK_EQ(p->gid, 1001);
	CHECK(p->umask_set);
	CHECK_EQ(p->umask, 022);
	REQUIRE(p->n_additional_gids == 3);
	CHECK_EQ(p->additional_gids[2], 7);
	CHECK_STR(p->args[0], "/bin/sh");
	CHECK_STR(p->args[2], "echo hi");
	CHECK(p->args[3] == NULL);
	CHECK_STR(p->env[1], "A=b=c");
	CHECK_STR(p->cwd, "/home");
	CHECK(p->capabilities_json != NULL);
	CHECK(p->caps.set);
	CHECK_EQ(p->caps.bounding, 1ULL << 5); /* CAP_KILL */
	CHECK_EQ(p->caps.effective, 1ULL << 5);
	CHECK_EQ(p->caps.ambient, 0);
	REQUIRE(p->n_rlimits == 2);
	CHECK_STR(p->rlimits[0].type, "RLIMIT_NOFILE");
	CHECK_EQ(p->rlimits[0].resource, RLIMIT_NOFILE);
	CHECK_EQ(p->rlimits[0].hard, 4096);
	CHECK_EQ(p->rlimits[0].soft, 1024);
	CHECK_EQ(p->rlimits[1].resource, RLIMIT_CORE);
	CHECK(p->no_new_privileges);
	CHECK_STR(p->apparmor_profile, "aa");
	CHECK_STR(p->selinux_label, "sl");
	CHECK(p->oom_score_adj_set);
	CHECK_EQ(p->oom_score_adj, -500);
	CHECK(p->io_priority_set);
	CHECK_EQ(p->io_priority_class, 2);
	CHECK_EQ(p->io_priority, 4);
	CHECK(p->scheduler_set);
	CHECK_EQ(p->scheduler.policy, 6);
	CHECK_EQ(p->scheduler.nice, 3);
	CHECK_EQ(p->scheduler.flags, 0x03);
	CHECK_EQ(p->scheduler.runtime, 1000);
	CHECK_EQ(p->scheduler.deadline, 2000);
	CHECK_EQ(p->scheduler.period, 3000);
	CHECK_STR(p->exec_cpu_affinity_initial, "0");
	CHECK_STR(p->exec_cpu_affinity_final, "0-1,3");
	ct_spec_free(s);
}

TEST(full_config_parses_linux)
{
	struct ct_spec *s = parse_ok(full_config);
	struct ct_linux *l;

	REQUIRE(s);
	l = &s->lnx;
	CHECK_EQ(l->n_namespaces, 8);
	for (int t = 0; t < CT_NS_COUNT; t++)
		CHECK(ct_spec_has_ns(s, (enum ct_ns_type)t));
	CHECK_STR(ct_spec_ns_path(s, CT_NS_NET), "/run/netns/x");
	CHECK(ct_spec_ns_path(s, CT_NS_PID) == NULL);
	REQUIRE(l->n_uid_mappings == 2 && l->n_gid_mappings == 1);
	CHECK_EQ(l->uid_mappings[1].container_id, 1);
	CHECK_EQ(l->uid_mappings[1].host_id, 100000);
	CHECK_EQ(l->uid_mappings[1].size, 65535);
	CHECK(l->monotonic.set);
	CHECK_EQ(l->monotonic.secs, -5);
	CHECK_EQ(l->monotonic.nanosecs, 7);
	CHECK(l->boottime.set);
	CHECK_EQ(l->boottime.secs, 86400);
	REQUIRE(l->n_devices == 2);
	CHECK_EQ(l->devices[0].type, 'c');
	CHECK_STR(l->devices[0].path, "/dev/fuse");
	CHECK_EQ(l->devices[0].major, 10);
	CHECK_EQ(l->devices[0].minor, 229);
	CHECK(l->devices[0].file_mode_set);
	CHECK_EQ(l->devices[0].file_mode, 0666);
	CHECK(l->devices[0].uid_set && l->devices[0].gid_set);
	CHECK_EQ(l->devices[1].type, 'p');
	CHECK(!l->devices[1].file_mode_set);
	CHECK_STR(l->cgroups_path, "/vessel/t1");
	CHECK(l->resources_json != NULL);
	CHECK(l->resources.has_pids_limit);
	CHECK_EQ(l->resources.pids_limit, 64);
	CHECK(l->seccomp_json == NULL);
	CHECK(l->seccomp == NULL);
	CHECK_STR(l->rootfs_propagation, "rslave");
	CHECK_EQ(l->rootfs_propagation_flags, MS_SLAVE | MS_REC);
	REQUIRE(l->n_sysctl == 2);
	CHECK_STR(l->sysctl[0].key, "net.ipv4.ip_forward");
	CHECK_STR(l->sysctl[0].value, "1");
	CHECK_STR(l->masked_paths[0], "/proc/kcore");
	CHECK_STR(l->readonly_paths[1], "/proc/bus");
	CHECK_STR(l->mount_label, "ml");
	CHECK(l->personality_set);
	CHECK_EQ(l->personality_domain, PER_LINUX32);
	CHECK(l->intel_rdt_set);
	CHECK_STR(l->intel_rdt_clos_id, "g1");
	CHECK_STR(l->intel_rdt_l3_cache_schema, "L3:0=ff");
	CHECK_STR(l->intel_rdt_schemata[0], "MB:0=50");
	CHECK(l->intel_rdt_enable_monitoring);
	CHECK(!l->intel_rdt_enable_cmt);
	CHECK(l->memory_policy_set);
	CHECK_EQ(l->memory_policy_mode, 2);
	CHECK_STR(l->memory_policy_nodes, "0-1");
	CHECK_EQ(l->memory_policy_flags, 1 << 15);
	ct_spec_free(s);
}

TEST(full_config_parses_hooks)
{
	struct ct_spec *s = parse_ok(full_config);
	struct ct_hooks *h;

	REQUIRE(s);
	h = &s->hooks;
	REQUIRE(h->n_prestart == 1);
	CHECK_STR(h->prestart[0].path, "/bin/pre");
	CHECK_STR(h->prestart[0].args[1], "a");
	CHECK_STR(h->prestart[0].env[0], "X=1");
	CHECK_EQ(h->prestart[0].timeout, 5);
	CHECK_EQ(h->n_create_runtime, 1);
	REQUIRE(h->n_create_container == 2);
	CHECK_STR(h->create_container[1].path, "/bin/cc2");
	CHECK_EQ(h->create_container[1].timeout, 0);
	CHECK(h->create_container[1].args == NULL);
	CHECK_EQ(h->n_start_container, 1);
	CHECK_EQ(h->n_poststart, 1);
	REQUIRE(h->n_poststop == 1);
	CHECK_EQ(h->poststop[0].timeout, 1);
	ct_spec_free(s);
}

TEST(minimal_config_without_process_or_linux_parses)
{
	struct ct_spec *s = parse_ok("{" HEAD "}");

	REQUIRE(s);
	CHECK(s->process == NULL);
	CHECK_EQ(s->lnx.n_namespaces, 0);
	CHECK(!ct_spec_has_ns(s, CT_NS_PID));
	CHECK_EQ(s->n_mounts, 0);
	CHECK(!s->root_readonly);
	ct_spec_free(s);
}

TEST(load_reads_bundle_config_and_names_missing_file)
{
	char dir[] = "/tmp/vessel-spec-XXXXXX";
	struct vs_err e = {0};
	struct ct_spec *s = NULL;

	REQUIRE(mkdtemp(dir));
	autofree char *cfg = vs_path_join(dir, "config.json");
	CHECK_EQ(ct_spec_load(dir, &s, &e), -1);
	CHECK_CONTAINS(e.msg, cfg);
	CHECK_EQ(e.errnum, ENOENT);

	autofree char *json =
		dq("{" HEAD ",'hostname':'h','linux':{'namespaces':[{'type':'uts'}]}}");
	REQUIRE(vs_write_file(cfg, json, strlen(json), 0644, &e) == 0);
	CHECK_EQ(ct_spec_load(dir, &s, &e), 0);
	if (s)
		CHECK_STR(s->hostname, "h");
	ct_spec_free(s);

	s = NULL;
	REQUIRE(vs_write_file(cfg, "{\"ociVersion\": 1", 16, 0644, &e) == 0);
	CHECK_EQ(ct_spec_load(dir, &s, &e), -1);
	CHECK_CONTAINS(e.msg, cfg);
	CHECK_CONTAINS(e.msg, "line 1");
	unlink(cfg);
	rmdir(dir);
}

TEST(malformed_json_and_non_object_documents_are_refused)
{
	CHECK_CONTAINS(parse_err("{'ociVersion':"), "config.json: line 1: unexpected end of JSON");
	CHECK_CONTAINS(parse_err("{\n'a':\n,}"), "config.json: line 3: invalid JSON");
	CHECK_CONTAINS(parse_err("[1,2]"), "config.json: expected a JSON object, got array");
	CHECK_CONTAINS(parse_err(""), "config.json");
}

TEST(oci_version_must_be_present_and_1x)
{
	CHECK_CONTAINS(parse_err("{'root':{'path':'r'}}"),
		       "config.json: ociVersion: required field missing");
	CHECK_CONTAINS(parse_err("{'ociVersion':1,'root':{'path':'r'}}"),
		       "config.json: ociVersion: expected string, got integer");
	CHECK_CONTAINS(parse_err("{'ociVersion':'2.0.0','root':{'path':'r'}}"),
		       "ociVersion: unsupported version \"2.0.0\"");
	CHECK_CONTAINS(parse_err("{'ociVersion':'1.x','root':{'path':'r'}}"),
		       "unsupported version");
	CHECK_CONTAINS(parse_err("{'ociVersion':'10.0','root':{'path':'r'}}"),
		       "unsupported version");
	struct ct_spec *s = parse_ok("{'ociVersion':'1.0.2-dev','root':{'path':'r'}}");
	CHECK(s != NULL);
	ct_spec_free(s);
}

TEST(root_and_root_path_are_required)
{
	CHECK_CONTAINS(parse_err("{'ociVersion':'1.0.0'}"),
		       "config.json: root: required field missing");
	CHECK_CONTAINS(parse_err("{'ociVersion':'1.0.0','root':{}}"),
		       "config.json: root.path: required field missing");
	CHECK_CONTAINS(parse_err("{'ociVersion':'1.0.0','root':{'path':''}}"),
		       "config.json: root.path: must not be empty");
	CHECK_CONTAINS(parse_err("{'ociVersion':'1.0.0','root':{'path':'r','readonly':'yes'}}"),
		       "config.json: root.readonly: expected boolean, got string");
}

TEST(wrong_types_name_the_field)
{
	CHECK_CONTAINS(
		parse_err("{" HEAD ",'process':{'args':['sh'],'cwd':'/','user':{'uid':'0'}}}"),
		"config.json: process.user.uid: expected integer, got string");
	CHECK_CONTAINS(
		parse_err("{" HEAD ",'process':{'args':['sh'],'cwd':'/','user':{'uid':-1}}}"),
		"config.json: process.user.uid: -1 out of range");
	CHECK_CONTAINS(parse_err("{" HEAD ",'process':{'args':['sh',3],'cwd':'/'}}"),
		       "config.json: process.args[1]: expected string, got integer");
	CHECK_CONTAINS(parse_err("{" HEAD ",'mounts':{}}"),
		       "config.json: mounts: expected array, got object");
	CHECK_CONTAINS(parse_err("{" HEAD ",'mounts':[{'destination':'/x'},5]}"),
		       "config.json: mounts[1]: expected object, got integer");
	CHECK_CONTAINS(parse_err("{" HEAD ",'linux':{'namespaces':['pid']}}"),
		       "config.json: linux.namespaces[0]: expected object, got string");
	CHECK_CONTAINS(parse_err("{" HEAD ",'linux':[]}"),
		       "config.json: linux: expected object, got array");
	CHECK_CONTAINS(
		parse_err("{" HEAD
			  ",'process':{'args':['sh'],'cwd':'/','user':{'additionalGids':['a']}}}"),
		"config.json: process.user.additionalGids[0]: expected integer, got string");
	CHECK_CONTAINS(parse_err("{" HEAD ",'annotations':{'a':1}}"),
		       "config.json: annotations.a: expected string, got integer");
	CHECK_CONTAINS(parse_err("{" HEAD ",'linux':{'sysctl':{'kernel.x':true}}}"),
		       "config.json: linux.sysctl.kernel.x: expected string, got boolean");
}

TEST(namespace_type_errors_name_the_entry)
{
	CHECK_CONTAINS(
		parse_err(
			"{" HEAD
			",'linux':{'namespaces':[{'type':'pid'},{'type':'ipc'},{'type':'foo'}]}}"),
		"config.json: linux.namespaces[2].type: unknown namespace type \"foo\"");
	CHECK_CONTAINS(
		parse_err("{" HEAD ",'linux':{'namespaces':[{'type':'pid'},{'type':'pid'}]}}"),
		"config.json: linux.namespaces[1].type: namespace \"pid\" is listed twice");
	CHECK_CONTAINS(parse_err("{" HEAD ",'linux':{'namespaces':[{}]}}"),
		       "config.json: linux.namespaces[0].type: required field missing");
	CHECK_CONTAINS(parse_err("{" HEAD ",'linux':{'namespaces':[{'type':'net','path':'x'}]}}"),
		       "unknown namespace type \"net\"");
	CHECK_CONTAINS(
		parse_err("{" HEAD ",'linux':{'namespaces':[{'type':'network','path':'x'}]}}"),
		"config.json: linux.namespaces[0].path: \"x\" must be an absolute path");
}

TEST(id_mappings_are_validated)
{
	CHECK_CONTAINS(
		parse_err("{" HEAD
			  ",'linux':{'uidMappings':[{'containerID':0,'hostID':0,'size':1}]}}"),
		"config.json: linux.uidMappings: set but no user namespace is requested");
	CHECK_CONTAINS(
		parse_err("{" HEAD
			  ",'linux':{'gidMappings':[{'containerID':0,'hostID':0,'size':1}]}}"),
		"config.json: linux.gidMappings: set but no user namespace is requested");
	CHECK_CONTAINS(parse_err("{" HEAD ",'linux':{'namespaces':[{'type':'user'}],"
				 "'uidMappings':[{'containerID':0,'hostID':0,'size':0}]}}"),
		       "config.json: linux.uidMappings[0].size: must be greater than 0");
	CHECK_CONTAINS(
		parse_err("{" HEAD ",'linux':{'namespaces':[{'type':'user'}],"
			  "'uidMappings':[{'containerID':0,'hostID':4294967000,'size':1000}]}}"),
		"config.json: linux.uidMappings[0]: hostID 4294967000 + size 1000 overflows");
	CHECK_CONTAINS(
		parse_err("{" HEAD ",'linux':{'namespaces':[{'type':'user'}],"
			  "'gidMappings':[{'containerID':4294967295,'hostID':0,'size':1}]}}"),
		"config.json: linux.gidMappings[0]: containerID 4294967295 + size 1 overflows");
	CHECK_CONTAINS(
		parse_err("{" HEAD ",'linux':{'namespaces':[{'type':'user'}],"
			  "'uidMappings':[{'containerID':0,'hostID':1000,'size':10},"
			  "{'containerID':5,'hostID':5000,'size':10}]}}"),
		"config.json: linux.uidMappings[1]: containerID range overlaps uidMappings[0]");
	CHECK_CONTAINS(parse_err("{" HEAD ",'linux':{'namespaces':[{'type':'user'}],"
				 "'uidMappings':[{'containerID':0,'hostID':1000,'size':10},"
				 "{'containerID':10,'hostID':1009,'size':10}]}}"),
		       "hostID range overlaps");
	CHECK_CONTAINS(parse_err("{" HEAD ",'linux':{'namespaces':[{'type':'user'}],"
				 "'uidMappings':[{'containerID':0,'size':1}]}}"),
		       "config.json: linux.uidMappings[0].hostID: required field missing");
	CHECK_CONTAINS(parse_err("{" HEAD ",'mounts':[{'destination':'/m',"
				 "'uidMappings':[{'containerID':0,'hostID':1,'size':0}]}]}"),
		       "config.json: mounts[0].uidMappings[0].size: must be greater than 0");
}

TEST(mount_destination_must_be_absolute)
{
	CHECK_CONTAINS(parse_err("{" HEAD ",'mounts':[{'destination':'/a'},{'destination':'/b'},"
				 "{'destination':'/c'},{'destination':'rel/d'}]}"),
		       "config.json: mounts[3].destination: must be an absolute path");
	CHECK_CONTAINS(parse_err("{" HEAD ",'mounts':[{'type':'tmpfs'}]}"),
		       "config.json: mounts[0].destination: required field missing");
	CHECK_CONTAINS(parse_err("{" HEAD ",'mounts':[{'destination':'/a','options':'ro'}]}"),
		       "config.json: mounts[0].options: expected array, got string");
}

TEST(process_rules_are_enforced)
{
	CHECK_CONTAINS(parse_err("{" HEAD ",'process':{'cwd':'/'}}"),
		       "config.json: process.args: required field missing");
	CHECK_CONTAINS(parse_err("{" HEAD ",'process':{'args':[],'cwd':'/'}}"),
		       "config.json: process.args: must not be empty");
	CHECK_CONTAINS(parse_err("{" HEAD ",'process':{'args':['sh']}}"),
		       "config.json: process.cwd: required field missing");
	CHECK_CONTAINS(parse_err("{" HEAD ",'process':{'args':['sh'],'cwd':'tmp'}}"),
		       "config.json: process.cwd: \"tmp\" must be an absolute path");
	CHECK_CONTAINS(
		parse_err("{" HEAD ",'process':{'args':['sh'],'cwd':'/','env':['A=1','NOEQ']}}"),
		"config.json: process.env[1]: \"NOEQ\" is not of the form KEY=value");
	CHECK_CONTAINS(
		parse_err("{" HEAD ",'process':{'args':['sh'],'cwd':'/','commandLine':'sh'}}"),
		"config.json: process.commandLine: only supported on Windows");
	CHECK_CONTAINS(
		parse_err("{" HEAD ",'process':{'args':['sh'],'cwd':'/','oomScoreAdj':1001}}"),
		"config.json: process.oomScoreAdj: 1001 out of range");
	CHECK_CONTAINS(
		parse_err("{" HEAD
			  ",'process':{'args':['sh'],'cwd':'/','consoleSize':{'height':1}}}"),
		"config.json: process.consoleSize.width: required field missing");
	CHECK_CONTAINS(
		parse_err(
			"{" HEAD
			",'process':{'args':['sh'],'cwd':'/','ioPriority':{'class':'IOPRIO_CLASS_X'}}}"),
		"config.json: process.ioPriority.class: unknown I/O priority class");
	CHECK_CONTAINS(
		parse_err(
			"{" HEAD
			",'process':{'args':['sh'],'cwd':'/','ioPriority':{'class':'IOPRIO_CLASS_RT','priority':8}}}"),
		"config.json: process.ioPriority.priority: 8 out of range");
	CHECK_CONTAINS(
		parse_err(
			"{" HEAD
			",'process':{'args':['sh'],'cwd':'/','scheduler':{'policy':'SCHED_NOPE'}}}"),
		"config.json: process.scheduler.policy: unknown scheduling policy");
	CHECK_CONTAINS(
		parse_err(
			"{" HEAD
			",'process':{'args':['sh'],'cwd':'/','scheduler':{'policy':'SCHED_FIFO','flags':['X']}}}"),
		"config.json: process.scheduler.flags[0]: unknown scheduler flag \"X\"");
	CHECK_CONTAINS(
		parse_err(
			"{" HEAD
			",'process':{'args':['sh'],'cwd':'/','execCPUAffinity':{'final':'1-0'}}}"),
		"config.json: process.execCPUAffinity.final: \"1-0\" is not a CPU list");
	CHECK_CONTAINS(
		parse_err("{" HEAD ",'process':{'args':['sh'],'cwd':'/','user':{'umask':512}}}"),
		"config.json: process.user.umask: 512 out of range");
	CHECK_CONTAINS(parse_err("{" HEAD ",'process':'sh'}"),
		       "config.json: process: expected object, got string");
}

TEST(rlimit_errors_name_the_entry)
{
	CHECK_CONTAINS(parse_err("{" HEAD ",'process':{'args':['sh'],'cwd':'/','rlimits':"
				 "[{'type':'RLIMIT_FOO','hard':1,'soft':1}]}}"),
		       "config.json: process.rlimits[0].type: unknown rlimit \"RLIMIT_FOO\"");
	CHECK_CONTAINS(parse_err("{" HEAD ",'process':{'args':['sh'],'cwd':'/','rlimits':"
				 "[{'type':'RLIMIT_NOFILE','hard':1,'soft':1},"
				 "{'type':'RLIMIT_NOFILE','hard':2,'soft':2}]}}"),
		       "config.json: process.rlimits[1].type: RLIMIT_NOFILE repeats");
	CHECK_CONTAINS(parse_err("{" HEAD ",'process':{'args':['sh'],'cwd':'/','rlimits':"
				 "[{'type':'RLIMIT_NOFILE','hard':1,'soft':2}]}}"),
		       "config.json: process.rlimits[0]: soft limit 2 exceeds hard limit 1");
	CHECK_CONTAINS(parse_err("{" HEAD ",'process':{'args':['sh'],'cwd':'/','rlimits':"
				 "[{'type':'RLIMIT_NOFILE','soft':1}]}}"),
		       "config.json: process.rlimits[0].hard: required field missing");
	CHECK_CONTAINS(parse_err("{" HEAD ",'process':{'args':['sh'],'cwd':'/','rlimits':"
				 "[{'type':'RLIMIT_NOFILE','hard':-1,'soft':1}]}}"),
		       "config.json: process.rlimits[0].hard: must not be negative");
	CHECK_EQ(ct_rlimit_resource("RLIMIT_STACK"), RLIMIT_STACK);
	CHECK_EQ(ct_rlimit_resource("RLIMIT_RTTIME"), RLIMIT_RTTIME);
	CHECK_EQ(ct_rlimit_resource("NOFILE"), -1);
}

TEST(hook_rules_are_enforced)
{
	CHECK_CONTAINS(parse_err("{" HEAD ",'hooks':{'prestart':[{'path':'/a'},{'path':'rel'}]}}"),
		       "config.json: hooks.prestart[1].path: \"rel\" must be an absolute path");
	CHECK_CONTAINS(parse_err("{" HEAD ",'hooks':{'poststop':[{'path':'/a','timeout':0}]}}"),
		       "config.json: hooks.poststop[0].timeout: 0 must be greater than 0");
	CHECK_CONTAINS(parse_err("{" HEAD ",'hooks':{'poststop':[{'path':'/a','timeout':-3}]}}"),
		       "config.json: hooks.poststop[0].timeout: -3 must be greater than 0");
	CHECK_CONTAINS(
		parse_err("{" HEAD ",'hooks':{'poststop':[{'path':'/a','timeout':9999999999}]}}"),
		"config.json: hooks.poststop[0].timeout: 9999999999 s is too large");
	CHECK_CONTAINS(parse_err("{" HEAD ",'hooks':{'createRuntime':[{'args':['x']}]}}"),
		       "config.json: hooks.createRuntime[0].path: required field missing");
	CHECK_CONTAINS(
		parse_err("{" HEAD ",'hooks':{'startContainer':[{'path':'/a','env':['X']}]}}"),
		"config.json: hooks.startContainer[0].env[0]: \"X\" is not of the form KEY=value");
	CHECK_CONTAINS(parse_err("{" HEAD ",'hooks':{'poststart':{}}}"),
		       "config.json: hooks.poststart: expected array, got object");
}

TEST(linux_section_rules_are_enforced)
{
	CHECK_CONTAINS(
		parse_err(
			"{" HEAD
			",'linux':{'devices':[{'type':'x','path':'/dev/x','major':1,'minor':1}]}}"),
		"config.json: linux.devices[0].type: unknown device type \"x\"");
	CHECK_CONTAINS(parse_err("{" HEAD
				 ",'linux':{'devices':[{'type':'c','path':'/dev/x','minor':1}]}}"),
		       "config.json: linux.devices[0].major: required field missing");
	CHECK_CONTAINS(
		parse_err(
			"{" HEAD
			",'linux':{'devices':[{'type':'c','path':'dev/x','major':1,'minor':1}]}}"),
		"config.json: linux.devices[0].path: \"dev/x\" must be an absolute path");
	CHECK_CONTAINS(parse_err("{" HEAD ",'linux':{'timeOffsets':{'monotonic':{'secs':1}}}}"),
		       "config.json: linux.timeOffsets: set but no time namespace is requested");
	CHECK_CONTAINS(parse_err("{" HEAD ",'linux':{'namespaces':[{'type':'time'}],"
				 "'timeOffsets':{'boottime':{'nanosecs':1000000000}}}}"),
		       "config.json: linux.timeOffsets.boottime.nanosecs: 1000000000 out of range");
	CHECK_CONTAINS(parse_err("{" HEAD ",'linux':{'rootfsPropagation':'rwhatever'}}"),
		       "config.json: linux.rootfsPropagation: unknown propagation \"rwhatever\"");
	CHECK_CONTAINS(
		parse_err("{" HEAD ",'linux':{'maskedPaths':['proc/kcore']}}"),
		"config.json: linux.maskedPaths[0]: \"proc/kcore\" must be an absolute path");
	CHECK_CONTAINS(parse_err("{" HEAD ",'linux':{'personality':{'domain':'BSD'}}}"),
		       "config.json: linux.personality.domain: unknown execution domain \"BSD\"");
	CHECK_CONTAINS(parse_err("{" HEAD ",'linux':{'intelRdt':{'enableMBM':1}}}"),
		       "config.json: linux.intelRdt.enableMBM: expected boolean, got integer");
	CHECK_CONTAINS(parse_err("{" HEAD ",'linux':{'memoryPolicy':{'mode':'MPOL_X'}}}"),
		       "config.json: linux.memoryPolicy.mode: unknown memory policy \"MPOL_X\"");
	CHECK_CONTAINS(parse_err("{" HEAD ",'hostname':'h'}"),
		       "config.json: hostname: set but no uts namespace is requested");
	CHECK_CONTAINS(parse_err("{" HEAD ",'domainname':'d'}"),
		       "config.json: domainname: set but no uts namespace is requested");
	CHECK_CONTAINS(parse_err("{" HEAD ",'annotations':{'':'v'}}"),
		       "config.json: annotations: keys must not be empty");
}

TEST(security_sections_are_parsed_with_field_paths)
{
	struct ct_spec *s =
		parse_ok("{" HEAD ",'linux':{'seccomp':{'defaultAction':'SCMP_ACT_ALLOW',"
			 "'syscalls':[{'names':['mkdir'],'action':'SCMP_ACT_ERRNO'}]}}}");

	REQUIRE(s);
	CHECK(s->lnx.seccomp != NULL);
	CHECK(s->lnx.seccomp_json != NULL);
	CHECK(!s->lnx.resources.has_pids_limit);
	ct_spec_free(s);
	CHECK_CONTAINS(parse_err("{" HEAD ",'process':{'args':['sh'],'cwd':'/',"
				 "'capabilities':{'bounding':['CAP_NOPE']}}}"),
		       "config.json: process.capabilities.bounding[0]: unknown capability");
	CHECK_CONTAINS(parse_err("{" HEAD ",'linux':{'resources':{'pids':{'limit':'x'}}}}"),
		       "config.json: linux.resources.pids.limit: expected integer, got string");
	CHECK_CONTAINS(
		parse_err("{" HEAD ",'linux':{'seccomp':{'defaultAction':'SCMP_ACT_NOPE'}}}"),
		"config.json: linux.seccomp.defaultAction: unknown action");
}

TEST(unknown_fields_are_ignored)
{
	struct ct_spec *s = parse_ok("{" HEAD ",'x-vendor':{'a':[1,2]},'process':{'args':['sh'],"
				     "'cwd':'/','futureField':1},'linux':{'netDevices':{}}}");

	REQUIRE(s);
	CHECK_STR(s->process->args[0], "sh");
	ct_spec_free(s);

	/* null is the same as absent */
	s = parse_ok("{" HEAD ",'hostname':null,'process':{'args':['sh'],'cwd':'/',"
		     "'oomScoreAdj':null,'commandLine':null,'user':{'umask':null}},"
		     "'linux':null,'hooks':{'prestart':[{'path':'/x','timeout':null}]}}");
	REQUIRE(s);
	CHECK(!s->process->oom_score_adj_set);
	CHECK(!s->process->umask_set);
	CHECK(s->hostname == NULL);
	CHECK_EQ(s->hooks.prestart[0].timeout, 0);
	ct_spec_free(s);
}

TEST(process_parses_alone_for_exec)
{
	autofree char *buf = dq("{'args':['ls','-l'],'cwd':'/tmp','env':['A=1'],"
				"'user':{'uid':5,'gid':6},'terminal':false}");
	autojson struct json_object *j = NULL;
	struct ct_process *p = NULL;
	struct vs_err e = {0};

	REQUIRE(vs_json_parse("process.json", buf, strlen(buf), &j, &e) == 0);
	REQUIRE(ct_process_parse(j, "process.json", &p, &e) == 0);
	CHECK_STR(p->args[1], "-l");
	CHECK_STR(p->cwd, "/tmp");
	CHECK_EQ(p->uid, 5);
	CHECK_EQ(p->gid, 6);
	CHECK(!p->terminal);
	ct_process_free(p);

	autofree char *bad = dq("{'args':['ls'],'cwd':'/','user':{'gid':'x'}}");
	autojson struct json_object *jb = NULL;
	p = NULL;
	REQUIRE(vs_json_parse("process.json", bad, strlen(bad), &jb, &e) == 0);
	CHECK_EQ(ct_process_parse(jb, "process.json", &p, &e), -1);
	CHECK(p == NULL);
	CHECK_CONTAINS(e.msg, "process.json.user.gid: expected integer, got string");

	CHECK_EQ(ct_process_load("/nonexistent/process.json", &p, &e), -1);
	CHECK_CONTAINS(e.msg, "/nonexistent/process.json");

	char path[] = "/tmp/vessel-process-XXXXXX";
	int fd = mkstemp(path);
	REQUIRE(fd >= 0);
	close(fd);
	autofree char *relcwd = dq("{'args':['ls'],'cwd':'rel'}");
	REQUIRE(vs_write_file(path, relcwd, strlen(relcwd), 0600, &e) == 0);
	CHECK_EQ(ct_process_load(path, &p, &e), -1);
	CHECK_CONTAINS(e.msg, path);
	CHECK_CONTAINS(e.msg, ": process.cwd: \"rel\" must be an absolute path");
	autofree char *good = dq("{'args':['ls'],'cwd':'/'}");
	REQUIRE(vs_write_file(path, good, strlen(good), 0600, &e) == 0);
	CHECK_EQ(ct_process_load(path, &p, &e), 0);
	if (p)
		CHECK_STR(p->args[0], "ls");
	ct_process_free(p);
	unlink(path);
}

TEST(namespace_helpers_name_and_flag_each_type)
{
	CHECK_STR(ct_ns_name(CT_NS_NET), "network");
	CHECK_STR(ct_ns_proc_name(CT_NS_NET), "net");
	CHECK_STR(ct_ns_proc_name(CT_NS_MOUNT), "mnt");
	CHECK_EQ(ct_ns_clone_flag(CT_NS_USER), CLONE_NEWUSER);
	CHECK_EQ(ct_ns_clone_flag(CT_NS_MOUNT), CLONE_NEWNS);
	CHECK_EQ(ct_ns_clone_flag(CT_NS_TIME), 0x80);
	CHECK(ct_ns_name(CT_NS_COUNT) == NULL);
}

TEST(default_spec_round_trips_through_parser)
{
	autofree char *json = ct_spec_default_json(false);
	struct ct_spec *s = NULL;
	struct vs_err e = {0};

	REQUIRE(ct_spec_parse("config.json", json, strlen(json), &s, &e) == 0);
	CHECK_STR(s->root_path, "rootfs");
	REQUIRE(s->process);
	CHECK_STR(s->process->args[0], "sh");
	CHECK(s->process->capabilities_json != NULL);
	CHECK(s->process->caps.set);
	CHECK(s->process->no_new_privileges);
	CHECK(s->lnx.resources.has_devices);
	CHECK(ct_spec_has_ns(s, CT_NS_PID));
	CHECK(ct_spec_has_ns(s, CT_NS_NET));
	CHECK(ct_spec_has_ns(s, CT_NS_MOUNT));
	CHECK(!ct_spec_has_ns(s, CT_NS_USER));
	CHECK_EQ(s->lnx.n_uid_mappings, 0);
	CHECK(s->lnx.resources_json != NULL);
	CHECK(s->n_mounts >= 5);
	CHECK(s->lnx.masked_paths && s->lnx.masked_paths[0]);
	ct_spec_free(s);
}

TEST(rootless_default_has_user_namespace_and_mappings)
{
	autofree char *json = ct_spec_default_json(true);
	struct ct_spec *s = NULL;
	struct vs_err e = {0};
	bool sys_bind = false;

	REQUIRE(ct_spec_parse("config.json", json, strlen(json), &s, &e) == 0);
	CHECK(ct_spec_has_ns(s, CT_NS_USER));
	CHECK(!ct_spec_has_ns(s, CT_NS_NET));
	REQUIRE(s->lnx.n_uid_mappings == 1 && s->lnx.n_gid_mappings == 1);
	CHECK_EQ(s->lnx.uid_mappings[0].container_id, 0);
	CHECK_EQ(s->lnx.uid_mappings[0].host_id, geteuid());
	CHECK_EQ(s->lnx.uid_mappings[0].size, 1);
	CHECK_EQ(s->lnx.gid_mappings[0].host_id, getegid());
	CHECK(s->lnx.resources_json == NULL);
	for (size_t i = 0; i < s->n_mounts; i++) {
		if (!strcmp(s->mounts[i].destination, "/sys"))
			sys_bind =
				s->mounts[i].options && !strcmp(s->mounts[i].options[0], "rbind");
		if (!strcmp(s->mounts[i].destination, "/dev/pts"))
			for (char **o = s->mounts[i].options; o && *o; o++)
				CHECK(strcmp(*o, "gid=5") != 0);
	}
	CHECK(sys_bind);
	ct_spec_free(s);
}

TEST(device_file_mode_keeps_permissions_of_a_typed_mode)
{
	/* podman writes S_IFCHR|0600 (8576) into fileMode */
	struct ct_spec *s = parse_ok(
		"{'ociVersion':'1.0.2','root':{'path':'rootfs'},'linux':{'devices':["
		"{'type':'c','path':'/dev/fuse','major':10,'minor':229,'fileMode':8576}]}}");

	REQUIRE(s);
	REQUIRE(s->lnx.n_devices == 1);
	CHECK(s->lnx.devices[0].file_mode_set);
	CHECK_EQ(s->lnx.devices[0].file_mode, 0600);
	ct_spec_free(s);
	CHECK_CONTAINS(parse_err("{'ociVersion':'1.0.2','root':{'path':'rootfs'},'linux':{"
				 "'devices':[{'type':'c','path':'/dev/x','major':1,'minor':3,"
				 "'fileMode':262144}]}}"),
		       "linux.devices[0].fileMode");
}
