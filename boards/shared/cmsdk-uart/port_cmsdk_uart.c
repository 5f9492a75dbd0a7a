/* Board port for QEMU's MPS2/MPS3 machines (AN500 Cortex-M7, AN505 Cortex-M33,
 * AN547 Cortex-M55): CMSDK APB UART0 as the host link, SysTick as the idle
 * clock, WFI while waiting so that QEMU's -icount virtual clock follows real
 * time when the core is idle (the idle timeout is then real). While the app
 * listens (mm_app_poll) the core spins instead: under -icount a WFI lets virtual
 * time follow the host's clock (sleep=on) or takes the timer's interrupt a period
 * late (sleep=off), so the audio's real-time deadlines would not hold.
 * The receive interrupt only wakes the core: it is enabled in the NVIC just around
 * the WFI, with PRIMASK set (sleep_until_rx), so it is never taken and pushes no frame
 * onto whatever path the app is computing when a byte arrives.
 * The board definition gives the UART's address and receive interrupt
 * (MM_UART_BASE, MM_UART_RX_IRQ) and the SysTick clock (MM_BOARD_SYSTICK_HZ):
 * they differ between the FPGA images. */
#include <stdint.h>

#include "mm_app.h"
#include "mm_cost.h"
#include "mm_port.h"
#include "mm_proto.h"

#if !defined(MM_UART_BASE) || !defined(MM_UART_RX_IRQ) || !defined(MM_BOARD_SYSTICK_HZ)
#error "the board definition must give MM_UART_BASE, MM_UART_RX_IRQ and MM_BOARD_SYSTICK_HZ"
#endif

#define UART_REG(off) (*(volatile uint32_t *)((uint32_t)(MM_UART_BASE) + (off)))
#define UART_DATA UART_REG(0x000u)
#define UART_STATE UART_REG(0x004u)
#define UART_CTRL UART_REG(0x008u)
#define UART_INTCLR UART_REG(0x00Cu)
#define UART_BAUDDIV UART_REG(0x010u)
#define NVIC_ISER(n) (*(volatile uint32_t *)(0xE000E100u + 4u * (n)))
#define NVIC_ICER(n) (*(volatile uint32_t *)(0xE000E180u + 4u * (n)))
#define NVIC_ICPR(n) (*(volatile uint32_t *)(0xE000E280u + 4u * (n)))

#define STATE_TX_FULL 0x1u
#define STATE_RX_FULL 0x2u

const char mm_port_target[] = MM_TARGET_NAME;
const char mm_port_core[] = MM_CORE_NAME;

/* SysTick ticks per millisecond of virtual time (= real time while idle). */
#define TICKS_PER_MS ((uint64_t)(MM_BOARD_SYSTICK_HZ) / 1000u)
/* Busy-poll this long after a byte before sleeping: QEMU hands the UART one
 * byte per main-loop turn, and polling receives a burst faster than waking
 * from WFI for every byte. */
#define SPIN_MS 50u

/* Sleep until a byte is received. A pending interrupt ends WFI even when PRIMASK masks
 * it, so with PRIMASK set a byte arriving between the check and WFI still wakes the core
 * (without it the handler could run in between and WFI would then wait for the next
 * byte, which QEMU does not send until this one is read). The interrupt stays disabled
 * while the app computes: a byte arriving then only pends, and no exception frame (up to
 * 108 bytes with the FPU's state) is pushed on top of the app's deepest path at a moment
 * the host's timing decides, which made the stack's high-water mark (STATS, the soak's
 * verdict) differ between runs of the same audio. Its handler is never taken (so the
 * port defines none: the vector stays startup.c's Default_Handler, and a stray one stops
 * the board with exit code 4). */
static void sleep_until_rx(void) {
  const uint32_t bit = 1u << ((MM_UART_RX_IRQ) & 31);
  __asm__ volatile("cpsid i" ::: "memory");
  UART_INTCLR = 0x2u; /* forget requests of bytes already read */
  NVIC_ICPR((MM_UART_RX_IRQ) >> 5) = bit;
  if (!(UART_STATE & STATE_RX_FULL)) {
    NVIC_ISER((MM_UART_RX_IRQ) >> 5) = bit;
    __asm__ volatile("dsb\n wfi" ::: "memory");
    NVIC_ICER((MM_UART_RX_IRQ) >> 5) = bit;
    __asm__ volatile("dsb\n isb" ::: "memory"); /* disabled before PRIMASK is cleared */
  }
  __asm__ volatile("cpsie i" ::: "memory");
}

void mm_port_write(const uint8_t *data, size_t n) {
  for (size_t i = 0; i < n; i++) {
    while (UART_STATE & STATE_TX_FULL) {
    }
    UART_DATA = data[i];
  }
}


int main(void) {
  UART_BAUDDIV = 16; /* the smallest divider QEMU accepts; QEMU ignores the rate */
  UART_CTRL = 0x1u | 0x2u | 0x8u; /* TX, RX, RX interrupt (enabled in the NVIC only to sleep) */
  mm_cost_init();
#ifdef MM_BOARD_COST_SELFTEST
  mm_cost_selftest(mm_port_write); /* test builds: tests/test_boards_emulated.py */
#endif
  mm_app_init();
  uint64_t last_rx = mm_cost_now();
  for (;;) {
    if (UART_STATE & STATE_RX_FULL) {
      mm_app_rx((uint8_t)UART_DATA);
      last_rx = mm_cost_now();
      continue;
    }
    const int listening = mm_app_poll();
    uint64_t idle = mm_cost_now() - last_rx;
    if (idle > (uint64_t)MM_PROTO_IDLE_TIMEOUT_MS * TICKS_PER_MS) {
      mm_app_idle();
      last_rx = mm_cost_now();
    }
    if (listening || idle < (uint64_t)SPIN_MS * TICKS_PER_MS) continue; /* spin (see above) */
    sleep_until_rx();
  }
}
