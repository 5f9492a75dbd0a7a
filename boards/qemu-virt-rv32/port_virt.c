/* Board port for QEMU's riscv32 'virt' machine: the NS16550A UART as the host
 * link, the machine timer as the idle clock. The core sleeps in WFI between
 * bytes: with the UART's interrupt enabled at the PLIC and in mie (but
 * interrupts globally off, so no trap is ever taken) WFI returns when a byte
 * arrives or when mtimecmp (the idle deadline) passes. Under -icount the
 * virtual clock then follows real time, as on the Arm boards.
 * Addresses from the board definition: MM_UART_BASE, MM_PLIC_BASE,
 * MM_UART_IRQ, MM_MTIME_ADDR, MM_MTIMECMP_ADDR, MM_BOARD_MTIME_HZ. */
#include <stdint.h>

#include "mm_app.h"
#include "mm_cost.h"
#include "mm_port.h"
#include "mm_proto.h"

#define REG8(a) (*(volatile uint8_t *)(uintptr_t)(a))
#define REG32(a) (*(volatile uint32_t *)(uintptr_t)(a))

#define UART_RBR REG8(MM_UART_BASE + 0u) /* receive buffer / transmit holding */
#define UART_IER REG8(MM_UART_BASE + 1u)
#define UART_LSR REG8(MM_UART_BASE + 5u)
#define LSR_DR 0x01u
#define LSR_THRE 0x20u

#define PLIC_PRIORITY(irq) REG32(MM_PLIC_BASE + 4u * (irq))
#define PLIC_ENABLE0 REG32(MM_PLIC_BASE + 0x2000u) /* hart 0, M mode */
#define PLIC_THRESHOLD REG32(MM_PLIC_BASE + 0x200000u)
#define PLIC_CLAIM REG32(MM_PLIC_BASE + 0x200004u)

#define MIE_MTIE (1u << 7)
#define MIE_MEIE (1u << 11)

const char mm_port_target[] = MM_TARGET_NAME;
const char mm_port_core[] = MM_CORE_NAME;

#define TICKS_PER_MS ((uint64_t)(MM_BOARD_MTIME_HZ) / 1000u)
/* Busy-poll this long after a byte before sleeping (bursts arrive faster). */
#define SPIN_MS 50u

void mm_port_write(const uint8_t *data, size_t n) {
  for (size_t i = 0; i < n; i++) {
    while (!(UART_LSR & LSR_THRE)) {
    }
    UART_RBR = data[i];
  }
}

/* "Never" for mtimecmp: far ahead but not UINT64_MAX, whose conversion to
 * nanoseconds overflows in QEMU 7.2 and makes the timer fire at once. */
#define FAR_TICKS (1ull << 40)

static void set_mtimecmp(uint64_t t) {
  REG32(MM_MTIMECMP_ADDR + 4u) = 0xFFFFFFFFu; /* no spurious match while writing */
  REG32(MM_MTIMECMP_ADDR) = (uint32_t)t;
  REG32(MM_MTIMECMP_ADDR + 4u) = (uint32_t)(t >> 32);
}

static void sleep_until(uint64_t deadline) {
  set_mtimecmp(deadline);
  if (!(UART_LSR & LSR_DR)) __asm__ volatile("wfi");
  uint32_t irq = PLIC_CLAIM; /* a claimed source may interrupt again */
  if (irq) PLIC_CLAIM = irq;
  set_mtimecmp(mm_cost_now() + FAR_TICKS);
}


int main(void) {
#ifdef MM_BOARD_COST_SELFTEST
  mm_cost_selftest(mm_port_write); /* test builds: tests/test_boards_emulated.py */
#endif
  UART_IER = 0x01u; /* interrupt when a byte is received */
  PLIC_PRIORITY(MM_UART_IRQ) = 1u;
  PLIC_THRESHOLD = 0u;
  PLIC_ENABLE0 = 1u << (MM_UART_IRQ);
  set_mtimecmp(mm_cost_now() + FAR_TICKS);
  __asm__ volatile(".option push\n .option arch, +zicsr\n csrs mie, %0\n .option pop"
                   : : "r"(MIE_MTIE | MIE_MEIE));
  mm_cost_init();
  mm_app_init();
  const uint64_t timeout = (uint64_t)MM_PROTO_IDLE_TIMEOUT_MS * TICKS_PER_MS;
  uint64_t last_rx = mm_cost_now();
  int idle_done = 0; /* mm_app_idle ran since the last byte */
  for (;;) {
    if (UART_LSR & LSR_DR) {
      mm_app_rx(UART_RBR);
      last_rx = mm_cost_now();
      idle_done = 0;
      continue;
    }
    const int listening = mm_app_poll();
    uint64_t quiet = mm_cost_now() - last_rx;
    if (!idle_done && quiet > timeout) {
      mm_app_idle();
      idle_done = 1;
      continue;
    }
    /* listening: spin, never WFI (virtual time would follow the host's clock) */
    if (listening || quiet < (uint64_t)SPIN_MS * TICKS_PER_MS) continue;
    /* Sleep until the next byte, or the idle deadline if it is still due. */
    sleep_until(idle_done ? mm_cost_now() + FAR_TICKS : last_rx + timeout + 1u);
  }
}
