/* Front-end messages of the firmware application:
 *   FEATURES        int16 LE PCM in, int8 log-mel frames out (streaming state kept
 *                   across messages)
 *   FEATURES_RESET  clear the streaming state
 *   BENCH part 1    cost of the front end, total and per stage (raw mm_cost counts)
 * Byte layouts: docs/protocol.md, "Front end". */
#include <stdio.h>
#include <string.h>

#include "mm_app.h"
#include "mm_cost.h"
#include "mm_frontend.h"
#include "mm_proto.h"
#include "app_shared.h"

#define FEATURES_HEADER 8
#define CHUNK 256 /* samples copied at a time from the (unaligned) payload */

enum { STAGE_NORMALISE, STAGE_WINDOW, STAGE_FFT, STAGE_POWER, STAGE_FILTERBANK, STAGE_LOG, N_STAGES };

static mm_fe_state fe_state;
mm_fe_scratch app_fe_scratch;
static int fe_ready;

static void ensure_ready(void) {
  if (!fe_ready) {
    mm_fe_reset(&fe_state);
    fe_ready = 1;
  }
}

/* FEATURES: payload = n int16 samples (LE). Reply: u16 frames, u16 samples consumed,
 * u16 samples pending, u8 n_mels, u8 0, then frames * n_mels int8. Consumed is less
 * than n only if the reply would exceed the payload limit: the host sends the rest. */
static int features(const uint8_t *payload, uint16_t len, mm_app_reply *reply) {
  static int16_t chunk[CHUNK] __attribute__((aligned(4)));
  uint8_t *out = reply->payload;
  const size_t max_frames = (MM_PROTO_MAX_PAYLOAD - FEATURES_HEADER) / MM_FE_N_MELS;
  size_t n = len / 2, used = 0, frames = 0;
  if (len % 2) return mm_app_refuse(reply, MM_ERR_BAD_PAYLOAD, len);
  ensure_ready();
  while (used < n) {
    size_t k = n - used < CHUNK ? n - used : CHUNK, took = 0;
    memcpy(chunk, payload + 2 * used, 2 * k); /* little-endian on every supported core */
    frames += mm_fe_process(&fe_state, &app_fe_scratch, chunk, k,
                            (int8_t *)out + FEATURES_HEADER + frames * MM_FE_N_MELS,
                            max_frames - frames, &took);
    used += took;
    if (took < k) break;
  }
  mm_proto_put_u16(out, (uint32_t)frames);
  mm_proto_put_u16(out + 2, (uint32_t)used);
  mm_proto_put_u16(out + 4, fe_state.fill);
  out[6] = MM_FE_N_MELS;
  out[7] = 0;
  reply->len = (uint16_t)(FEATURES_HEADER + frames * MM_FE_N_MELS);
  return 1;
}

/* Deterministic bench signals, generated hop by hop outside the measured regions. */
static uint32_t lcg;
static void bench_signal(int kind, int16_t *x, size_t n, size_t pos) {
  for (size_t i = 0; i < n; i++) {
    if (kind == 1) {
      x[i] = 0;
    } else if (kind == 2) { /* full-scale square wave, 1 kHz at 16 kHz */
      x[i] = ((pos + i) / 8) % 2 ? -32768 : 32767;
    } else { /* white noise, uniform, about -10 dBFS rms */
      lcg = lcg * 1664525u + 1013904223u;
      x[i] = (int16_t)((int32_t)(lcg >> 16) - 32768) / 2;
    }
  }
}

/* BENCH part 1: one second of a test signal (payload[1]: 0 noise, 1 silence,
 * 2 full-scale square) through a reset front end, hop by hop: the total cost of
 * mm_fe_process, then the same frames again stage by stage. Resets the FEATURES
 * stream. Reply: u8 1, u8 0, u16 stages, u32 samples, u32 frames, u64 total, then
 * u64 per stage (normalise, window, fft, power, filterbank, log). */
