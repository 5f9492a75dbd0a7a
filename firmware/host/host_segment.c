/* ctypes interface of the segmenter (firmware/lib/mm_segment), so tests can
 * check it against the Python twin (python/micromel/segment/machine.py). */
#include <stddef.h>
#include <stdint.h>

#include "mm_segment.h"

/* params[18]: n_classes, event_mask, median, enter_q, exit_q, min_windows,
 * max_gap, max_windows, gate_threshold, calib_windows, margin_q8, hop_frames,
 * frame_offset, refine, refine_min_q, frame_ring, mean, suppress. */
static void unpack(const int64_t *a, mm_seg_params *p) {
  p->n_classes = (uint8_t)a[0];
  p->event_mask = (uint32_t)a[1];
  p->median = (uint8_t)a[2];
  p->enter_q = (int8_t)a[3];
  p->exit_q = (int8_t)a[4];
  p->min_windows = (uint32_t)a[5];
  p->max_gap = (uint32_t)a[6];
  p->max_windows = (uint32_t)a[7];
  p->gate_threshold = (uint64_t)a[8];
  p->calib_windows = (uint32_t)a[9];
  p->margin_q8 = (uint32_t)a[10];
  p->hop_frames = (uint8_t)a[11];
  p->frame_offset = (uint8_t)a[12];
  p->refine = (uint8_t)a[13];
  p->refine_min_q = (uint8_t)a[14];
  p->frame_ring = (uint16_t)a[15];
  p->mean = (uint8_t)a[16];
  p->suppress = (uint32_t)a[17];
}

static void put(uint32_t *o, const mm_seg_event *e) {
  o[0] = e->label;
  o[1] = e->start;
  o[2] = e->end;
  o[3] = e->confidence;
  o[4] = e->onset;
  o[5] = e->offset;
}

/* Run a whole stream: scores[n_windows * n_classes], silent[n_windows], and
 * the energies of the frames each window completed: n_frames[w] of them, in
 * order, in frame_energy[]. Events go to events[6 * k] (label, start, end,
 * confidence, onset, offset). Returns the number of events (even beyond cap,
 * which limits what is written), or -1 if the params are rejected. */
int64_t mm_host_seg_run(const int64_t *params, const int8_t *scores, const uint8_t *silent,
                        const uint64_t *frame_energy, const uint32_t *n_frames,
                        uint32_t n_windows, uint32_t *events, uint32_t cap) {
  static mm_seg seg; /* static, as on the device */
  mm_seg_params p;
  unpack(params, &p);
  if (mm_seg_init(&seg, &p) != 0) return -1;
  int64_t n = 0;
  mm_seg_event ev;
  for (uint32_t w = 0; w < n_windows; w++) {
    for (uint32_t k = 0; k < n_frames[w]; k++) mm_seg_frame(&seg, *frame_energy++);
    if (mm_seg_push(&seg, scores + (size_t)w * p.n_classes, silent[w], &ev)) {
      if (n < cap) put(events + 6 * n, &ev);
      n++;
    }
  }
  mm_seg_event tail[MM_SEG_FINISH_MAX];
  size_t k = mm_seg_finish(&seg, tail);
  for (size_t i = 0; i < k; i++, n++) {
    if (n < cap) put(events + 6 * n, &tail[i]);
  }
  return n;
}

/* The gate over a sequence of window energies: silent[w] = 0/1. */
void mm_host_seg_gate_run(const int64_t *params, const uint64_t *energy, uint32_t n,
                          uint8_t *silent) {
  mm_seg_params p;
  mm_seg_gate g;
  unpack(params, &p);
  mm_seg_gate_init(&g, &p);
  for (uint32_t i = 0; i < n; i++) silent[i] = (uint8_t)mm_seg_gate_silent(&g, energy[i]);
}

uint32_t mm_host_seg_state_size(void) { return (uint32_t)sizeof(mm_seg); }
uint32_t mm_host_seg_max_classes(void) { return MM_SEG_MAX_CLASSES; }
uint32_t mm_host_seg_max_median(void) { return MM_SEG_MAX_MEDIAN; }
uint32_t mm_host_seg_frame_ring(void) { return MM_SEG_FRAME_RING; }
