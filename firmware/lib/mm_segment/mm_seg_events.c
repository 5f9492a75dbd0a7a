/* Events from per-window decisions: open, extend, merge gaps of up to max_gap
 * windows, split at max_windows, drop events shorter than min_windows, open
 * none within suppress windows of the last emitted event's end
 * (segment/machine.py, step 4). */
#include "mm_seg_internal.h"

static void open_event(mm_seg *st, int8_t label, uint32_t j, uint32_t prob) {
  st->label = label;
  st->start = j;
  st->end = j + 1u;
  st->onset = mm_seg_edge(st, j, 1);
  st->offset = mm_seg_edge(st, j + 1u, 0);
  st->sum = prob;
  st->count = 1u;
}

int mm_seg_events_close(mm_seg *st, mm_seg_event *ev) {
  int8_t label = st->label;
  st->label = MM_SEG_NO_LABEL;
  if (label < 0 || st->end - st->start < st->p.min_windows) return 0;
  st->last_end = st->end;
  ev->start = st->start;
  ev->end = st->end;
  ev->onset = st->onset;
  ev->offset = st->offset;
  ev->label = (uint8_t)label;
  /* mean rounded half up, as (sum + n/2) / n in segment/machine.py */
  ev->confidence = (uint8_t)((st->sum + st->count / 2u) / st->count);
  return 1;
}

int mm_seg_events_step(mm_seg *st, uint32_t j, int8_t d, uint32_t prob, mm_seg_event *ev) {
  if (st->label == MM_SEG_NO_LABEL) {
    /* j >= last_end: an event is emitted only once its end is behind the decisions */
    int suppressed = st->last_end && j - st->last_end < st->p.suppress;
    if (d >= 0 && !suppressed) open_event(st, d, j, prob);
    return 0;
  }
  if (d == st->label) {
    if (st->p.max_windows && j + 1u - st->start > st->p.max_windows) {
      int n = mm_seg_events_close(st, ev);
      open_event(st, d, j, prob);
      return n;
    }
    st->end = j + 1u;
    st->offset = mm_seg_edge(st, j + 1u, 0);
    st->sum += prob;
    st->count++;
    return 0;
  }
  if (d >= 0) {
    int n = mm_seg_events_close(st, ev);
    open_event(st, d, j, prob);
    return n;
  }
  if (j + 1u - st->end > st->p.max_gap) return mm_seg_events_close(st, ev);
  return 0;
}