static int bench(const uint8_t *payload, uint16_t len, mm_app_reply *reply) {
  static int16_t chunk[MM_FE_HOP] __attribute__((aligned(4)));
  static int8_t frame_out[MM_FE_N_MELS];
  uint64_t stage[N_STAGES] = {0}, total = 0, t0, t1;
  uint8_t *out = reply->payload;
  const int kind = len >= 2 ? payload[1] : 0;
  const size_t n_hops = MM_FE_SAMPLE_RATE / MM_FE_HOP;
  size_t frames = 0, f2 = 0;
  if (len > 2 || kind > 2) return mm_app_refuse(reply, MM_ERR_BAD_PAYLOAD, len);
  /* pass 1: the streaming front end as FEATURES runs it */
  mm_fe_reset(&fe_state);
  lcg = 1u;
  for (size_t h = 0; h < n_hops; h++) {
    bench_signal(kind, chunk, MM_FE_HOP, h * MM_FE_HOP);
    t0 = mm_cost_now();
    frames += mm_fe_process(&fe_state, &app_fe_scratch, chunk, MM_FE_HOP, frame_out, 1, 0);
    total += mm_cost_now() - t0;
  }
  /* pass 2: the same signal, each stage timed on its own */
  mm_fe_reset(&fe_state);
  lcg = 1u;
  for (size_t h = 0; h < n_hops; h++) {
    bench_signal(kind, chunk, MM_FE_HOP, h * MM_FE_HOP);
    memcpy(fe_state.buf + fe_state.fill, chunk, sizeof chunk);
    fe_state.fill = (uint16_t)(fe_state.fill + MM_FE_HOP);
    if (fe_state.fill < MM_FE_N_FFT) continue;
    t0 = mm_cost_now();
    mm_fe_segment_bits(fe_state.buf + fe_state.seg_done * MM_FE_SEG_LEN,
                       MM_FE_N_SEGS - fe_state.seg_done, fe_state.seg_bits + fe_state.seg_done);
    const int shift = mm_fe_window_shift(fe_state.seg_bits);
    t1 = mm_cost_now(), stage[STAGE_NORMALISE] += t1 - t0, t0 = t1;
    mm_fe_window(fe_state.buf, shift, app_fe_scratch.fft);
    t1 = mm_cost_now(), stage[STAGE_WINDOW] += t1 - t0, t0 = t1;
    mm_fe_fft(app_fe_scratch.fft, app_fe_scratch.spec);
    t1 = mm_cost_now(), stage[STAGE_FFT] += t1 - t0, t0 = t1;
    mm_fe_power(app_fe_scratch.spec, app_fe_scratch.fft);
    t1 = mm_cost_now(), stage[STAGE_POWER] += t1 - t0, t0 = t1;
    mm_fe_filterbank(app_fe_scratch.fft, app_fe_scratch.mel);
    t1 = mm_cost_now(), stage[STAGE_FILTERBANK] += t1 - t0, t0 = t1;
    mm_fe_log(app_fe_scratch.mel, shift, frame_out);
    t1 = mm_cost_now(), stage[STAGE_LOG] += t1 - t0;
    memmove(fe_state.buf, fe_state.buf + MM_FE_HOP, (MM_FE_N_FFT - MM_FE_HOP) * 2);
    memmove(fe_state.seg_bits, fe_state.seg_bits + MM_FE_HOP_SEGS, MM_FE_N_SEGS - MM_FE_HOP_SEGS);
    fe_state.fill = MM_FE_N_FFT - MM_FE_HOP;
    fe_state.seg_done = MM_FE_N_SEGS - MM_FE_HOP_SEGS;
    f2++;
  }
  (void)f2;
  mm_fe_reset(&fe_state);
  fe_ready = 1;
  out[0] = MM_BENCH_PART_FRONTEND;
  out[1] = 0;
  mm_proto_put_u16(out + 2, N_STAGES);
  mm_proto_put_u32(out + 4, (uint32_t)(n_hops * MM_FE_HOP));
  mm_proto_put_u32(out + 8, (uint32_t)frames);
  mm_proto_put_u64(out + 12, total);
  for (int i = 0; i < N_STAGES; i++) mm_proto_put_u64(out + 20 + 8 * i, stage[i]);
  reply->len = (uint16_t)(20 + 8 * N_STAGES);
  return 1;
}

int mm_app_frontend_handle(uint8_t type, const uint8_t *payload, uint16_t len, mm_app_reply *reply) {
  switch (type) {
    case MM_MSG_FEATURES:
      return features(payload, len, reply);
    case MM_MSG_FEATURES_RESET:
      mm_fe_reset(&fe_state);
      fe_ready = 1;
      reply->len = 0;
      return 1;
    case MM_MSG_BENCH:
      if (len < 1 || payload[0] != MM_BENCH_PART_FRONTEND) return 0;
      return bench(payload, len, reply);
    default:
      return 0;
  }
}

int mm_app_frontend_info(char *out, int cap) {
  const int dsp = MM_FE_USE_DSP;
  int n = snprintf(out, (size_t)cap, MM_FE_INFO_LINES "fe_state_bytes=%u\nfe_scratch_bytes=%u\nfe_dsp=%d\n",
                   (unsigned)sizeof(mm_fe_state), (unsigned)sizeof(mm_fe_scratch), dsp);
  if (n < 0) return 0;
  return n < cap ? n : cap - 1;
}
