/* The stack's high-water mark: paint the unused stack with a pattern, later count the
 * words still untouched. Boards whose linker script defines __stack_bottom and
 * __stack_top (boards/shared/cortex-m/sections.ld, boards/shared/riscv/sections.ld) measure;
 * elsewhere (the host build, Arduino) the symbols are absent and both calls return 0. */
#ifndef MM_STACK_H
#define MM_STACK_H

#include <stdint.h>

/* Paint from the stack's bottom up to just below the caller's frame; returns the stack's
 * size in bytes (0: not measurable here). */
uint32_t mm_stack_paint(void);
/* Bytes of the stack used since the last paint (its high-water mark), 0 if unknown. */
uint32_t mm_stack_used(void);

#endif
