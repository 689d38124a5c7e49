# Guest programs for VMM tests (included by the top Makefile).
# `make guests` builds every guest into build/guests/:
#   boot_multiboot.elf  boot_pvh.elf  boot_linux.bzImage   (progs/boot.c, one per boot path)
#   NAME.elf for every other progs/NAME.c, booted through PVH.
# Freestanding: no libc, no SSE, no red zone; linked at 1 MiB by guest.ld.

GUEST_DIR := $(BUILD)/guests
GUEST_CC ?= gcc
GUEST_LD ?= ld
GUEST_OBJCOPY ?= objcopy
GUEST_CFLAGS := -std=gnu17 -O2 -g -Wall -Wextra -Werror -Wshadow -ffreestanding -nostdlib \
	-fno-pic -fno-pie -mno-red-zone -mno-sse -mno-sse2 -mno-mmx -mgeneral-regs-only \
	-fno-stack-protector -fno-asynchronous-unwind-tables -fcf-protection=none \
	-fno-strict-aliasing -Iguests/lib -Iguests/boot -MMD -MP
GUEST_LDFLAGS := -m elf_x86_64 -nostdlib -static -z max-page-size=0x1000 -z noexecstack \
	--no-warn-rwx-segments -T guests/guest.ld

GUEST_LIB_OBJ := $(patsubst guests/%.c,$(GUEST_DIR)/obj/%.o,$(wildcard guests/lib/*.c)) \
	$(GUEST_DIR)/obj/boot/common.o
GUEST_PROGS := $(filter-out boot,$(patsubst guests/progs/%.c,%,$(wildcard guests/progs/*.c)))
GUEST_IMAGES := $(GUEST_DIR)/boot_multiboot.elf $(GUEST_DIR)/boot_pvh.elf \
	$(GUEST_DIR)/boot_linux.bzImage $(GUEST_DIR)/boot_linux64.bzImage $(patsubst %,$(GUEST_DIR)/%.elf,$(GUEST_PROGS))

.PHONY: guests
guests: $(GUEST_IMAGES)
CHECK_EXTRA += guests

$(GUEST_DIR)/obj/%.o: guests/%.c
	@mkdir -p $(dir $@)
	$(GUEST_CC) $(GUEST_CFLAGS) -c -o $@ $<
$(GUEST_DIR)/obj/%.o: guests/%.S
	@mkdir -p $(dir $@)
	$(GUEST_CC) $(GUEST_CFLAGS) -c -o $@ $<

# a program's extra assembly: progs/NAME_*.S (e.g. the SMP trampoline)
guest_extra = $(patsubst guests/%.S,$(GUEST_DIR)/obj/%.o,$(wildcard guests/progs/$(1)_*.S))

$(GUEST_DIR)/boot_multiboot.elf: $(GUEST_DIR)/obj/boot/multiboot.o $(GUEST_DIR)/obj/progs/boot.o \
		$(GUEST_LIB_OBJ) guests/guest.ld
	$(GUEST_LD) $(GUEST_LDFLAGS) -o $@ $(filter %.o,$^)
$(GUEST_DIR)/boot_pvh.elf: $(GUEST_DIR)/obj/boot/pvh.o $(GUEST_DIR)/obj/progs/boot.o \
		$(GUEST_LIB_OBJ) guests/guest.ld
	$(GUEST_LD) $(GUEST_LDFLAGS) -o $@ $(filter %.o,$^)

# bzImage = real-mode setup (linked at 0) + flat payload linked at 1 MiB
$(GUEST_DIR)/boot_linux.payload.elf: $(GUEST_DIR)/obj/boot/linux_head.o \
		$(GUEST_DIR)/obj/progs/boot.o $(GUEST_LIB_OBJ) guests/guest.ld
	$(GUEST_LD) $(GUEST_LDFLAGS) -o $@ $(filter %.o,$^)
$(GUEST_DIR)/%.bin: $(GUEST_DIR)/%.elf
	$(GUEST_OBJCOPY) -O binary $< $@
$(GUEST_DIR)/linux_setup.elf: $(GUEST_DIR)/obj/boot/linux_setup.o
	$(GUEST_LD) -m elf_x86_64 -nostdlib -static -Ttext=0 -e _start -o $@ $<
$(GUEST_DIR)/mkbzimage: guests/tools/mkbzimage.c guests/boot/boot.h
	@mkdir -p $(dir $@)
	$(CC) -std=gnu17 -O2 -Wall -Wextra -Werror -o $@ $<
# the same guest entered through its 64-bit entry by a stand-in 64-bit
# loader (boot/linux_fake64.S), so that path runs under QEMU too
$(GUEST_DIR)/boot_linux64.payload.elf: $(GUEST_DIR)/obj/boot/linux_head.o \
		$(GUEST_DIR)/obj/boot/linux_fake64.o $(GUEST_DIR)/obj/progs/boot.o $(GUEST_LIB_OBJ) \
		guests/guest.ld
	$(GUEST_LD) $(GUEST_LDFLAGS) -o $@ $(filter %.o,$^)
$(GUEST_DIR)/boot_linux64.bzImage: $(GUEST_DIR)/linux_setup.bin \
		$(GUEST_DIR)/boot_linux64.payload.bin $(GUEST_DIR)/boot_linux64.payload.elf \
		$(GUEST_DIR)/mkbzimage
	$(GUEST_DIR)/mkbzimage $(GUEST_DIR)/linux_setup.bin $(GUEST_DIR)/boot_linux64.payload.bin $@ \
		$$(nm $(GUEST_DIR)/boot_linux64.payload.elf | awk '$$3 == "fake64_loader" { print $$1 }')

# kept after the build: the mkbzimage test feeds them to the tool again
.SECONDARY: $(GUEST_DIR)/linux_setup.elf $(GUEST_DIR)/linux_setup.bin \
	$(GUEST_DIR)/boot_linux.payload.elf $(GUEST_DIR)/boot_linux.payload.bin \
	$(GUEST_DIR)/boot_linux64.payload.elf $(GUEST_DIR)/boot_linux64.payload.bin
$(GUEST_DIR)/boot_linux.bzImage: $(GUEST_DIR)/linux_setup.bin $(GUEST_DIR)/boot_linux.payload.bin \
		$(GUEST_DIR)/mkbzimage
	$(GUEST_DIR)/mkbzimage $(GUEST_DIR)/linux_setup.bin $(GUEST_DIR)/boot_linux.payload.bin $@

# every other program boots through PVH
define guest_prog
$(GUEST_DIR)/$(1).elf: $(GUEST_DIR)/obj/boot/pvh.o $(GUEST_DIR)/obj/progs/$(1).o \
		$(call guest_extra,$(1)) $(GUEST_LIB_OBJ) guests/guest.ld
	$$(GUEST_LD) $$(GUEST_LDFLAGS) -o $$@ $$(filter %.o,$$^)
endef
$(foreach p,$(GUEST_PROGS),$(eval $(call guest_prog,$(p))))

-include $(shell find $(GUEST_DIR)/obj -name '*.d' 2>/dev/null)
-include guests/linux/linux.mk
