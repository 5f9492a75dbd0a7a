/* The model compiled into this firmware (generated mm_model_*.h headers):
 * a static arena whose size is known at build time, the layer sequence as
 * plain calls, and debugging taps on every layer's output.
 *
 *   int8_t *in = mm_nn_model_input();   // MM_MODEL_INPUT_BYTES, H x W x C
 *   ...fill in...                       // (the arena is reused: refill it
 *   const int8_t *scores = mm_nn_model_run();   // before every run)
 *
 * Without a model (MM_MODEL_PRESENT 0) none of this exists. */
#ifndef MM_NN_MODEL_H
#define MM_NN_MODEL_H

#include <stdint.h>

#include "mm_model_config.h"

#if MM_MODEL_PRESENT
/* Where the caller writes the input features (inside the arena). */
int8_t *mm_nn_model_input(void);
/* Run one inference; returns the MM_MODEL_OUTPUT_BYTES int8 scores, valid
 * until the next run. */
const int8_t *mm_nn_model_run(void);

/* Streaming exports (micromel export --stream): a window whose first rows equal the
 * last window's rows one hop further (MM_MODEL_STREAM_HOP) reuses the rows the two
 * share, bit for bit what recomputing them gives; any other window starts afresh. This
 * forgets the last window (the next run starts afresh); without streaming it does
 * nothing. */
void mm_nn_model_stream_reset(void);
/* Rows reused from earlier windows since boot (0 without streaming). */
uint32_t mm_nn_model_reused_rows(void);

/* Debugging taps (cleared by every run):
 * CRC-32 of every layer's output into crcs[MM_MODEL_N_LAYERS] (NULL: off). */
void mm_nn_model_tap_crc(uint32_t *crcs);
/* Bytes [offset, offset + len) of one layer's output into dst. */
void mm_nn_model_tap_slice(int layer, uint32_t offset, uint32_t len, int8_t *dst);
/* Add each layer's cost (mm_cost_now units) into costs[MM_MODEL_N_LAYERS]
 * during every run until called with NULL. */
void mm_nn_model_profile(uint64_t *costs);
/* Bytes of one layer's output (0 for an unknown layer). */
uint32_t mm_nn_model_layer_bytes(int layer);
/* "dsp" or "portable": the kernel path compiled in. */
extern const char mm_nn_model_kernels[];
#endif

#endif
