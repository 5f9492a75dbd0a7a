/* The microphone of the Arduino Nano 33 BLE Sense (MP34DT05/06 PDM microphone) through the
 * nRF52840's PDM peripheral: hardware decimation to 16-bit PCM, EasyDMA into two buffers of
 * one half each. On EVENTS_STARTED the PDM has latched SAMPLE.PTR, so the next buffer is
 * given then; on EVENTS_END the finished buffer goes to mm_audio (one ring, one overrun
 * rule on every board). 16 kHz exactly: PDM clock 32 MHz / 25 = 1.28 MHz, ratio 80.
 *
 * Registers: nRF52840 Product Specification v1.7, PDM chapter (base 0x4001D000, IRQ 29);
 * CLOCK (0x40000000) for the HFXO the PDM clock needs; GPIO P0 (0x50000000) for the
 * microphone's power pin. Pins of the Nano 33 BLE Sense (Arduino's mbed variant):
 * CLK P0.26, DIN P0.25, power P0.20 (override with MM_PDM_PIN_CLK/_DIN/_PWR).
 * Compile-checked in CI (env xc_nrf52840); it has not run on silicon. */
#include <stdint.h>

#include "mm_audio.h"

#ifndef MM_PDM_PIN_CLK
#define MM_PDM_PIN_CLK 26u
#endif
#ifndef MM_PDM_PIN_DIN
#define MM_PDM_PIN_DIN 25u
#endif
#ifndef MM_PDM_PIN_PWR
#define MM_PDM_PIN_PWR 20u
#endif

#define REG(a) (*(volatile uint32_t *)(a))
#define CLOCK_TASKS_HFCLKSTART REG(0x40000000u)
#define CLOCK_EVENTS_HFCLKSTARTED REG(0x40000100u)
#define PDM(off) REG(0x4001D000u + (off))
#define TASKS_START PDM(0x000u)
#define TASKS_STOP PDM(0x004u)
#define EVENTS_STARTED PDM(0x100u)
#define EVENTS_STOPPED PDM(0x104u)
#define EVENTS_END PDM(0x108u)
#define INTENSET PDM(0x304u)
#define INTENCLR PDM(0x308u)
#define ENABLE PDM(0x500u)
#define PDMCLKCTRL PDM(0x504u)
#define MODE PDM(0x508u)
#define GAINL PDM(0x518u)
#define GAINR PDM(0x51Cu)
#define RATIO PDM(0x520u)
#define PSEL_CLK PDM(0x540u)
#define PSEL_DIN PDM(0x544u)
#define SAMPLE_PTR PDM(0x560u)
#define SAMPLE_MAXCNT PDM(0x564u)
#define P0_OUTSET REG(0x50000508u)
#define P0_OUTCLR REG(0x5000050Cu)
#define P0_PIN_CNF(n) REG(0x50000700u + 4u * (n))
#define NVIC_ISER0 REG(0xE000E100u)
#define NVIC_ICER0 REG(0xE000E180u)

#if MM_AUDIO_IRQ != 29
#error "the nRF52840's PDM interrupt is IRQ 29 (board JSON: MM_AUDIO_IRQ=29)"
#endif

static int16_t buf[2][MM_AUDIO_HALF] __attribute__((aligned(4)));
static volatile uint32_t filling; /* the buffer the PDM writes now */

void mm_board_audio_irq(void) {
  if (EVENTS_STARTED) { /* buf[filling] latched: queue the other one */
    EVENTS_STARTED = 0;
    SAMPLE_PTR = (uint32_t)buf[filling ^ 1u];
  }
  if (EVENTS_END) {
    EVENTS_END = 0;
    mm_audio_deliver(buf[filling], MM_AUDIO_HALF);
    filling ^= 1u;
  }
  if (EVENTS_STOPPED) EVENTS_STOPPED = 0;
}

int mm_port_mic_start(uint32_t rate, uint32_t half) {
  if (rate != 16000u || half != MM_AUDIO_HALF) return -1;
  CLOCK_EVENTS_HFCLKSTARTED = 0;
  CLOCK_TASKS_HFCLKSTART = 1; /* the PDM clock needs the crystal oscillator */
  while (!CLOCK_EVENTS_HFCLKSTARTED) {
  }
  P0_PIN_CNF(MM_PDM_PIN_PWR) = 1u | (3u << 8); /* output, high drive: the microphone's supply */
  P0_OUTSET = 1u << MM_PDM_PIN_PWR;
  P0_PIN_CNF(MM_PDM_PIN_CLK) = 1u;              /* output */
  P0_OUTCLR = 1u << MM_PDM_PIN_CLK;
  P0_PIN_CNF(MM_PDM_PIN_DIN) = 0u;              /* input, buffer connected */
  PSEL_CLK = MM_PDM_PIN_CLK;
  PSEL_DIN = MM_PDM_PIN_DIN;
  PDMCLKCTRL = 0x0A000000u; /* 32 MHz / 25 = 1.280 MHz */
  RATIO = 1u;               /* 80: 1.28 MHz / 80 = 16 kHz */
  MODE = 1u;                /* mono, left (falling edge) */
  GAINL = GAINR = 0x28u;    /* 0 dB */
  SAMPLE_MAXCNT = MM_AUDIO_HALF;
  filling = 0;
  SAMPLE_PTR = (uint32_t)buf[0];
  EVENTS_STARTED = EVENTS_END = EVENTS_STOPPED = 0;
  INTENSET = 0x7u; /* STARTED, STOPPED, END */
  NVIC_ISER0 = 1u << MM_AUDIO_IRQ;
  ENABLE = 1u;
  TASKS_START = 1u;
  return 0;
}

void mm_port_mic_stop(void) {
  TASKS_STOP = 1u;
  INTENCLR = 0x7u;
  NVIC_ICER0 = 1u << MM_AUDIO_IRQ;
  ENABLE = 0u;
  P0_OUTCLR = 1u << MM_PDM_PIN_PWR;
}
