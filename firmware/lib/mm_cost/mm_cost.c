#include "mm_cost.h"

#if defined(MM_COST_QEMU_ICOUNT)
/* SysTick on the core clock reference. QEMU's mps2 boards clock SysTick at
 * 25 MHz (40 ns per tick); with -icount shift=6 each instruction advances the
 * virtual clock by 64 ns, so ticks = instructions * 64 / 40 and
 * instructions = ticks * 5 / 8. The 24-bit counter wraps every ~10.5 M
 * instructions; the SysTick exception counts the wraps. */
#define SYST_CSR (*(volatile uint32_t *)0xE000E010u)
#define SYST_RVR (*(volatile uint32_t *)0xE000E014u)
#define SYST_CVR (*(volatile uint32_t *)0xE000E018u)
static volatile uint32_t wraps;
const char mm_cost_unit[] = "instructions";
const uint32_t mm_cost_num = 5;
const uint32_t mm_cost_den = 8;

void SysTick_Handler(void) { wraps++; }

void mm_cost_init(void) {
  SYST_RVR = 0x00FFFFFFu;
  SYST_CVR = 0;
  SYST_CSR = 0x7u; /* enable, exception on wrap, processor clock */
}

uint64_t mm_cost_now(void) {
  uint32_t w, v;
  do {
    w = wraps;
    v = SYST_CVR;
  } while (w != wraps);
  return ((uint64_t)w << 24) + (0x00FFFFFFu - v);
}

#elif defined(MM_COST_DWT)
#define DEMCR (*(volatile uint32_t *)0xE000EDFCu)
#define DWT_CTRL (*(volatile uint32_t *)0xE0001000u)
#define DWT_CYCCNT (*(volatile uint32_t *)0xE0001004u)
#define DWT_LAR (*(volatile uint32_t *)0xE0001FB0u)
static uint32_t last;
static uint64_t high;
const char mm_cost_unit[] = "cycles";
const uint32_t mm_cost_num = 1;
const uint32_t mm_cost_den = 1;

void mm_cost_init(void) {
  DEMCR |= 1u << 24; /* TRCENA */
  DWT_LAR = 0xC5ACCE55u; /* unlock on M7; ignored elsewhere */
  DWT_CYCCNT = 0;
  DWT_CTRL |= 1u;
  last = 0;
  high = 0;
}

/* Extends the 32-bit counter; call at least once per 2^32 cycles. */
uint64_t mm_cost_now(void) {
  uint32_t now = DWT_CYCCNT;
  if (now < last) high += 1ull << 32;
  last = now;
  return high | now;
}

#elif defined(MM_COST_HOST)
#include <time.h>
const char mm_cost_unit[] = "ns";
const uint32_t mm_cost_num = 1;
const uint32_t mm_cost_den = 1;
void mm_cost_init(void) {}
uint64_t mm_cost_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

#else
const char mm_cost_unit[] = "none";
const uint32_t mm_cost_num = 0;
const uint32_t mm_cost_den = 1;
void mm_cost_init(void) {}
uint64_t mm_cost_now(void) { return 0; }
#endif
