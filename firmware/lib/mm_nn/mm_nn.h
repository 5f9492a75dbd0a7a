/* mm_nn: int8 neural-network kernels that compute exactly what TensorFlow
 * Lite Micro's reference kernels compute (same integers, bit for bit).
 *
 * Kernels work on activations in NHWC order (N = 1) and, for the spatial
 * ops, one output row per call: the caller passes one pointer per kernel row
 * of input, so an input may be a whole tensor or a ring of a few rows
 * (generated code streams layers this way to keep RAM small). Parameters are
 * computed by the exporter (python/micromel/engine) and live in flash.
 *
 * Two implementations, chosen at compile time and bit-exact with each other:
 * a portable C99 path, and a Cortex-M DSP path (arm_acle.h: __smlad,
 * __sxtb16...) used when the core has the DSP extension. The generated
 * mm_kernels.h may force one for the front end and the engine alike (on a
 * host, the engine's DSP path then runs on C emulations of the intrinsics). */
#ifndef MM_NN_H
#define MM_NN_H

#include <stddef.h>
#include <stdint.h>

#include "mm_kernels.h"      /* generated: the kernel path (MM_KERNELS_DSP) */
#include "mm_model_config.h" /* generated: model sizes */

#define MM_NN_DSP MM_KERNELS_DSP

/* Requantization of one output channel. `bias` is twice TFLite's bias
 * minus the input zero point times the sum of the channel's weights (so
 * kernels multiply raw int8 inputs, and padding holds the zero point).
 * Fast mode (mm_nn_out.exact == 0): out = (add + smmlar(2*acc, mult)) >> shift
 * with add = 2^(shift-1) + zp_out * 2^shift, which equals TFLite's
 * MultiplyByQuantizedMultiplier + zp_out (proved in docs/engine.md).
 * Exact mode: mult/shift are TFLite's own and add is zp_out. */
typedef struct {
  int32_t bias;
  int32_t mult;
  int32_t add;
  int32_t shift;
} mm_nn_rq;

/* What every requantizing kernel does after its accumulation. */
typedef struct {
  const mm_nn_rq *rq; /* one per output channel */
  int8_t act_min, act_max;
  uint8_t exact;      /* 1: TFLite's arithmetic in int64 (the exporter's choice) */
} mm_nn_out;

/* CONV_2D (general and 1x1) and FULLY_CONNECTED.
 * Portable path: int8 weights [out_c][k] and the records out.rq.
 * DSP path: the matrix engine's stream (layout in mm_nn_matmul.c): per pair
 * of output channels the biases, the weights (int8 as in the .tflite, or
 * int16 when the exporter judged that layer worth the flash: w16) and the
 * requantization records, in the order the engine reads them. For a
 * general conv, k = kh * row_k: each kernel row's kw * in_c weights in
 * (kx, c) order, padded with zeros to row_k (a multiple of 4). For 1x1 and
 * FULLY_CONNECTED, k = in_c and row_k = k. */
typedef struct {
  const int8_t *weights;   /* portable path (NULL in DSP builds) */
  const int32_t *stream;   /* DSP path (NULL in portable builds) */
  mm_nn_out out;           /* out.rq: portable path (NULL in DSP builds) */
  uint16_t in_w, in_c, out_w, out_c;
  uint16_t k;          /* values per output: kh * row_k (general conv) or in_c */
  uint16_t row_k;      /* general conv: kw * in_c rounded up to 4 */
  uint8_t kh, kw, sh, sw;
  int16_t pad_l;       /* columns of padding on the left */
  int8_t zp_in;
  uint8_t w16;         /* DSP stream: int16 weights (else int8) */
} mm_nn_conv_params;

/* One output row. rows[ky] is the input row for kernel row ky, NULL when it
 * is padding. scratch: the bytes the exporter computed (kernels.py). */
void mm_nn_conv_row(const mm_nn_conv_params *p, const int8_t *const *rows, int8_t *out,
                    void *scratch);
/* The same for a conv of three kernel rows of at most three values each
 * (kw * in_c <= 3; the exporter's choice, kernels.py window_conv): on the DSP
 * path each window is gathered once and the stream holds int16 pairs
 * (mm_nn_conv_window.c); the portable path is mm_nn_conv_row's. */
