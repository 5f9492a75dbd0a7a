/* Board port for QEMU mps2-an386: CMSDK APB UART0 as the host link, SysTick
 * as the idle clock, WFI while waiting so that QEMU's -icount virtual clock
 * follows real time when the core is idle (the idle timeout is then real). */
#include <stdint.h>

#include "mm_app.h"
#include "mm_cost.h"
#include "mm_port.h"
#include "mm_proto.h"

#define UART0_BASE 0x40004000u
#define UART_DATA (*(volatile uint32_t *)(UART0_BASE + 0x000u))
#define UART_STATE (*(volatile uint32_t *)(UART0_BASE + 0x004u))
#define UART_CTRL (*(volatile uint32_t *)(UART0_BASE + 0x008u))
#define UART_INTCLR (*(volatile uint32_t *)(UART0_BASE + 0x00Cu))
#define UART_BAUDDIV (*(volatile uint32_t *)(UART0_BASE + 0x010u))
#define NVIC_ISER0 (*(volatile uint32_t *)0xE000E100u)

#define STATE_TX_FULL 0x1u
#define STATE_RX_FULL 0x2u

const char mm_port_target[] = MM_TARGET_NAME;
const char mm_port_core[] = MM_CORE_NAME;

/* Ticks of the cost counter per idle timeout: SysTick runs at 25 MHz of
 * virtual time; while the core sleeps in WFI, virtual time is real time. */
#define TICKS_PER_MS 25000u
#define SPIN_MS 50u

void UART0RX_Handler(void) { UART_INTCLR = 0x2u; }

void mm_port_write(const uint8_t *data, size_t n) {
  for (size_t i = 0; i < n; i++) {
    while (UART_STATE & STATE_TX_FULL) {
    }
    UART_DATA = data[i];
  }
}

int main(void) {
  UART_BAUDDIV = 16; /* the smallest divider QEMU accepts; QEMU ignores the rate */
  UART_CTRL = 0x1u | 0x2u | 0x8u; /* TX, RX, RX interrupt */
  NVIC_ISER0 = 1u << 0;
  mm_cost_init();
  mm_app_init();
  uint64_t last_rx = mm_cost_now();
  for (;;) {
    if (UART_STATE & STATE_RX_FULL) {
      mm_app_rx((uint8_t)UART_DATA);
      last_rx = mm_cost_now();
      continue;
    }
    uint64_t idle = mm_cost_now() - last_rx;
    if (idle > (uint64_t)MM_PROTO_IDLE_TIMEOUT_MS * TICKS_PER_MS) {
      mm_app_idle();
      last_rx = mm_cost_now();
    }
    /* QEMU hands the UART one byte per main-loop turn; polling for a while
     * after each byte receives a burst ~1.6x faster than waking from WFI per
     * byte. After SPIN_MS of quiet, sleep until the next byte or SysTick wrap
     * (a byte arriving between the check and WFI leaves its interrupt
     * pending, so WFI returns at once). */
    if (idle < (uint64_t)SPIN_MS * TICKS_PER_MS) continue;
    __asm__ volatile("wfi");
  }
}
