/* The energy gate: a window is silent when its exact sum of squares is below
 * the threshold, fixed or calibrated from the stream's first windows
 * (segment/machine.py, step 1). */
#include "mm_segment.h"

void mm_seg_gate_init(mm_seg_gate *g, const mm_seg_params *p) {
  g->fixed = p->gate_threshold;
  g->threshold = p->gate_threshold;
  g->acc = 0;
  g->seen = 0;
  g->calib_windows = p->calib_windows;
  g->margin_q8 = p->margin_q8;
}

int mm_seg_gate_silent(mm_seg_gate *g, uint64_t energy) {
  if (g->seen < g->calib_windows) {
    g->seen++;
    g->acc += energy;
    if (g->seen == g->calib_windows) {
      uint64_t mean = g->acc / g->calib_windows;
      /* mean * margin / 256 without overflowing 64 bits */
      uint64_t thr = (mean >> 8) * g->margin_q8 + (((mean & 255u) * g->margin_q8) >> 8);
      g->threshold = thr > g->fixed ? thr : g->fixed;
    }
    return 1;
  }
  return energy < g->threshold;
}
