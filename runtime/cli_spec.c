/* `spec`: writes a default config.json into the bundle. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vessel/cleanup.h"
#include "vessel/fs.h"
#include "runtime/cli.h"
#include "runtime/spec.h"

int ct_cmd_spec(const struct ct_global *g, int argc, char **argv)
{
	static const struct option opts[] = {
		{"bundle", required_argument, NULL, 'b'},
		{"rootless", no_argument, NULL, 'R'},
		{0},
	};
	const char *bundle = ".";
	bool rootless = false;
	struct vs_err e = {0};
	int c;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":b:", opts, NULL)) != -1) {
		if (c == 'b')
			bundle = optarg;
		else if (c == 'R')
			rootless = true;
		else
			return ct_cli_usage("spec", "unknown or incomplete option \"%s\"",
					    argv[optind - 1]);
	}
	if (optind != argc)
		return ct_cli_usage("spec", "unexpected argument \"%s\"", argv[optind]);

	autofree char *path = vs_path_join(bundle, "config.json");
	autofree char *json = ct_spec_default_json(rootless);
	/* O_EXCL: an existing config.json is never overwritten */
	autoclose int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);

	if (fd < 0) {
		if (errno == EEXIST)
			vs_fail(&e, EEXIST, "spec: %s already exists; remove it first", path);
		else
			vs_fail_errno(&e, "spec: %s", path);
		return ct_cli_fail(&e);
	}
	if (vs_write_all(fd, json, strlen(json)) < 0 || vs_write_all(fd, "\n", 1) < 0) {
		vs_fail_errno(&e, "spec: write %s", path);
		unlink(path);
		return ct_cli_fail(&e);
	}
	return 0;
}
