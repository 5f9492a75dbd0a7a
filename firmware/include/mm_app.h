/* The firmware application: protocol dispatch over a byte link. Board ports
 * call mm_app_init once, then mm_app_rx for every received byte and
 * mm_app_idle when the link has been quiet for MM_PROTO_IDLE_TIMEOUT_MS. */
#ifndef MM_APP_H
#define MM_APP_H

#include <stdint.h>

void mm_app_init(void);
void mm_app_rx(uint8_t byte);
void mm_app_idle(void);

#endif
