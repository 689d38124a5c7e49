#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "vessel/cleanup.h"

void vs_freep(void *p)
{
	free(*(void **)p);
}

void vs_closep(int *fd)
{
	int saved = errno;

	if (*fd >= 0)
		close(*fd);
	errno = saved;
}

void vs_fclosep(FILE **f)
{
	if (*f)
		fclose(*f);
}

void vs_strvfreep(char ***v)
{
	if (!*v)
		return;
	for (char **s = *v; *s; s++)
		free(*s);
	free(*v);
}
