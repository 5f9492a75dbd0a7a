/* Host files for the emulated board's microphone (mm_audio's FILE source), through Arm
 * semihosting (bkpt 0xAB; QEMU: -semihosting-config enable=on,target=native): SYS_OPEN,
 * SYS_READ, SYS_CLOSE. Paths are relative to QEMU's working directory. Emulated boards
 * only (MM_BOARD_SEMIHOSTING): on silicon a bkpt without a debugger locks the core, and
 * with one it halts it for every call. A call costs ~15 guest instructions whatever it
 * reads; the host's file I/O takes no virtual time. */
#if defined(MM_BOARD_SEMIHOSTING) && __has_include("mm_audio.h")
/* (a user's project built on an emulated board with the exported library, which has no audio
 * input, gets nothing here; __has_include: GCC and Clang, as the inline assembly below) */
#include <stdint.h>
#include <string.h>

#include "mm_audio.h"

static uint32_t semihost(uint32_t op, const void *arg) {
  register uint32_t r0 __asm__("r0") = op;
  register const void *r1 __asm__("r1") = arg;
  __asm__ volatile("bkpt 0xAB" : "+r"(r0) : "r"(r1) : "memory");
  return r0;
}

int mm_port_file_open(const char *path) {
  uint32_t a[3] = {(uint32_t)path, 1u /* "rb" */, (uint32_t)strlen(path)};
  return (int)semihost(0x01u, a);
}

uint32_t mm_port_file_read(int fd, void *buf, uint32_t n) {
  uint32_t a[3] = {(uint32_t)fd, (uint32_t)buf, n};
  return n - semihost(0x06u, a); /* SYS_READ returns the bytes NOT read */
}

void mm_port_file_close(int fd) {
  uint32_t a[1] = {(uint32_t)fd};
  semihost(0x02u, a);
}
#endif
