/* micromel fixed-point log-mel front end: int16 PCM in, int8 log-mel frames out.
 *
 * Streaming: feed PCM in chunks of any size; a frame is emitted for samples
 * [f*HOP, f*HOP + N_FFT) as soon as they are in, so every HOP samples after the
 * first N_FFT. No heap: the state and the scratch are plain structs whose sizes
 * are compile-time constants (generated mm_frontend_config.h).
 *
 * Stages, one per file (prefix mm_fe_):
 *   mm_fe_window.c      per-segment magnitude bits, normalisation shift, Q15 window
 *                       (and the FFT's first radix-4 stage, so each pair is stored once)
 *   mm_fe_fft.c         complex radix-4 FFT of N_FFT/2 points (16-bit stages, exact last stage)
 *   mm_fe_spectrum.c    real-FFT split and power spectrum
 *   mm_fe_filterbank.c  sparse mel filterbank (64-bit accumulators)
 *   mm_fe_log.c         log2 by table, int8 output scaling
 * The numpy twin (python/micromel/frontend/twin.py) computes the same integers. */
#ifndef MM_FRONTEND_H
#define MM_FRONTEND_H

#include <stddef.h>
#include <stdint.h>

#include "mm_frontend_config.h" /* generated from the Python FrontendConfig */
#include "mm_kernels.h"         /* generated: the kernel path (MM_KERNELS_DSP) */

/* The Cortex-M DSP path (SIMD, saturating and 32x16 multiply instructions) where the core
 * has them and mm_kernels.h does not force the portable C path (the same integers). */
#if MM_KERNELS_DSP && defined(__ARM_FEATURE_DSP)
#define MM_FE_USE_DSP 1
#else
#define MM_FE_USE_DSP 0
#endif

typedef struct {
  int16_t buf[MM_FE_N_FFT] __attribute__((aligned(4))); /* the next frame's samples */
  uint16_t fill;                   /* samples of the next frame in buf */
  uint16_t seg_done;               /* leading segments whose bits are known */
  uint8_t seg_bits[MM_FE_N_SEGS];  /* per segment: bit length of OR(x ^ (x >> 15)) */
  uint16_t start;                  /* hop = n_fft / 2: buf is a ring, the frame starts here */
} mm_fe_state;

/* one complex value of the 32-bit spectrum (8-byte aligned: LDRD/STRD) */
typedef struct {
  int32_t re, im;
} __attribute__((aligned(8))) mm_fe_cpx;

typedef struct {
  /* packed int16 pairs during the 16-bit FFT stages; then the power spectrum P[k] */
  uint32_t fft[MM_FE_FFT_N];
  /* the complex spectrum after the exact last FFT stage */
  mm_fe_cpx spec[MM_FE_FFT_N];
  uint64_t mel[MM_FE_N_MELS];
} mm_fe_scratch;

void mm_fe_reset(mm_fe_state *s);

/* Feed n samples; writes up to max_frames frames of MM_FE_N_MELS int8 values to out.
 * Returns the frames written; *consumed (if not NULL) receives the samples used, which
 * is n unless out was full. */
size_t mm_fe_process(mm_fe_state *s, mm_fe_scratch *scratch, const int16_t *pcm, size_t n,
                     int8_t *out, size_t max_frames, size_t *consumed);

/* One frame of MM_FE_N_FFT samples (4-byte aligned) whose per-segment bits are known ->
 * MM_FE_N_MELS int8. */
void mm_fe_frame(const int16_t *frame, const uint8_t *seg_bits, mm_fe_scratch *scratch,
                 int8_t *out);

/* --- the stages (used by mm_fe_frame, the tests and the benchmark) ---------------- */
/* Sample pointers passed to the stages must be 4-byte aligned (pairs are read as words). */
/* Bits of n_segs segments of MM_FE_SEG_LEN samples. */
void mm_fe_segment_bits(const int16_t *x, int n_segs, uint8_t *bits);
/* The frame's normalisation shift f (1..16) from its segments' bits. */
int mm_fe_window_shift(const uint8_t *seg_bits);
/* Window and normalise one frame into the FFT buffer (packed pairs, digit-reversed) and
 * run the FFT's first radix-4 stage on them. */
void mm_fe_window(const int16_t *frame, int shift, uint32_t *fft);
/* The same for a frame whose quarter j (Q pairs) is at base + ((j + rot) mod 4) Q pairs. */
void mm_fe_window_rot(const int16_t *base, int rot, int shift, uint32_t *fft);
/* The other 16-bit FFT stages in place, then the exact last stage into spec. */
void mm_fe_fft(uint32_t *fft, mm_fe_cpx *spec);
/* Power of bins 1..MM_FE_FFT_N-1 into power[k] (power[0] is not written). */
void mm_fe_power(const mm_fe_cpx *spec, uint32_t *power);
/* Mel energies from the power spectrum. */
void mm_fe_filterbank(const uint32_t *power, uint64_t *mel);
/* int8 output of the mel energies of a frame with normalisation shift f. */
void mm_fe_log(const uint64_t *mel, int shift, int8_t *out);

#endif
