#include "mm_cost.h"

#if defined(MM_COST_QEMU_ICOUNT)
/* SysTick on the core clock reference. With -icount shift=N each instruction
 * advances QEMU's virtual clock by 2^N ns, so SysTick ticks at a fixed ratio
 * to instructions: instructions = ticks * 1e9 / (SysTick Hz * 2^N). The
 * SysTick clock differs per machine (mps2-an386/an500: 25 MHz, mps2-an505:
 * 20 MHz, mps3-an547: 32 MHz), so the board definition gives the reduced
 * ratio (micromel.boards.board_cpp_defines; e.g. 5/8 at 25 MHz, shift 6).
 * The 24-bit counter wraps; the SysTick exception counts the wraps. */
#if !defined(MM_COST_ICOUNT_NUM) || !defined(MM_COST_ICOUNT_DEN)
#error "MM_COST_QEMU_ICOUNT needs MM_COST_ICOUNT_NUM/DEN from the board definition (micromel.systick_hz)"
#endif
#define SYST_CSR (*(volatile uint32_t *)0xE000E010u)
#define SYST_RVR (*(volatile uint32_t *)0xE000E014u)
#define SYST_CVR (*(volatile uint32_t *)0xE000E018u)
static volatile uint32_t wraps;
const char mm_cost_unit[] = "instructions";
const uint32_t mm_cost_num = MM_COST_ICOUNT_NUM;
const uint32_t mm_cost_den = MM_COST_ICOUNT_DEN;

void SysTick_Handler(void) { wraps++; }

void mm_cost_init(void) {
  SYST_RVR = 0x00FFFFFFu;
  SYST_CVR = 0;
  SYST_CSR = 0x7u; /* enable, exception on wrap, processor clock */
}

/* A wrap whose exception is still pending (read with interrupts masked, or from an
 * interrupt of the same or higher priority, such as the audio input's) is counted through
 * ICSR.PENDSTSET, re-reading the counter after it; else time would run back by 2^24. */
#define ICSR (*(volatile uint32_t *)0xE000ED04u)
uint64_t mm_cost_now(void) {
  uint32_t w, v, pending;
  do {
    w = wraps;
    v = SYST_CVR;
    pending = (ICSR >> 26) & 1u;
    if (pending) v = SYST_CVR;
  } while (w != wraps);
  return ((uint64_t)(w + pending) << 24) + (0x00FFFFFFu - v);
}

#elif defined(MM_COST_QEMU_MTIME)
/* RISC-V under QEMU -icount: the machine timer (mtime, 64 bit, memory-mapped
 * at MM_MTIME_ADDR by the board definition) counts virtual time, so it too
 * ticks at a fixed ratio to instructions, given by the board definition like
 * SysTick's (micromel.boards.board_cpp_defines; 25/16 at 10 MHz, shift 6). */
#if !defined(MM_COST_ICOUNT_NUM) || !defined(MM_COST_ICOUNT_DEN) || !defined(MM_MTIME_ADDR)
#error "MM_COST_QEMU_MTIME needs MM_MTIME_ADDR and MM_COST_ICOUNT_NUM/DEN from the board definition"
#endif
#define MTIME_LO (*(volatile uint32_t *)(uintptr_t)(MM_MTIME_ADDR))
#define MTIME_HI (*(volatile uint32_t *)((uintptr_t)(MM_MTIME_ADDR) + 4u))
const char mm_cost_unit[] = "instructions";
const uint32_t mm_cost_num = MM_COST_ICOUNT_NUM;
const uint32_t mm_cost_den = MM_COST_ICOUNT_DEN;

void mm_cost_init(void) {}

uint64_t mm_cost_now(void) {
  uint32_t hi, lo;
  do {
    hi = MTIME_HI;
    lo = MTIME_LO;
  } while (hi != MTIME_HI);
  return ((uint64_t)hi << 32) | lo;
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
