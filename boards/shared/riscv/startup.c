/* Reset entry shared by the bare-metal 32-bit RISC-V boards: global and stack
 * pointers, .data copied from flash, .bss cleared, then main. No interrupts
 * are used (the ports poll), so no trap vector is installed. */
#include <stdint.h>
#include <string.h>

extern uint32_t __etext_data, __data_start__, __data_end__, __bss_start__, __bss_end__;
extern int main(void);

void mm_board_reset(void);

__attribute__((naked, section(".text.start"))) void _start(void) {
  __asm__ volatile(
      ".option push\n .option norelax\n"
      "la gp, __global_pointer$\n"
      ".option pop\n"
      "la sp, __stack_top\n"
      "j mm_board_reset\n");
}

void mm_board_exit(int code) {
  (void)code;
  for (;;) {
  }
}

void mm_board_reset(void) {
  memcpy(&__data_start__, &__etext_data,
         (size_t)((uint8_t *)&__data_end__ - (uint8_t *)&__data_start__));
  memset(&__bss_start__, 0, (size_t)((uint8_t *)&__bss_end__ - (uint8_t *)&__bss_start__));
  main();
  mm_board_exit(0);
}
