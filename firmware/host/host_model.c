/* ctypes entry points of the generated model (python/micromel/engine/runner.py):
 * batches of inferences with per-layer CRCs, and whole layer outputs, without
 * the protocol's frame limit. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "mm_nn_model.h"

int mm_host_model_present(void) { return MM_MODEL_PRESENT; }

#if MM_MODEL_PRESENT
unsigned mm_host_model_arena_bytes(void) { return MM_MODEL_ARENA_BYTES; }
unsigned mm_host_model_n_layers(void) { return MM_MODEL_N_LAYERS; }
const char *mm_host_model_kernels(void) { return mm_nn_model_kernels; }

/* n inputs in, n score vectors out; crcs (n x N_LAYERS) may be NULL. */
void mm_host_model_run(const int8_t *in, size_t n, int8_t *scores, uint32_t *crcs) {
  size_t i;
  for (i = 0; i < n; i++) {
    memcpy(mm_nn_model_input(), in + i * MM_MODEL_INPUT_BYTES, MM_MODEL_INPUT_BYTES);
    if (crcs) mm_nn_model_tap_crc(crcs + i * MM_MODEL_N_LAYERS);
    memcpy(scores + i * MM_MODEL_OUTPUT_BYTES, mm_nn_model_run(), MM_MODEL_OUTPUT_BYTES);
  }
}

/* The whole output of one layer for one input; returns its size. */
uint32_t mm_host_model_layer(const int8_t *in, int layer, int8_t *dst) {
  uint32_t size = mm_nn_model_layer_bytes(layer);
  memcpy(mm_nn_model_input(), in, MM_MODEL_INPUT_BYTES);
  mm_nn_model_tap_slice(layer, 0, size, dst);
  mm_nn_model_run();
  return size;
}
#endif
