/* serial: the 16550 UART at 0x3f8 beyond plain output (which every other line
 * already proves): scratch register, divisor latch, idle LSR bits, loopback
 * (MCR bit 4) with the modem-status mirror. National PC16550D data sheet. */
#include "guest.h"

#define COM1 PORT_COM1
#define RBR  0
#define THR  0
#define DLL  0
#define DLM  1
#define IIR  2
#define LCR  3
#define MCR  4
#define LSR  5
#define MSR  6
#define SCR  7

#define LSR_DR	 0x01
#define LSR_THRE 0x20
#define LSR_TEMT 0x40
#define MCR_LOOP 0x10

static bool wait_lsr(uint8_t bits)
{
	for (unsigned long i = 0; i < POLL_LIMIT / 10; i++)
		if ((inb(COM1 + LSR) & bits) == bits)
			return true;
	return false;
}

void guest_main(void)
{
	bool ok = true;

	for (unsigned v = 0; v < 256; v += 0x55) {
		outb(COM1 + SCR, (uint8_t)v);
		ok &= inb(COM1 + SCR) == v;
	}
	check(ok, "serial_scratch", "scratch register does not keep its value");

	/* divisor latch: DLAB on, write 0x0c/0x00 (9600 baud), read back */
	outb(COM1 + LCR, 0x83);
	outb(COM1 + DLL, 0x0c);
	outb(COM1 + DLM, 0x00);
	uint8_t dll = inb(COM1 + DLL), dlm = inb(COM1 + DLM);
	outb(COM1 + DLL, 0x01);
	outb(COM1 + LCR, 0x03);
	check(dll == 0x0c && dlm == 0, "serial_divisor_latch", "read back %x/%x", dll, dlm);
	uint8_t lcr = inb(COM1 + LCR);
	check(lcr == 0x03, "serial_lcr", "LCR reads 0x%x after writing 0x03", lcr);

	/* idle transmitter: THR empty and shift register empty; no input */
	check(wait_lsr(LSR_THRE | LSR_TEMT), "serial_lsr_idle", "LSR 0x%x", inb(COM1 + LSR));
	/* drain anything a console may have typed at us */
	for (int i = 0; i < 64 && (inb(COM1 + LSR) & LSR_DR); i++)
		inb(COM1 + RBR);
	uint8_t lsr = inb(COM1 + LSR);
	check(!(lsr & LSR_DR), "serial_lsr_no_data", "LSR 0x%x shows data ready", lsr);

	/* loopback: transmitted bytes come back on the receiver, modem control
	 * outputs appear on the status inputs (DTR->DSR, RTS->CTS, OUT1->RI,
	 * OUT2->DCD), and nothing leaves the UART */
	/* (nothing may be printed while looping: it would come back as input) */
	outb(COM1 + MCR, MCR_LOOP | 0x0f);
	uint8_t msr_set = inb(COM1 + MSR);
	outb(COM1 + MCR, MCR_LOOP);
	uint8_t msr_clear = inb(COM1 + MSR);

	const char *msg = "Vx!";
	char got[4] = {0};
	bool lb_ok = true;
	for (int i = 0; i < 3; i++) {
		outb(COM1 + THR, (uint8_t)msg[i]);
		if (!wait_lsr(LSR_DR)) {
			lb_ok = false;
			break;
		}
		got[i] = (char)inb(COM1 + RBR);
	}
	lsr = inb(COM1 + LSR);
	outb(COM1 + MCR, 0x03);

	check((msr_set & 0xf0) == 0xf0, "serial_loopback_msr", "MSR 0x%x with MCR 0x1f", msr_set);
	check((msr_clear & 0xf0) == 0x00, "serial_loopback_msr_clear", "MSR 0x%x with MCR 0x10",
	      msr_clear);
	check(lb_ok && memcmp(got, msg, 3) == 0, "serial_loopback_data",
	      "sent \"%s\", received \"%s\"", msg, got);
	check(!(lsr & LSR_DR), "serial_loopback_drained", "LSR 0x%x after reading all", lsr);

	/* interrupt identification with all interrupts off: "none pending" */
	uint8_t iir = inb(COM1 + IIR);
	check(iir & 0x01, "serial_iir_none_pending", "IIR 0x%x", iir);
	printf_g("serial: output after the tests still works\n");
}
