/* fault: the guest library's last line of defence. An unexpected exception
 * must be reported ("not ok exception: vector N ...") and end the guest with
 * exit code 1, not triple-fault into a reset that a VMM could mistake for
 * an orderly stop. The guest raises #UD with ud2 after reporting that its
 * IDT is loaded; the test expects exit status 3 and vector 6. */
#include "guest.h"

void guest_main(void)
{
	struct {
		uint16_t limit;
		uint64_t base;
	} __attribute__((packed)) idtr;

	__asm__ volatile("sidt %0" : "=m"(idtr));
	check(idtr.limit >= 32 * 16 - 1, "fault_idt_loaded", "IDT limit %u", idtr.limit);
	printf_g("fault: raising #UD\n");
	__asm__ volatile("ud2");
	report_fail("fault_ud2", "execution continued after ud2");
}
