/* Test builds only (MM_BOARD_COST_SELFTEST, tests/test_boards_emulated.py): run a loop of a
 * known number of instructions and format what the cost counter made of it, so a wrong
 * SysTick/mtime clock or icount ratio in a board definition shows. The emulated boards'
 * ports pass their UART write, so the line appears on the link at boot. */
#ifdef MM_BOARD_COST_SELFTEST
#include <stdio.h>

#include "mm_cost.h"

#define SELFTEST_TURNS 1000000u /* two instructions per turn */

void mm_cost_selftest(void (*write)(const uint8_t *data, size_t n)) {
  char line[96];
  uint32_t n = SELFTEST_TURNS;
  uint64_t t0 = mm_cost_now();
#if defined(__riscv)
  __asm__ volatile("1: addi %0, %0, -1\n bnez %0, 1b" : "+r"(n));
#elif defined(__thumb__)
  __asm__ volatile("1: subs %0, %0, #1\n bne 1b" : "+l"(n) : : "cc");
#else
#error "mm_cost_selftest: no two-instruction loop for this architecture"
#endif
  uint64_t t1 = mm_cost_now();
  uint64_t counted = (t1 - t0) * mm_cost_num / mm_cost_den;
  int len = snprintf(line, sizeof line, "cost_selftest loop_instructions=%lu counted=%lu\n",
                     2ul * SELFTEST_TURNS, (unsigned long)counted);
  write((const uint8_t *)line, (size_t)len);
}
#endif
