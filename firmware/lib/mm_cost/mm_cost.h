/* Cost counter: one interface over whatever the target can count.
 *   - QEMU with -icount shift=6: SysTick ticks at a fixed ratio to executed
 *     instructions (exact, repeatable): MM_COST_QEMU_ICOUNT; on RISC-V the
 *     machine timer (mtime) in the same way: MM_COST_QEMU_MTIME.
 *   - Cortex-M3/M4/M7/M33 silicon: the DWT cycle counter: MM_COST_DWT.
 *   - host build: a monotonic clock in nanoseconds: MM_COST_HOST.
 * Counts are raw; the host converts with mm_cost_num/mm_cost_den into the
 * unit mm_cost_unit names ("instructions", "cycles" or "ns"). */
#ifndef MM_COST_H
#define MM_COST_H

#include <stdint.h>

void mm_cost_init(void);
uint64_t mm_cost_now(void);
extern const char mm_cost_unit[];
/* unit = raw count * mm_cost_num / mm_cost_den */
extern const uint32_t mm_cost_num;
extern const uint32_t mm_cost_den;

#ifdef MM_BOARD_COST_SELFTEST
#include <stddef.h>
/* Test builds: a counted loop, then "cost_selftest loop_instructions=N counted=M\n"
 * through write (mm_cost_selftest.c). */
void mm_cost_selftest(void (*write)(const uint8_t *data, size_t n));
#endif

#endif
