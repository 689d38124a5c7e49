# Real Linux guests (included from guests/guests.mk). See docs/linux-guests.md.
#   make linux-kernel       build (or find cached) the project kernel; prints its path
#   make linux-check        QEMU TCG reference runs + the vessel-vmm runs
#   make linux-guest-check  the vessel-vmm runs only (also part of make check,
#                           which skips them where /dev/kvm is absent)

.PHONY: linux-kernel linux-check linux-guest-check

linux-kernel:
	@guests/linux/build-kernel.sh

# the kernel is built first, outside the test's timeout and output capture
linux-check: deps
	$(MAKE) asan guests
	guests/linux/build-kernel.sh >/dev/null
	@BUILD=$(CURDIR)/$(BUILD)/asan VESSEL_LINUX_CHECK=1 tests/run.sh linux_

linux-guest-check: deps
	$(MAKE) asan guests
	@BUILD=$(CURDIR)/$(BUILD)/asan tests/run.sh linux_guest
