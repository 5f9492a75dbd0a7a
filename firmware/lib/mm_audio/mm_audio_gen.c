/* The signal generator: silence, a tone, noise; integers only, so that the numpy twin
 * (python/micromel/listen/generator.py) computes the same samples. */
#include "mm_audio.h"

/* sin(2 pi p / 2^16) in Q15 from a parabola refined once (error below 0.1 % of full
 * scale): x = p as int16 is the angle over pi in Q15; y = 4 x (1 - |x|); y += P (y|y| - y). */
static int32_t sine_q15(uint32_t p16) {
  int32_t x = (int16_t)(uint16_t)p16;
  int32_t ax = x < 0 ? -x : x;
  int32_t y = (4 * x * (32768 - ax)) >> 15;
  int32_t ay = y < 0 ? -y : y;
  y += (MM_AUDIO_SINE_REFINE_Q15 * (((y * ay) >> 15) - y)) >> 15;
  return y > 32767 ? 32767 : y;
}

void mm_audio_gen_init(mm_audio_gen *g, uint8_t kind, uint16_t tone_hz, int16_t amplitude) {
  g->kind = kind;
  g->amplitude = amplitude;
  g->phase = 0;
  /* round(tone_hz * 2^32 / rate) */
  g->step = (uint32_t)((((uint64_t)tone_hz << 32) + MM_AUDIO_RATE / 2u) / MM_AUDIO_RATE);
  g->lcg = MM_AUDIO_LCG_SEED;
}

void mm_audio_gen_fill(mm_audio_gen *g, int16_t *out, uint32_t n) {
  const int32_t a = g->amplitude;
  for (uint32_t i = 0; i < n; i++) {
    if (g->kind == MM_AUDIO_SRC_TONE) {
      out[i] = (int16_t)((a * sine_q15(g->phase >> 16)) >> 15);
      g->phase += g->step;
    } else if (g->kind == MM_AUDIO_SRC_NOISE) {
      g->lcg = g->lcg * MM_AUDIO_LCG_MUL + MM_AUDIO_LCG_ADD;
      out[i] = (int16_t)((((int32_t)(g->lcg >> 16) - 32768) * a) >> 15);
    } else {
      out[i] = 0;
    }
  }
}
