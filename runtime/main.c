#include <stdio.h>
int main(void)
{
	fputs("vessel-runtime: not built yet\n", stderr);
	return 1;
}
