/* Minimal board port of the build-only targets: a polled UART as the host
 * link, the main loop of the other ports. It makes the offline build a real
 * link of the real application at the part's memory map (so the size table
 * is the size of what ships), with the UART registers of the part. It sets
 * up no clocks or pins: to run on the board, flash its real-board environment
 * (docs/boards.md). The board definition picks the UART model and address:
 *   MM_UART_STM32  STM32 USART (L4, F7, U5): ISR 0x1C, RDR 0x24, TDR 0x28
 *   MM_UART_NRF    nRF52 UART (no DMA): RXD/TXD with RXDRDY/TXDRDY events
 *   MM_UART_PL011  Arm PL011 (RP2040): DR 0x00, FR 0x18
 *   MM_UART_ESP32  ESP32-C3 UART: FIFO 0x00, STATUS 0x1C (FIFO counts) */
#include <stdint.h>

#include "mm_app.h"
#include "mm_cost.h"
#include "mm_port.h"
#include "mm_proto.h"

#if !defined(MM_UART_BASE) || !defined(MM_BOARD_CLOCK_HZ)
#error "the board definition must give MM_UART_BASE and the core clock (build.f_cpu)"
#endif

#define REG(off) (*(volatile uint32_t *)((uintptr_t)(MM_UART_BASE) + (off)))

#if defined(MM_UART_STM32)
#define UART_INIT() ((void)0)
#define RX_READY() (REG(0x1Cu) & (1u << 5))  /* ISR.RXNE */
#define RX_READ() ((uint8_t)REG(0x24u))      /* RDR */
#define TX_READY() (REG(0x1Cu) & (1u << 7))  /* ISR.TXE */
#define TX_PUT(b) (REG(0x28u) = (b))         /* TDR */
#define TX_DONE() ((void)0)
#elif defined(MM_UART_NRF)
#define UART_INIT() (REG(0x500u) = 4u, REG(0x000u) = 1u, REG(0x008u) = 1u) /* ENABLE, STARTRX, STARTTX */
#define RX_READY() (REG(0x108u))                                         /* EVENTS_RXDRDY */
#define RX_READ() (REG(0x108u) = 0u, (uint8_t)REG(0x518u))               /* clear, RXD */
#define TX_READY() (1)
#define TX_PUT(b) (REG(0x51Cu) = (b)) /* TXD */
#define TX_DONE()              \
  do {                         \
    while (!REG(0x11Cu)) {     \
    } /* EVENTS_TXDRDY */      \
    REG(0x11Cu) = 0u;          \
  } while (0)
#elif defined(MM_UART_PL011)
#define UART_INIT() ((void)0)
#define RX_READY() (!(REG(0x18u) & (1u << 4))) /* FR.RXFE */
#define RX_READ() ((uint8_t)REG(0x00u))
#define TX_READY() (!(REG(0x18u) & (1u << 5))) /* FR.TXFF */
#define TX_PUT(b) (REG(0x00u) = (b))
#define TX_DONE() ((void)0)
#elif defined(MM_UART_ESP32)
#define UART_INIT() ((void)0)
#define RX_READY() (REG(0x1Cu) & 0x3FFu)                      /* STATUS.rxfifo_cnt */
#define RX_READ() ((uint8_t)REG(0x00u))                       /* FIFO */
#define TX_READY() (((REG(0x1Cu) >> 16) & 0x3FFu) < 126u)     /* STATUS.txfifo_cnt, 128 deep */
#define TX_PUT(b) (REG(0x00u) = (b))
#define TX_DONE() ((void)0)
#else
#error "the board definition must pick a UART model (MM_UART_STM32, _NRF, _PL011 or _ESP32)"
#endif

const char mm_port_target[] = MM_TARGET_NAME;
const char mm_port_core[] = MM_CORE_NAME;

void mm_port_write(const uint8_t *data, size_t n) {
  for (size_t i = 0; i < n; i++) {
    while (!TX_READY()) {
    }
    TX_PUT(data[i]);
    TX_DONE();
  }
}

/* The idle timeout: in cycles where the core counts them (DWT), else in
 * polls of the loop below (about 16 cycles each; only the order matters). */
static uint64_t idle_now(uint64_t polls) { return mm_cost_num ? mm_cost_now() : polls * 16u; }

int main(void) {
  const uint64_t timeout = (uint64_t)MM_PROTO_IDLE_TIMEOUT_MS * ((MM_BOARD_CLOCK_HZ) / 1000u);
  uint64_t polls = 0;
  UART_INIT();
  mm_cost_init();
  mm_app_init();
  uint64_t last_rx = idle_now(polls);
  for (;; polls++) {
    if (RX_READY()) {
      mm_app_rx(RX_READ());
      last_rx = idle_now(polls);
      continue;
    }
    mm_app_poll(); /* listening: the next block, or an output */
    if (idle_now(polls) - last_rx > timeout) {
      mm_app_idle();
      last_rx = idle_now(polls);
    }
  }
}
