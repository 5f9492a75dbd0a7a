/* A user's bare-metal program around examples/integration/integration.c: what the tests and
 * `micromel bench library` link against an exported library to build a user's image. It
 * pushes 2 s of pseudo-random noise in blocks of 100 samples, as a microphone driver would. */
#include <stddef.h>
#include <stdint.h>

int recognizer_start(void);
int recognizer_audio(const int16_t *pcm, size_t n);

int main(void) {
  static int16_t pcm[100];
  uint32_t x = 1;
  int rc = recognizer_start();
  for (int block = 0; rc >= 0 && block < 320; block++) {
    for (int i = 0; i < 100; i++) {
      x = x * 1664525u + 1013904223u; /* LCG noise, about -36 dBFS */
      pcm[i] = (int16_t)((int32_t)(x >> 16) - 32768) / 64;
    }
    rc = recognizer_audio(pcm, 100);
  }
  return rc < 0;
}
