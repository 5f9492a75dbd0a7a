/* The segmenter: ring of the last MEDIAN windows' gated scores, decision of
 * the window MEDIAN/2 back, events (segment/machine.py, module doc). */
#include <string.h>

#include "mm_seg_internal.h"

int mm_seg_init(mm_seg *s, const mm_seg_params *p) {
  if (p->n_classes < 1 || p->n_classes > MM_SEG_MAX_CLASSES || p->n_classes > 32) return -1;
  if (p->median < 1 || p->median > MM_SEG_MAX_MEDIAN || p->median % 2 == 0) return -1;
  if (p->exit_q > p->enter_q || p->min_windows < 1) return -1;
  if (p->event_mask == 0 || (p->n_classes < 32 && (p->event_mask >> p->n_classes) != 0)) return -1;
  if (p->refine && (p->frame_ring > MM_SEG_FRAME_RING || p->hop_frames == 0)) return -1;
  if (p->mean > 1u) return -1;
  /* zero every count, boundary and the energy ring at once (separate zero stores of
   * adjacent fields were merged into one MVE store on the Cortex-M55, whose length GCC 12
   * misjudged: "branch out of range") */
  memset(s, 0, sizeof *s);
  s->p = *p;
  memset(s->ring, -128, sizeof s->ring);
  s->cur = MM_SEG_NO_LABEL;
  s->label = MM_SEG_NO_LABEL;
  return 0;
}

static void store(mm_seg *s, const int8_t *scores) {
  if (scores) {
    memcpy(s->ring[s->pos], scores, s->p.n_classes);
  } else {
    memset(s->ring[s->pos], -128, s->p.n_classes);
  }
  s->pos = (uint8_t)((s->pos + 1u) % s->p.median);
}

static int decide(mm_seg *s, uint32_t j, mm_seg_event *ev) {
  int8_t sm[MM_SEG_MAX_CLASSES];
  mm_seg_smooth(s, sm);
  int8_t d = mm_seg_decide(s, sm);
  uint32_t prob = d >= 0 ? (uint32_t)(sm[d] + 128) : 0u;
  return mm_seg_events_step(s, j, d, prob, ev);
}

int mm_seg_push(mm_seg *s, const int8_t *scores, int silent, mm_seg_event *ev) {
  const uint32_t h = s->p.median / 2u;
  store(s, silent ? NULL : scores);
  s->fed++;
  if (s->fed - 1u < h) return 0;
  return decide(s, s->fed - 1u - h, ev);
}

size_t mm_seg_finish(mm_seg *s, mm_seg_event *out) {
  const uint32_t h = s->p.median / 2u;
  size_t n = 0;
  for (uint32_t k = 0; k < h; k++) {
    store(s, NULL);
    /* window j = fed + k - h, if it exists */
    if (s->fed + k >= h) n += (size_t)decide(s, s->fed + k - h, &out[n]);
  }
  n += (size_t)mm_seg_events_close(s, &out[n]);
  return n;
}
