/* What the application needs from a board: a byte link and a main loop.
 * Each board implements this in boards/<board>/ (bare metal), the Arduino
 * port (real boards) or the host port (native build, driven from Python). */
#ifndef MM_PORT_H
#define MM_PORT_H

#include <stddef.h>
#include <stdint.h>

/* Write n bytes to the host link; blocks until they are queued. */
void mm_port_write(const uint8_t *data, size_t n);

/* The build target's name, e.g. "emulate" (reported in INFO). */
extern const char mm_port_target[];
/* The core, e.g. "cortex-m4f". */
extern const char mm_port_core[];

/* Bytes of the stack ever used (its high-water mark), 0 where the port cannot tell. */
uint32_t mm_port_stack_used(void);

#endif
