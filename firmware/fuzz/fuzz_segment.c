/* libFuzzer target: mm_segment (gate, median or mean, hysteresis, events,
 * suppression) with any parameters and any window results.
 *
 * Input: the parameters (their bytes, mm_seg_init refuses inconsistent ones), then per
 * window [u8 silent][u32 energy][MM_SEG_MAX_CLASSES int8 scores]. Checks every event:
 * start < end <= windows seen, a label that makes events, events in order and not
 * overlapping; mm_seg_finish's count within MM_SEG_FINISH_MAX. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mm_segment.h"

#define CHECK(c) do { if (!(c)) abort(); } while (0)

static uint32_t u32(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void check_event(const mm_seg_params *p, const mm_seg_event *e, uint32_t fed,
                        uint32_t *last_end) {
  CHECK(e->start < e->end && e->end <= fed);
  CHECK(e->start >= *last_end);
  CHECK(e->label < p->n_classes && (p->event_mask >> e->label) & 1u);
  *last_end = e->end;
}

#define PARAM_BYTES 27

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static mm_seg s;
  static mm_seg_gate g;
  static mm_seg_event out[MM_SEG_FINISH_MAX];
  if (size < PARAM_BYTES) return 0;
  mm_seg_params p = {0}; /* no refinement: the fuzz frames carry no energies */
  p.n_classes = data[0];
  p.event_mask = u32(data + 1);
  p.median = data[5];
  p.enter_q = (int8_t)data[6];
  p.exit_q = (int8_t)data[7];
  p.min_windows = data[8] | data[9] << 8;
  p.max_gap = data[10] | data[11] << 8;
  p.max_windows = data[12] | data[13] << 8;
  p.gate_threshold = (uint64_t)u32(data + 14) << (data[18] % 24);
  p.calib_windows = data[19] | data[20] << 8;
  p.margin_q8 = u32(data + 21);
  p.mean = data[25] & 1u;
  p.suppress = data[26];
  if (mm_seg_init(&s, &p) != 0) return 0;
  mm_seg_gate_init(&g, &p);
  size_t pos = PARAM_BYTES;
  uint32_t fed = 0, last_end = 0;
  int8_t scores[MM_SEG_MAX_CLASSES];
  mm_seg_event ev;
  while (size - pos >= 5 + sizeof scores) {
    int silent = data[pos] & 1;
    uint64_t energy = (uint64_t)u32(data + pos + 1) << (data[pos] >> 3);
    memcpy(scores, data + pos + 5, sizeof scores);
    pos += 5 + sizeof scores;
    silent |= mm_seg_gate_silent(&g, energy);
    fed++;
    if (mm_seg_push(&s, scores, silent, &ev)) check_event(&p, &ev, fed, &last_end);
  }
  size_t n = mm_seg_finish(&s, out);
  CHECK(n <= MM_SEG_FINISH_MAX);
  for (size_t i = 0; i < n; i++) check_event(&p, &out[i], fed, &last_end);
  return 0;
}
