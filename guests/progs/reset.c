/* reset: pulse the CPU reset line through the i8042 (command 0xFE on port
 * 0x64). The VMM must stop the machine (QEMU -no-reboot exits, vessel-vmm
 * exits 0). If the guest is still running afterwards, it says so. */
#include "guest.h"

void guest_main(void)
{
	/* the controller takes commands only with its input buffer empty */
	for (unsigned long i = 0; i < 100000 && (inb(PORT_I8042_CMD) & 0x02); i++)
		cpu_relax();
	printf_g("reset: pulsing reset through port 0x64\n");
	outb(PORT_I8042_CMD, 0xfe);
	for (volatile unsigned long i = 0; i < 10000000; i++)
		;
	report_fail("reset_i8042", "still running after the reset pulse");
}
