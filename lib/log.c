#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "vessel/log.h"

static struct {
	const char *prog;
	int fd; /* -1: stderr */
	enum vs_log_format fmt;
	enum vs_log_level level;
} lg = {"vessel", -1, VS_LOG_TEXT, VS_LOG_WARN};

static const char *const level_names[] = {"error", "warning", "info", "debug"};

int vs_log_init(const char *prog, const char *path, enum vs_log_format fmt, enum vs_log_level level,
		struct vs_err *e)
{
	lg.prog = prog;
	lg.fmt = fmt;
	lg.level = level;
	if (path && *path) {
		int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);

		if (fd < 0)
			return vs_fail_errno(e, "log file %s", path);
		vs_log_close();
		lg.fd = fd;
	}
	return 0;
}

void vs_log_close(void)
{
	if (lg.fd >= 0)
		close(lg.fd);
	lg.fd = -1;
}

enum vs_log_level vs_log_get_level(void)
{
	return lg.level;
}

static void emit(int fd, enum vs_log_format fmt, enum vs_log_level level, const char *msg)
{
	char line[4096];
	int n;

	if (fmt == VS_LOG_JSON) {
		struct timespec ts;
		struct tm tm;
		char when[64];
		struct json_object *o = json_object_new_object();

		clock_gettime(CLOCK_REALTIME, &ts);
		gmtime_r(&ts.tv_sec, &tm);
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
		snprintf(when + strlen(when), sizeof(when) - strlen(when), ".%09ldZ", ts.tv_nsec);
		json_object_object_add(o, "level", json_object_new_string(level_names[level]));
		json_object_object_add(o, "msg", json_object_new_string(msg));
		json_object_object_add(o, "time", json_object_new_string(when));
		n = snprintf(line, sizeof(line), "%s\n",
			     json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
		json_object_put(o);
	} else {
		n = snprintf(line, sizeof(line), "%s: %s%s%s\n", lg.prog,
			     level == VS_LOG_ERROR ? "" : level_names[level],
			     level == VS_LOG_ERROR ? "" : ": ", msg);
	}
	if (n > (int)sizeof(line) - 1)
		n = sizeof(line) - 1;
	if (n > 0 && write(fd, line, n) < 0) {
		/* nowhere left to report a failed log write */
	}
}

void vs_log(enum vs_log_level level, const char *fmt, ...)
{
	char msg[3072];
	int saved = errno;
	va_list ap;

	if (level > lg.level)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	emit(lg.fd >= 0 ? lg.fd : STDERR_FILENO, lg.fd >= 0 ? lg.fmt : VS_LOG_TEXT, level, msg);
	errno = saved;
}

void vs_log_err(const struct vs_err *e)
{
	char buf[sizeof(e->msg) + 128];

	vs_err_str(e, buf, sizeof(buf));
	if (lg.fd >= 0) {
		emit(lg.fd, lg.fmt, VS_LOG_ERROR, buf);
	}
	emit(STDERR_FILENO, VS_LOG_TEXT, VS_LOG_ERROR, buf);
}
