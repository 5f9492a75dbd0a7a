#include "mm_stack.h"

#define PAINT 0x5AC3A55Cu
#define MARGIN_WORDS 16u /* left unpainted below this function's frame */

/* Weak: resolve to address 0 where the linker script does not define them. */
extern uint32_t __stack_bottom __attribute__((weak));
extern uint32_t __stack_top __attribute__((weak));

uint32_t mm_stack_paint(void) {
  volatile uint32_t here = 0;
  /* an address, not a pointer into `here`: everything below this frame is free */
  uintptr_t end = (uintptr_t)&here - 4u * MARGIN_WORDS;
  uint32_t *bottom = &__stack_bottom;
  if (!bottom || !&__stack_top) return 0;
  for (uint32_t *p = bottom; (uintptr_t)p < end; p++) *(volatile uint32_t *)p = PAINT;
  return (uint32_t)((uintptr_t)&__stack_top - (uintptr_t)bottom);
}

uint32_t mm_stack_used(void) {
  const uint32_t *bottom = &__stack_bottom, *p = bottom;
  if (!bottom || !&__stack_top) return 0;
  while (p < &__stack_top && *(const volatile uint32_t *)p == PAINT) p++;
  return (uint32_t)((uintptr_t)&__stack_top - (uintptr_t)p);
}
