/* An I2S MEMS microphone (INMP441, SPH0645 or alike, L/R to ground: the left slot) on the
 * RP2040: PIO0 state machine 0 is the I2S master (bit clock and word select on side-set
 * pins, 64 bit clocks per frame, the left word's 32 bits shifted in MSB first and pushed),
 * two DMA channels chained to each other fill two halves (ping-pong), and each finished half
 * is scaled to int16 (the top 16 of the 24 data bits) and handed to mm_audio from DMA_IRQ_0.
 * 16 kHz: the state machine runs at 2 instructions per bit clock, 128 per frame, so its
 * clock divider is f_cpu / (16000 * 128) = 64 + 241/256 at 133 MHz (exact on average).
 *
 * Registers: RP2040 datasheet (2.5 DMA at 0x50000000, 3 PIO at 0x50200000, 2.14 resets,
 * 2.19 IO_BANK0 / PADS_BANK0), PIO instruction encodings from 3.4. Pins: data GP2, bit clock
 * GP3, word select GP4 (MM_I2S_PIN_DATA, MM_I2S_PIN_BCLK; word select = bit clock + 1).
 * Compile-checked in CI (env xc_rp2040); it has not run on silicon. */
#include <stdint.h>

#include "mm_audio.h"

#ifndef MM_I2S_PIN_DATA
#define MM_I2S_PIN_DATA 2u
#endif
#ifndef MM_I2S_PIN_BCLK
#define MM_I2S_PIN_BCLK 3u
#endif
#if MM_AUDIO_IRQ != 11
#error "DMA_IRQ_0 is IRQ 11 (board JSON: MM_AUDIO_IRQ=11)"
#endif

#define REG(a) (*(volatile uint32_t *)(a))
#define CLR(a) REG((a) + 0x3000u) /* atomic bit clear alias */
#define RESETS_RESET 0x4000C000u
#define RESETS_DONE REG(0x4000C008u)
#define IO_CTRL(n) REG(0x40014004u + 8u * (n))
#define PAD(n) REG(0x4001C004u + 4u * (n))
#define PIO0 0x50200000u
#define PIO_CTRL REG(PIO0 + 0x000u)
#define PIO_RXF0 (PIO0 + 0x020u)
#define PIO_INSTR_MEM(i) REG(PIO0 + 0x048u + 4u * (i))
#define SM0_CLKDIV REG(PIO0 + 0x0C8u)
#define SM0_EXECCTRL REG(PIO0 + 0x0CCu)
#define SM0_SHIFTCTRL REG(PIO0 + 0x0D0u)
#define SM0_INSTR REG(PIO0 + 0x0D8u)
#define SM0_PINCTRL REG(PIO0 + 0x0DCu)
#define DMA_READ(c) REG(0x50000000u + 0x40u * (c))
#define DMA_WRITE(c) REG(0x50000004u + 0x40u * (c))
#define DMA_COUNT(c) REG(0x50000008u + 0x40u * (c))
#define DMA_CTRL_TRIG(c) REG(0x5000000Cu + 0x40u * (c))
#define DMA_CTRL(c) REG(0x50000010u + 0x40u * (c)) /* AL1_CTRL: no trigger */
#define DMA_INTE0 REG(0x50000404u)
#define DMA_INTS0 REG(0x5000040Cu)
#define DMA_CHAN_ABORT REG(0x50000444u)
#define NVIC_ISER0 REG(0xE000E100u)
#define NVIC_ICER0 REG(0xE000E180u)

/* Side-set (2 bits, instruction bits 12:11): bit 0 = bit clock, bit 1 = word select. I2S
 * moves word select one bit clock before the MSB, so it changes on the falling edge that
 * starts each word's last bit. Data is sampled on rising edges. */
#define SIDE(s) ((uint16_t)((s) << 11))
#define SET_X(v, s) (uint16_t)(0xE020u | (v) | SIDE(s))
#define IN_PIN(s) (uint16_t)(0x4001u | SIDE(s))
#define NOP(s) (uint16_t)(0xA042u | SIDE(s)) /* mov y, y */
#define JMP_XDEC(a, s) (uint16_t)(0x0040u | (a) | SIDE(s))
static const uint16_t program[] = {
    SET_X(29, 0),    /* 0  fall: left bit 31 (WS 0) */
    IN_PIN(1),       /* 1  rise: sample left bits 31..2 */
    JMP_XDEC(1, 0),  /* 2  fall */
    IN_PIN(1),       /* 3  rise: left bit 1 */
    SET_X(29, 2),    /* 4  fall: left bit 0, WS 1 */
    IN_PIN(3),       /* 5  rise: left bit 0 (32 bits: autopush) */
    NOP(2),          /* 6  fall: right bit 31 (not captured: the mono mic's idle slot) */
    NOP(3),          /* 7  rise */
    JMP_XDEC(7, 2),  /* 8  fall */
    NOP(3),          /* 9  rise: right bit 1 */
    NOP(0),          /* 10 fall: right bit 0, WS 0 */
    NOP(1),          /* 11 rise; wrap to 0 */
};
#define N_INSTR (sizeof program / sizeof program[0])

