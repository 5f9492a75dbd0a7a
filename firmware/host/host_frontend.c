/* ctypes entry points of the front end's host build (python/micromel/frontend/native.py):
 * the same C sources as the firmware, portable path. */
#include <stddef.h>
#include <string.h>

#include "mm_frontend.h"

static mm_fe_state host_fe_state;
static mm_fe_scratch host_fe_scratch;

const char *mm_host_fe_hash(void) { return MM_FE_HASH; }

/* sizes in bytes: state, scratch */
void mm_host_fe_sizes(uint32_t *out) {
  out[0] = (uint32_t)sizeof(mm_fe_state);
  out[1] = (uint32_t)sizeof(mm_fe_scratch);
}

void mm_host_fe_reset(void) { mm_fe_reset(&host_fe_state); }

size_t mm_host_fe_pending(void) { return host_fe_state.fill; }

/* Stream n samples into the host state; returns frames written (max_frames at most). */
size_t mm_host_fe_process(const int16_t *pcm, size_t n, int8_t *out, size_t max_frames,
                          size_t *consumed) {
  return mm_fe_process(&host_fe_state, &host_fe_scratch, pcm, n, out, max_frames, consumed);
}

/* One frame through every stage, with the intermediates: shift, the spectrum after the FFT
 * (re, im interleaved, 2 * MM_FE_FFT_N), the power (MM_FE_FFT_N, [0] left 0), the mel
 * energies and the int8 output. */
void mm_host_fe_stages(const int16_t *frame, int32_t *shift_out, int32_t *spec, uint32_t *power,
                       uint64_t *mel, int8_t *out) {
  static int16_t buf[MM_FE_N_FFT] __attribute__((aligned(4)));
  uint8_t bits[MM_FE_N_SEGS];
  memcpy(buf, frame, sizeof buf);
  mm_fe_segment_bits(buf, MM_FE_N_SEGS, bits);
  const int shift = mm_fe_window_shift(bits);
  *shift_out = shift;
  mm_fe_window(buf, shift, host_fe_scratch.fft);
  mm_fe_fft(host_fe_scratch.fft, host_fe_scratch.spec);
  memcpy(spec, host_fe_scratch.spec, sizeof host_fe_scratch.spec);
  memset(host_fe_scratch.fft, 0, sizeof host_fe_scratch.fft);
  mm_fe_power(host_fe_scratch.spec, host_fe_scratch.fft);
  memcpy(power, host_fe_scratch.fft, sizeof host_fe_scratch.fft);
  mm_fe_filterbank(host_fe_scratch.fft, host_fe_scratch.mel);
  memcpy(mel, host_fe_scratch.mel, sizeof host_fe_scratch.mel);
  mm_fe_log(host_fe_scratch.mel, shift, out);
}
