/* smp: count the CPUs three ways (expect_cpus= from the test, fw_cfg
 * NB_CPUS, enabled local APICs in the ACPI MADT), start every application
 * processor with INIT-SIPI-SIPI through the local APIC (SDM vol. 3 §9.4.4),
 * and check each one arrives (atomic counter) with a distinct APIC ID. */
#include "hw.h"
#include "smp_tramp.h"

extern const char ap_tramp_start[], ap_tramp_end[];
uint32_t ap_stack_next;
uint8_t ap_stacks[(AP_MAX + 1) << AP_STACK_SHIFT] __attribute__((aligned(4096)));
static volatile uint32_t ap_count;
static volatile uint32_t ap_ids[AP_MAX];

void ap_main(void);
void ap_main(void)
{
	uint32_t slot = __atomic_fetch_add(&ap_count, 1, __ATOMIC_SEQ_CST);

	if (slot < AP_MAX)
		ap_ids[slot] = lapic_id() + 1; /* +1: 0 means "not written" */
	for (;;)
		__asm__ volatile("cli; hlt");
}

static unsigned madt_cpus(void)
{
	const struct acpi_sdt *madt = acpi_find_table("APIC");
	unsigned n = 0;

	if (!madt)
		return 0;
	const uint8_t *p = (const uint8_t *)madt + 44, *end = (const uint8_t *)madt + madt->length;
	while (p + 2 <= end && p[1] >= 2 && p + p[1] <= end) {
		/* type 0: processor local APIC; flags bit 0 = enabled */
		if (p[0] == 0 && p[1] >= 8 && (*(const uint32_t *)(p + 4) & 1))
			n++;
		p += p[1];
	}
	return n;
}

static void delay(unsigned long n)
{
	for (unsigned long i = 0; i < n; i++)
		cpu_relax();
}

static bool send_ipi(uint32_t icr_lo)
{
	lapic_write(LAPIC_ICR_HI, 0);
	lapic_write(LAPIC_ICR_LO, icr_lo);
	/* delivery status (bit 12) clears once the IPI went out */
	for (unsigned long i = 0; i < POLL_LIMIT / 10; i++)
		if (!(lapic_read(LAPIC_ICR_LO) & (1u << 12)))
			return true;
	return false;
}

void guest_main(void)
{
	uint64_t want = 0;

	if (!cmdline_get_u64("expect_cpus", &want) || want < 1 || want > AP_MAX + 1) {
		report_fail("smp_expect_cpus", "need expect_cpus=1..%d on the command line",
			    AP_MAX + 1);
		return;
	}
	unsigned fw = fwcfg_read_u16(FW_CFG_NB_CPUS);
	check(fw == want, "smp_fwcfg_cpus", "fw_cfg NB_CPUS %u, expected %lu", fw, want);
	unsigned madt = madt_cpus();
	check(madt == want, "smp_madt_cpus", "MADT lists %u enabled CPUs, expected %lu", madt,
	      want);

	unsigned bsp = lapic_id();
	printf_g("smp: BSP APIC id %u\n", bsp);
	lapic_write(LAPIC_SVR, lapic_read(LAPIC_SVR) | 0x100 | 0xff); /* APIC on */
	memcpy((void *)AP_TRAMP_BASE, ap_tramp_start, (size_t)(ap_tramp_end - ap_tramp_start));

	/* all excluding self (shorthand 11b): INIT, then two STARTUPs */
	bool sent = send_ipi(0x000c4500);
	delay(100000);
	for (int i = 0; i < 2 && sent; i++) {
		sent = send_ipi(0x000c4600 | (AP_TRAMP_BASE >> 12));
		delay(10000);
	}
	if (!check(sent, "smp_ipi_delivered", "ICR delivery status stayed pending"))
		return;

	for (unsigned long i = 0; i < POLL_LIMIT && ap_count < want - 1; i++)
		cpu_relax();
	uint32_t arrived = ap_count;
	check(arrived == want - 1, "smp_all_aps_started", "%u of %lu APs arrived", arrived,
	      want - 1);

	bool distinct = true;
	for (uint32_t i = 0; i < arrived && i < AP_MAX; i++) {
		unsigned id = ap_ids[i] - 1;
		printf_g("smp: AP %u has APIC id %u\n", i, id);
		distinct &= ap_ids[i] != 0 && id != bsp;
		for (uint32_t k = 0; k < i; k++)
			distinct &= ap_ids[k] != ap_ids[i];
	}
	check(distinct, "smp_apic_ids_distinct", "APIC IDs repeat or match the BSP");
}
