/* The porting layer of mm_api: what the library asks of a platform, each with
 * a weak default a user's own definition replaces (no flag, no edit here).
 * The library needs no clock, no I/O and no heap; the one hook is optional. */
#include "mm_api.h"

#if MM_MODEL_PRESENT
#if defined(__GNUC__) || defined(__clang__)
#define MM_API_WEAK __attribute__((weak))
#elif defined(__ICCARM__)
#define MM_API_WEAK __weak
#else
#define MM_API_WEAK /* no weak symbols: build with -DMM_API_USER_PORT and define them yourself */
#endif

#ifndef MM_API_USER_PORT
/* No cycle counter: window costs read 0. */
MM_API_WEAK uint32_t mm_api_port_cycles(void) { return 0; }
#endif
#endif
