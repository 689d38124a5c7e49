/* Logging for all Vessel programs: text or JSON lines (the format runc-style
 * callers such as podman/conmon read back from --log), to stderr or a file. */
#ifndef VESSEL_LOG_H
#define VESSEL_LOG_H

#include "vessel/err.h"

enum vs_log_level { VS_LOG_ERROR, VS_LOG_WARN, VS_LOG_INFO, VS_LOG_DEBUG };
enum vs_log_format { VS_LOG_TEXT, VS_LOG_JSON };

/* path NULL: stderr. Returns -1 with e filled if the file cannot be opened. */
int vs_log_init(const char *prog, const char *path, enum vs_log_format fmt, enum vs_log_level level,
		struct vs_err *e);
void vs_log_close(void);
enum vs_log_level vs_log_get_level(void);

void vs_log(enum vs_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define vs_error(...) vs_log(VS_LOG_ERROR, __VA_ARGS__)
#define vs_warn(...)  vs_log(VS_LOG_WARN, __VA_ARGS__)
#define vs_info(...)  vs_log(VS_LOG_INFO, __VA_ARGS__)
#define vs_debug(...) vs_log(VS_LOG_DEBUG, __VA_ARGS__)

/* Reports a command's failure once: to the log and, when the log is a file,
 * also to stderr so an interactive user sees it. */
void vs_log_err(const struct vs_err *e);

#endif
