/* The emulated microphone's clock: a CMSDK APB timer (MPS2/MPS3 FPGA images) interrupts
 * once per half-buffer of audio, and mm_audio reads the period's samples then. The board
 * definition gives the timer's address and interrupt (MM_AUDIO_TIMER_BASE, MM_AUDIO_IRQ);
 * the timer counts at the SysTick clock, so a period in mm_cost counts (SysTick ticks under
 * MM_COST_QEMU_ICOUNT) is a period in timer ticks. With QEMU's -icount the period is then a
 * fixed number of instructions: the audio is paced at the board's clock (f_cpu
 * instructions per second), and the app meets its deadlines or overruns exactly as it
 * would at one instruction per cycle. */
#if defined(MM_AUDIO_TIMER_BASE) && defined(MM_AUDIO_IRQ)
#include <stdint.h>

#include "mm_audio.h"

#if !defined(MM_COST_QEMU_ICOUNT)
#error "the CMSDK audio timer counts SysTick ticks: it needs the MM_COST_QEMU_ICOUNT cost counter"
#endif

#define TIMER_REG(off) (*(volatile uint32_t *)((uint32_t)(MM_AUDIO_TIMER_BASE) + (off)))
#define CTRL TIMER_REG(0x0u)   /* bit 0 enable, bit 3 interrupt enable */
#define VALUE TIMER_REG(0x4u)
#define RELOAD TIMER_REG(0x8u)
#define INTCLR TIMER_REG(0xCu)
#define NVIC_ISER(n) (*(volatile uint32_t *)(0xE000E100u + 4u * (n)))
#define NVIC_ICER(n) (*(volatile uint32_t *)(0xE000E180u + 4u * (n)))
#define NVIC_ICPR(n) (*(volatile uint32_t *)(0xE000E280u + 4u * (n)))

void mm_board_audio_irq(void) {
  INTCLR = 1u;
  mm_audio_period_end();
}

int mm_port_audio_timer_start(uint32_t period_cost) {
  if (period_cost < 2u) return -1;
  CTRL = 0u;
  RELOAD = period_cost - 1u; /* the period is RELOAD + 1 ticks */
  VALUE = period_cost - 1u;
  INTCLR = 1u;
  NVIC_ICPR((MM_AUDIO_IRQ) >> 5) = 1u << ((MM_AUDIO_IRQ) & 31);
  NVIC_ISER((MM_AUDIO_IRQ) >> 5) = 1u << ((MM_AUDIO_IRQ) & 31);
  CTRL = 0x1u | 0x8u;
  return 0;
}

void mm_port_audio_timer_stop(void) {
  CTRL = 0u;
  NVIC_ICER((MM_AUDIO_IRQ) >> 5) = 1u << ((MM_AUDIO_IRQ) & 31);
  INTCLR = 1u;
}
#endif
