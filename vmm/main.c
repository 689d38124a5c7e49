#include <stdio.h>
int main(void)
{
	fputs("vessel-vmm: not built yet\n", stderr);
	return 1;
}
