/* The generated model (mm_model_data.h) and its run-time services: input
 * and output, per-layer taps for layer-by-layer checks, per-layer costs. */
#include "mm_nn_model.h"

#if MM_MODEL_PRESENT
/* The layer sequence is glue around the kernels: compiled for size (the
 * kernels keep -O2), it costs a few instructions per row, not per MAC. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("Os")
#endif
#include <string.h>

#include "mm_cost.h"
#include "mm_nn.h"

static uint32_t *tap_crc;
static int tap_layer = -1;
static uint32_t tap_offset, tap_len;
static int8_t *tap_dst;
static int tap_on;
static uint32_t tap_seen[MM_MODEL_N_LAYERS];
static uint64_t *prof;

/* Called with each layer's output in order, one row (or all) at a time. */
static void tap(int layer, const int8_t *data, uint32_t n) {
  uint32_t at = tap_seen[layer];
  tap_seen[layer] = at + n;
  if (tap_crc) tap_crc[layer] = mm_nn_crc32(tap_crc[layer], data, n);
  if (layer == tap_layer) {
    uint32_t lo = at > tap_offset ? at : tap_offset;
    uint32_t hi = at + n < tap_offset + tap_len ? at + n : tap_offset + tap_len;
    if (lo < hi) memcpy(tap_dst + (lo - tap_offset), data + (lo - at), hi - lo);
  }
}

#define MM_NN_TAP(layer, data, n) \
  do {                            \
    if (tap_on) tap((layer), (data), (n)); \
  } while (0)
#define MM_NN_TAPPING() (tap_on)
#define MM_NN_PROF_BEGIN() uint64_t prof_t0 = prof ? mm_cost_now() : 0
#define MM_NN_PROF_END(layer)                                  \
  do {                                                         \
    if (prof) prof[(layer)] += mm_cost_now() - prof_t0;        \
  } while (0)

/* a and b (4-byte aligned) hold the same n bytes (n a multiple of 4): the streaming
 * check that a new window is the last one moved by one hop (inline: only streaming
 * models call it) */
static inline int mm_nn_same(const int8_t *a, const int8_t *b, uint32_t n) {
  const uint32_t *x = (const uint32_t *)(const void *)a, *y = (const uint32_t *)(const void *)b;
  uint32_t diff = 0, i;
  for (i = 0; i < n / 4; i++) diff |= x[i] ^ y[i];
  for (i = n & ~3u; i < n; i++) diff |= (uint32_t)(a[i] ^ b[i]);
  return diff == 0;
}

#include "mm_model_data.h"

static const uint32_t layer_bytes[MM_MODEL_N_LAYERS] = MM_MODEL_LAYER_BYTES;

#if MM_NN_DSP
const char mm_nn_model_kernels[] = "dsp";
#else
const char mm_nn_model_kernels[] = "portable";
#endif

int8_t *mm_nn_model_input(void) { return MM_MODEL_INPUT_PTR; }

const int8_t *mm_nn_model_run(void) {
  memset(tap_seen, 0, sizeof tap_seen);
  tap_on = tap_crc != 0 || tap_layer >= 0;
  mm_model_layers();
  tap_crc = 0;
  tap_layer = -1;
  tap_on = 0;
  return MM_MODEL_OUTPUT_PTR;
}

void mm_nn_model_tap_crc(uint32_t *crcs) {
  tap_crc = crcs;
  if (crcs) memset(crcs, 0, sizeof(uint32_t) * MM_MODEL_N_LAYERS);
}

void mm_nn_model_tap_slice(int layer, uint32_t offset, uint32_t len, int8_t *dst) {
  tap_layer = layer;
  tap_offset = offset;
  tap_len = len;
  tap_dst = dst;
}

void mm_nn_model_profile(uint64_t *costs) { prof = costs; }

uint32_t mm_nn_model_layer_bytes(int layer) {
  return layer >= 0 && layer < MM_MODEL_N_LAYERS ? layer_bytes[layer] : 0;
}
#endif
