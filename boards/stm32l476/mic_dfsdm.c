/* A PDM microphone on the STM32L476 through DFSDM1: channel 0 samples the microphone's data
 * (DATIN0, PB1) on the clock the DFSDM drives (CKOUT, PC2, SYSCLK / 40 = 2 MHz at 80 MHz);
 * filter 0's sinc3 filter decimates by 125 to 16 kHz; DMA1 channel 4 (request 0) moves the
 * 24-bit results into a circular buffer of two halves, and each half (half-transfer and
 * transfer-complete interrupts) is scaled to int16 and handed to mm_audio.
 * Full scale after sinc3 at 125 is 125^3 (about 2^21): the channel's right shift of 6
 * brings it to 16 bits.
 *
 * Registers: RM0351 (STM32L4x5/L4x6 reference manual): RCC 0x40021000, GPIOB 0x48000400,
 * GPIOC 0x48000800, DFSDM1 0x40016000, DMA1 0x40020000 (channel 4 interrupt: IRQ 14). The
 * DFSDM kernel clock is SYSCLK (RCC_CCIPR.DFSDM1SEL), assumed to be the board's f_cpu.
 * Compile-checked in CI (env xc_stm32l476); it has not run on silicon. */
#include <stdint.h>

#include "mm_audio.h"

#if !defined(MM_BOARD_CLOCK_HZ) || (MM_BOARD_CLOCK_HZ % (16000u * 125u)) != 0
#error "DFSDM: SYSCLK (f_cpu) must be a multiple of 2 MHz (16 kHz x 125)"
#endif
#if MM_AUDIO_IRQ != 14
#error "DMA1 channel 4 is IRQ 14 (board JSON: MM_AUDIO_IRQ=14)"
#endif

#define REG(a) (*(volatile uint32_t *)(a))
#define RCC_AHB1ENR REG(0x40021048u)
#define RCC_AHB2ENR REG(0x4002104Cu)
#define RCC_APB2ENR REG(0x40021060u)
#define RCC_CCIPR REG(0x40021088u)
#define GPIO_MODER(g) REG((g) + 0x00u)
#define GPIO_AFRL(g) REG((g) + 0x20u)
#define GPIOB 0x48000400u
#define GPIOC 0x48000800u
#define CH0CFGR1 REG(0x40016000u)
#define CH0CFGR2 REG(0x40016004u)
#define FLT0CR1 REG(0x40016100u)
#define FLT0FCR REG(0x40016114u)
#define FLT0RDATAR REG(0x4001611Cu)
#define DMA1_IFCR REG(0x40020004u)
#define DMA1_ISR REG(0x40020000u)
#define DMA1_CCR4 REG(0x40020044u)
#define DMA1_CNDTR4 REG(0x40020048u)
#define DMA1_CPAR4 REG(0x4002004Cu)
#define DMA1_CMAR4 REG(0x40020050u)
#define DMA1_CSELR REG(0x400200A8u)
#define NVIC_ISER0 REG(0xE000E100u)
#define NVIC_ICER0 REG(0xE000E180u)

#define CKOUTDIV (MM_BOARD_CLOCK_HZ / (16000u * 125u) - 1u)
#define SHIFT 6u
#define HTIF4 (1u << 14)
#define TCIF4 (1u << 13)

static int32_t dma[2 * MM_AUDIO_HALF];
static int16_t pcm[MM_AUDIO_HALF];

static void deliver(const int32_t *x) {
  for (uint32_t i = 0; i < MM_AUDIO_HALF; i++) {
    int32_t v = x[i] >> 8; /* RDATA: bits 31:8, already shifted right by SHIFT */
    pcm[i] = (int16_t)(v > 32767 ? 32767 : v < -32768 ? -32768 : v);
  }
  mm_audio_deliver(pcm, MM_AUDIO_HALF);
}

void mm_board_audio_irq(void) {
  uint32_t isr = DMA1_ISR;
  DMA1_IFCR = isr & (0xFu << 12); /* channel 4's flags */
  if (isr & HTIF4) deliver(dma);
  if (isr & TCIF4) deliver(dma + MM_AUDIO_HALF);
}

static void alternate(uint32_t gpio, uint32_t pin, uint32_t af) {
  GPIO_MODER(gpio) = (GPIO_MODER(gpio) & ~(3u << (2u * pin))) | (2u << (2u * pin));
  GPIO_AFRL(gpio) = (GPIO_AFRL(gpio) & ~(0xFu << (4u * pin))) | (af << (4u * pin));
}

int mm_port_mic_start(uint32_t rate, uint32_t half) {
  if (rate != 16000u || half != MM_AUDIO_HALF) return -1;
  RCC_AHB1ENR |= 1u;                    /* DMA1 */
  RCC_AHB2ENR |= (1u << 1) | (1u << 2); /* GPIOB, GPIOC */
  RCC_APB2ENR |= 1u << 24;              /* DFSDM1 */
  RCC_CCIPR |= 1u << 31;                /* DFSDM1 kernel clock: SYSCLK */
  alternate(GPIOB, 1u, 6u);             /* PB1: DFSDM1_DATIN0 */
  alternate(GPIOC, 2u, 6u);             /* PC2: DFSDM1_CKOUT */
  CH0CFGR1 = 0;
  CH0CFGR2 = SHIFT << 3;                         /* DTRBS */
  CH0CFGR1 = (CKOUTDIV << 16) | (1u << 7) | (1u << 2); /* CKOUT divider, CHEN, SPICKSEL=CKOUT, SITP=rising */
  FLT0FCR = (3u << 29) | ((125u - 1u) << 16);   /* sinc3, FOSR 125, IOSR 1 */
  FLT0CR1 = (0u << 24) | (1u << 29) | (1u << 21) | (1u << 18); /* RCH 0, FAST, RDMAEN, RCONT */
  DMA1_CCR4 = 0;
  DMA1_CSELR &= ~(0xFu << 12);                  /* channel 4, request 0: DFSDM1_FLT0 */
  DMA1_CPAR4 = (uint32_t)&FLT0RDATAR;
  DMA1_CMAR4 = (uint32_t)dma;
  DMA1_CNDTR4 = 2u * MM_AUDIO_HALF;
  DMA1_IFCR = 0xFu << 12;
  /* 32-bit from peripheral to memory, memory increment, circular, half and full interrupts */
  DMA1_CCR4 = (2u << 10) | (2u << 8) | (1u << 7) | (1u << 5) | (1u << 2) | (1u << 1) | 1u;
  NVIC_ISER0 = 1u << MM_AUDIO_IRQ;
  CH0CFGR1 |= 1u << 31;                         /* DFSDMEN: the interface runs */
  FLT0CR1 |= 1u;                                /* DFEN */
  FLT0CR1 |= 1u << 17;                          /* RSWSTART: continuous regular conversions */
  return 0;
}

void mm_port_mic_stop(void) {
  FLT0CR1 &= ~1u;
  CH0CFGR1 &= ~(1u << 31);
  DMA1_CCR4 = 0;
  NVIC_ICER0 = 1u << MM_AUDIO_IRQ;
}
