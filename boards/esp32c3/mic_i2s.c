/* An I2S MEMS microphone (INMP441 or alike, L/R to ground: the left slot) on the ESP32-C3:
 * I2S0's receiver is the master (Philips standard, two 32-bit slots, 1.024 MHz bit clock
 * from the 160 MHz PLL clock), GDMA channel 0 fills a ring of descriptors of one half each.
 * The offline port takes no interrupts (its startup installs no trap handler), so the
 * driver is polled: mm_audio calls mm_port_mic_poll whenever the app looks for audio, and
 * every descriptor the DMA gave back (owner bit cleared) is scaled to int16 and delivered,
 * then handed back to the DMA. With the owner check on, a DMA that catches up with a
 * descriptor not yet collected stops instead of overwriting it: the driver counts that as
 * an overrun (mm_audio_lost) and restarts the link. Arrival times are the poll's, so the
 * measured latency is a lower bound on this board.
 *
 * Registers: ESP32-C3 Technical Reference Manual (I2S 0x6002D000, GDMA 0x6003F000, SYSTEM
 * 0x600C0000, GPIO matrix 0x60004000, IO MUX 0x60009000; GPIO matrix signals 15 I2SI_SD,
 * 16 I2SI_BCK, 17 I2SI_WS). Pins: data GPIO6, bit clock GPIO5, word select GPIO4
 * (MM_I2S_PIN_DATA, _BCLK, _WS). Compile-checked in CI (env xc_esp32c3); it has not run on
 * silicon. */
#include <stdint.h>

#include "mm_audio.h"

#ifndef MM_I2S_PIN_DATA
#define MM_I2S_PIN_DATA 6u
#endif
#ifndef MM_I2S_PIN_BCLK
#define MM_I2S_PIN_BCLK 5u
#endif
#ifndef MM_I2S_PIN_WS
#define MM_I2S_PIN_WS 4u
#endif

#define REG(a) (*(volatile uint32_t *)(a))
#define SYS_PERIP_CLK_EN0 REG(0x600C0010u)
#define SYS_PERIP_CLK_EN1 REG(0x600C0014u)
#define SYS_PERIP_RST_EN0 REG(0x600C0018u)
#define SYS_PERIP_RST_EN1 REG(0x600C001Cu)
#define I2S(off) REG(0x6002D000u + (off))
#define I2S_RX_CONF I2S(0x20u)
#define I2S_RX_CONF1 I2S(0x28u)
#define I2S_RX_CLKM_CONF I2S(0x30u)
#define I2S_TX_CLKM_CONF I2S(0x34u)
#define I2S_RX_CLKM_DIV_CONF I2S(0x38u)
#define I2S_RX_TDM_CTRL I2S(0x50u)
#define I2S_RXEOF_NUM I2S(0x64u)
#define DMA(off) REG(0x6003F000u + (off))
#define DMA_INT_RAW_CH0 DMA(0x00u)
#define DMA_INT_CLR_CH0 DMA(0x0Cu)
#define DMA_MISC_CONF DMA(0x44u)
#define DMA_IN_CONF0_CH0 DMA(0x70u)
#define DMA_IN_CONF1_CH0 DMA(0x74u)
#define DMA_IN_LINK_CH0 DMA(0x80u)
#define DMA_IN_PERI_SEL_CH0 DMA(0xA0u)
#define GPIO_ENABLE_W1TS REG(0x60004024u)
#define GPIO_FUNC_IN_SEL(sig) REG(0x60004154u + 4u * (sig))
#define GPIO_FUNC_OUT_SEL(pin) REG(0x60004554u + 4u * (pin))
#define IO_MUX(pin) REG(0x60009004u + 4u * (pin))

#define SIG_SD_IN 15u
#define SIG_BCK 16u
#define SIG_WS 17u
#define DESCS 4u
#define WORDS (2u * MM_AUDIO_HALF) /* left and right slot per sample */
#define IN_DSCR_ERR (1u << 5)
#define IN_DSCR_EMPTY (1u << 7)

typedef struct {
  volatile uint32_t ctrl; /* size 11:0, length 23:12, suc_eof 30, owner 31 (1: DMA) */
  volatile uint32_t buf;
  volatile uint32_t next;
} dma_desc;

static dma_desc desc[DESCS] __attribute__((aligned(4)));
static int32_t dma_buf[DESCS][WORDS];
static int16_t pcm[MM_AUDIO_HALF];
static uint32_t next_desc; /* the next descriptor the DMA completes */

static void give_to_dma(uint32_t k) { desc[k].ctrl = (1u << 31) | (4u * WORDS); }

