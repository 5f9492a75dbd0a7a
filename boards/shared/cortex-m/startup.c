/* Reset handler and vector table shared by the bare-metal Cortex-M boards
 * (M0+, M4F, M7, M33, M55). The board definition (boards/pio/<board>.json)
 * sizes the table and names the host link's receive interrupt:
 *   MM_BOARD_IRQS       external interrupts in the vector table (default 32)
 *   MM_UART_RX_IRQ      IRQ number of the UART receive interrupt, if any
 *   MM_AUDIO_IRQ        IRQ number of the audio input's interrupt (the emulated
 *                       microphone's timer, a microphone's DMA), if any
 *   MM_BOARD_SEMIHOSTING  exit through semihosting (emulated boards only; on
 *                       silicon without a debugger bkpt would lock up). */
#include <stdint.h>
#include <string.h>

#ifndef MM_BOARD_IRQS
#define MM_BOARD_IRQS 32
#endif

extern uint32_t __etext_data, __data_start__, __data_end__, __bss_start__, __bss_end__;
extern uint32_t __stack_top, __stack_bottom;
extern int main(void);

/* The stack is painted at reset; the deepest word ever written shows how much of it has
 * been used (STATS reports it, so a soak can show it stays constant). */
#define MM_STACK_PAINT 0x5AC3A55Cu
#define MM_STACK_MARGIN 256u /* below the reset handler's own frame: left unpainted */

uint32_t mm_port_stack_used(void) {
  const uint32_t *w = &__stack_bottom;
  while (w < &__stack_top && *w == MM_STACK_PAINT) {
    w++;
  }
  return (uint32_t)((const uint8_t *)&__stack_top - (const uint8_t *)w);
}

static void paint_stack(void) {
  uint32_t sp;
  __asm__ volatile("mov %0, sp" : "=r"(sp));
  for (uint32_t *w = &__stack_bottom; (uint32_t)(uintptr_t)w + MM_STACK_MARGIN < sp; w++) {
    *(volatile uint32_t *)w = MM_STACK_PAINT;
  }
}

void Reset_Handler(void);
void Default_Handler(void);
void HardFault_Handler(void);
void SysTick_Handler(void) __attribute__((weak, alias("Default_Handler")));
void mm_board_uart_rx_irq(void) __attribute__((weak, alias("Default_Handler")));
void mm_board_audio_irq(void) __attribute__((weak, alias("Default_Handler")));

void mm_board_exit(int code) {
#ifdef MM_BOARD_SEMIHOSTING
  /* SYS_EXIT_EXTENDED (0x20) with ADP_Stopped_ApplicationExit and the exit code: on
   * A32/T32 plain SYS_EXIT (0x18) takes no code, and QEMU then always exits with 1. So a
   * HardFault (3) or a stray interrupt (4) shows in QEMU's exit status. */
  uint32_t block[2] = {0x20026u, (uint32_t)code};
  register uint32_t r0 __asm__("r0") = 0x20u;
  register uint32_t *r1 __asm__("r1") = block;
  __asm__ volatile("bkpt 0xAB" : : "r"(r0), "r"(r1) : "memory");
#else
  (void)code;
#endif
  for (;;) {
  }
}

typedef void (*mm_vector)(void);

/* Unused interrupts go to Default_Handler (a GCC range initialiser); the
 * board's UART receive and audio interrupts, when it has them, to their
 * handlers (later designators override the range: intended). */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Woverride-init"
__attribute__((section(".isr_vector"), used)) static const mm_vector vectors[16 + MM_BOARD_IRQS] = {
    (mm_vector)&__stack_top,
    Reset_Handler,
    Default_Handler,   /* NMI */
    HardFault_Handler, /* HardFault */
    HardFault_Handler, /* MemManage (v7-M, v8-M main) */
    HardFault_Handler, /* BusFault */
    HardFault_Handler, /* UsageFault */
    HardFault_Handler, /* SecureFault (v8-M) */
    0, 0, 0,
    Default_Handler, /* SVCall */
    Default_Handler, /* DebugMon */
    0,
    Default_Handler, /* PendSV */
    SysTick_Handler,
    [16 ... 15 + MM_BOARD_IRQS] = Default_Handler,
#if defined(MM_UART_RX_IRQ)
    [16 + MM_UART_RX_IRQ] = mm_board_uart_rx_irq,
#endif
#if defined(MM_AUDIO_IRQ)
    [16 + MM_AUDIO_IRQ] = mm_board_audio_irq,
#endif
};
#pragma GCC diagnostic pop

void Reset_Handler(void) {
#if defined(__ARM_FP) || defined(__ARM_FEATURE_MVE)
  /* Enable CP10/CP11 (the FPU, and MVE on M55) before any float code runs. */
  *(volatile uint32_t *)0xE000ED88u |= 0xFu << 20;
  __asm__ volatile("dsb\n isb");
#endif
  memcpy(&__data_start__, &__etext_data,
         (size_t)((uint8_t *)&__data_end__ - (uint8_t *)&__data_start__));
  memset(&__bss_start__, 0, (size_t)((uint8_t *)&__bss_end__ - (uint8_t *)&__bss_start__));
  paint_stack();
  main();
  mm_board_exit(0);
}

void HardFault_Handler(void) { mm_board_exit(3); }
void Default_Handler(void) { mm_board_exit(4); }