void mm_nn_conv_window_row(const mm_nn_conv_params *p, const int8_t *const *rows, int8_t *out,
                           void *scratch);
/* 1x1, no padding: one input row in (stride sw). */
void mm_nn_conv_1x1_row(const mm_nn_conv_params *p, const int8_t *in, int8_t *out,
                        void *scratch);
/* FULLY_CONNECTED: `rows` input vectors of k values (scratch: DSP path). */
void mm_nn_fc(const mm_nn_conv_params *p, const int8_t *in, int8_t *out, int rows,
              void *scratch);

/* DEPTHWISE_CONV_2D, depth multiplier 1. Portable path (and channels not a
 * multiple of 4): int8 weights [ky][kx][c] and out.rq. DSP path, channels a
 * multiple of 4: the stream (mm_nn_dwconv.c), out.rq and weights NULL. */
typedef struct {
  const int8_t *weights;
  mm_nn_out out;
  uint16_t in_w, c, out_w;
  uint8_t kh, kw, sh, sw;
  int16_t pad_l;
  int8_t zp_in;
  const int32_t *stream; /* DSP: per group of 4 channels biases, weights and
                            records; or NULL */
  uint8_t w16;           /* DSP stream: int16 weights (else int8) */
} mm_nn_dwconv_params;

/* rows[ky]: input row, or a row of zero points (never NULL). */
void mm_nn_dwconv_row(const mm_nn_dwconv_params *p, const int8_t *const *rows, int8_t *out);

/* AVERAGE_POOL_2D and MAX_POOL_2D: rows[ky] NULL when padding (excluded). */
typedef struct {
  uint16_t in_w, c, out_w;
  uint8_t kh, kw, sh, sw;
  int16_t pad_l;
  int8_t act_min, act_max;
} mm_nn_pool_params;

void mm_nn_avgpool_row(const mm_nn_pool_params *p, const int8_t *const *rows, int8_t *out,
                       void *scratch);
/* An AVERAGE_POOL_2D whose window is the whole map (a global average pool):
 * the sums of mm_nn_sum_pixels over its count pixels, rounded as above. */
void mm_nn_avgpool_finish(const mm_nn_pool_params *p, const int32_t *sums, int32_t count,
                          int8_t *out);
void mm_nn_maxpool_row(const mm_nn_pool_params *p, const int8_t *const *rows, int8_t *out);

/* MEAN over H and W: TFLite Micro's integer QuantizedMeanOrSum (1/n folded
 * into the multiplier). The input may arrive in pieces: sums[c] (int32) are
 * set to zero, mm_nn_sum_pixels adds pixels to them, mm_nn_mean_finish
 * writes the output. */
typedef struct {
  uint16_t h, w, c;
  int32_t zp_in_times_n;
  int32_t mult, shift, zp_out;
} mm_nn_mean_params;

void mm_nn_sum_pixels(const int8_t *in, int pixels, int c, int32_t *sums);
void mm_nn_mean_finish(const mm_nn_mean_params *p, const int32_t *sums, int8_t *out);

/* SOFTMAX int8 -> int8 (scale 1/256, zero point -128), gemmlowp fixed point. */
typedef struct {
  uint16_t rows, depth;
  int32_t mult, left_shift, diff_min;
} mm_nn_softmax_params;

void mm_nn_softmax(const mm_nn_softmax_params *p, const int8_t *in, int8_t *out);

/* ADD, same shapes: each input's rescaled value comes from a 256-entry table
 * (in1: ((x - zp1) << 20) * m1 >> s1, computed by the exporter). n values
 * per call (a row, or the whole tensor). */
typedef struct {
  const int32_t *lut1, *lut2;
  int32_t mult, shift, zp_out;
  int8_t act_min, act_max;
  uint32_t n;
} mm_nn_add_params;

void mm_nn_add(const mm_nn_add_params *p, const int8_t *in1, const int8_t *in2, int8_t *out);

/* CRC-32 (IEEE, reflected, as zlib.crc32) for layer-by-layer checks. */
uint32_t mm_nn_crc32(uint32_t crc, const void *data, size_t n);

#endif