static void link_start(void) {
  DMA_IN_CONF0_CH0 = 1u; /* reset the channel */
  DMA_IN_CONF0_CH0 = 0u;
  for (uint32_t k = 0; k < DESCS; k++) give_to_dma(k);
  next_desc = 0;
  DMA_INT_CLR_CH0 = 0x1FFFu;
  DMA_IN_LINK_CH0 = ((uint32_t)&desc[0] & 0xFFFFFu) | (1u << 22); /* INLINK_START */
}

void mm_port_mic_poll(void) {
  while (!(desc[next_desc].ctrl >> 31)) { /* given back by the DMA */
    const int32_t *w = dma_buf[next_desc];
    for (uint32_t i = 0; i < MM_AUDIO_HALF; i++) pcm[i] = (int16_t)(w[2u * i] >> 16);
    mm_audio_deliver(pcm, MM_AUDIO_HALF);
    give_to_dma(next_desc);
    next_desc = (next_desc + 1u) % DESCS;
  }
  if (DMA_INT_RAW_CH0 & (IN_DSCR_ERR | IN_DSCR_EMPTY)) { /* it caught up with us: audio lost */
    mm_audio_lost(MM_AUDIO_HALF);
    link_start();
  }
}

static void route_in(uint32_t pin, uint32_t sig) {
  IO_MUX(pin) = (1u << 12) | (1u << 9); /* function 1 (GPIO, through the matrix), input enabled */
  GPIO_FUNC_IN_SEL(sig) = pin | (1u << 6);
}

static void route_out(uint32_t pin, uint32_t sig) {
  route_in(pin, sig); /* the receiver also reads back the clocks it drives */
  GPIO_FUNC_OUT_SEL(pin) = sig;
  GPIO_ENABLE_W1TS = 1u << pin;
}

int mm_port_mic_start(uint32_t rate, uint32_t half) {
  if (rate != 16000u || half != MM_AUDIO_HALF) return -1;
  SYS_PERIP_CLK_EN0 |= 1u << 21; /* I2S */
  SYS_PERIP_RST_EN0 &= ~(1u << 21);
  SYS_PERIP_CLK_EN1 |= 1u << 6;  /* GDMA */
  SYS_PERIP_RST_EN1 &= ~(1u << 6);
  DMA_MISC_CONF = 1u << 3;       /* CLK_EN */
  route_in(MM_I2S_PIN_DATA, SIG_SD_IN);
  route_out(MM_I2S_PIN_BCLK, SIG_BCK);
  route_out(MM_I2S_PIN_WS, SIG_WS);
  for (uint32_t k = 0; k < DESCS; k++) {
    desc[k].buf = (uint32_t)dma_buf[k];
    desc[k].next = (uint32_t)&desc[(k + 1u) % DESCS];
  }
  /* MCLK = 160 MHz / (19 + 17/32) = 8.192 MHz; bit clock = MCLK / 8 = 1.024 MHz = 16 kHz x 64 */
  I2S_TX_CLKM_CONF |= 1u << 29;                                 /* CLK_EN: the I2S clock gate */
  I2S_RX_CLKM_CONF = 19u | (1u << 26) | (2u << 27);             /* div 19, active, CLK160 */
  I2S_RX_CLKM_DIV_CONF = 15u | (2u << 9) | (1u << 18) | (1u << 27); /* b/a = 17/32: z 15, y 2, x 1, yn1 */
  I2S_RX_CONF1 = 31u | (7u << 7) | (31u << 13) | (31u << 18) | (31u << 24) | (1u << 29);
  I2S_RX_TDM_CTRL = 3u | (1u << 16);                            /* slots 0 and 1, 2 in total */
  I2S_RXEOF_NUM = WORDS - 1u;                                   /* an EOF per half */
  /* reset receiver and FIFO; Philips, MSB first, left-aligned, no compression */
  I2S_RX_CONF = 3u;
  I2S_RX_CONF = (1u << 12) | (1u << 15);
  I2S_RX_CONF |= 1u << 8;                                       /* RX_UPDATE */
  while (I2S_RX_CONF & (1u << 8)) {
  }
  DMA_IN_CONF1_CH0 = 1u << 12;                                  /* check owners */
  DMA_IN_PERI_SEL_CH0 = 3u;                                     /* I2S0 */
  link_start();
  I2S_RX_CONF |= 1u << 2;                                       /* RX_START */
  return 0;
}

void mm_port_mic_stop(void) {
  I2S_RX_CONF &= ~(1u << 2);
  DMA_IN_LINK_CH0 = 1u << 21; /* INLINK_STOP */
}