static int32_t dma_buf[2][MM_AUDIO_HALF];
static int16_t pcm[MM_AUDIO_HALF];

static uint32_t ctrl(uint32_t chain_to) {
  /* enable, 32-bit, write increment, chain to the other channel, DREQ_PIO0_RX0 (4) */
  return 1u | (2u << 2) | (1u << 5) | (chain_to << 11) | (4u << 15);
}

void mm_board_audio_irq(void) {
  uint32_t done = DMA_INTS0 & 3u;
  DMA_INTS0 = done;
  for (uint32_t c = 0; c < 2u; c++) {
    if (!(done & (1u << c))) continue;
    DMA_WRITE(c) = (uint32_t)dma_buf[c]; /* re-arm before the other channel chains back */
    DMA_COUNT(c) = MM_AUDIO_HALF;
    for (uint32_t i = 0; i < MM_AUDIO_HALF; i++) pcm[i] = (int16_t)(dma_buf[c][i] >> 16);
    mm_audio_deliver(pcm, MM_AUDIO_HALF);
  }
}

int mm_port_mic_start(uint32_t rate, uint32_t half) {
  if (rate != 16000u || half != MM_AUDIO_HALF) return -1;
  const uint32_t bits = (1u << 2) | (1u << 5) | (1u << 8) | (1u << 10); /* dma, io, pads, pio0 */
  CLR(RESETS_RESET) = bits;
  while ((RESETS_DONE & bits) != bits) {
  }
  for (uint32_t i = 0; i < N_INSTR; i++) PIO_INSTR_MEM(i) = program[i];
  const uint32_t pins[3] = {MM_I2S_PIN_DATA, MM_I2S_PIN_BCLK, MM_I2S_PIN_BCLK + 1u};
  for (uint32_t i = 0; i < 3u; i++) {
    IO_CTRL(pins[i]) = 6u;  /* FUNCSEL: PIO0 */
    PAD(pins[i]) = 1u << 6; /* input enabled, output enabled, no pulls */
  }
  /* clock divider: f_cpu / (rate * 128) in 16.8 fixed point */
  uint64_t div256 = ((uint64_t)MM_BOARD_CLOCK_HZ * 256u + rate * 64u) / (rate * 128u);
  SM0_CLKDIV = (uint32_t)((div256 >> 8) << 16) | (uint32_t)((div256 & 0xFFu) << 8);
  SM0_EXECCTRL = ((N_INSTR - 1u) << 12) | (0u << 7);                 /* wrap 11 -> 0 */
  SM0_SHIFTCTRL = (1u << 31) | (0u << 20) | (0u << 18) | (1u << 16); /* join RX, push at 32, left, autopush */
  SM0_PINCTRL = (2u << 29) | (2u << 26) | (MM_I2S_PIN_DATA << 15) | (MM_I2S_PIN_BCLK << 10) |
                (MM_I2S_PIN_BCLK << 5); /* 2 side-set pins, 2 set pins, in base, side-set and set base */
  SM0_INSTR = 0xE083u;                  /* set pindirs, 3: the clock pins drive */
  SM0_INSTR = 0x0000u;                  /* jmp 0 */
  for (uint32_t c = 0; c < 2u; c++) {
    DMA_READ(c) = PIO_RXF0;
    DMA_WRITE(c) = (uint32_t)dma_buf[c];
    DMA_COUNT(c) = MM_AUDIO_HALF;
  }
  DMA_CTRL(1) = ctrl(0);
  DMA_INTE0 = 3u;
  NVIC_ISER0 = 1u << MM_AUDIO_IRQ;
  DMA_CTRL_TRIG(0) = ctrl(1);
  PIO_CTRL = 1u; /* SM0 enable */
  return 0;
}

void mm_port_mic_stop(void) {
  PIO_CTRL = 0u;
  DMA_INTE0 = 0u;
  DMA_CHAN_ABORT = 3u;
  NVIC_ICER0 = 1u << MM_AUDIO_IRQ;
}
