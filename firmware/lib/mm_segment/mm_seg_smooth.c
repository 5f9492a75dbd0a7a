/* Smoothing and decision: median (or rounded mean) of each class's score over
 * the last MEDIAN windows, then hysteresis (segment/machine.py, steps 2 and 3). */
#include "mm_seg_internal.h"

void mm_seg_smooth(const mm_seg *st, int8_t *s) {
  const unsigned m = st->p.median;
  int8_t v[MM_SEG_MAX_MEDIAN];
  for (unsigned c = 0; c < st->p.n_classes; c++) {
    if (st->p.mean) {
      /* on the codes + 128 (never negative), so / rounds as machine.py's // */
      unsigned sum = m / 2u;
      for (unsigned k = 0; k < m; k++) sum += (unsigned)(st->ring[k][c] + 128);
      s[c] = (int8_t)((int)(sum / m) - 128);
      continue;
    }
    /* insertion sort: m is small (<= MM_SEG_MAX_MEDIAN) */
    for (unsigned k = 0; k < m; k++) {
      int8_t x = st->ring[k][c];
      unsigned i = k;
      while (i > 0 && v[i - 1] > x) {
        v[i] = v[i - 1];
        i--;
      }
      v[i] = x;
    }
    s[c] = v[m / 2];
  }
}

int8_t mm_seg_decide(mm_seg *st, const int8_t *s) {
  const mm_seg_params *p = &st->p;
  int best = MM_SEG_NO_LABEL;
  for (unsigned c = 0; c < p->n_classes; c++) {
    if (((p->event_mask >> c) & 1u) && (best < 0 || s[c] > s[best])) best = (int)c;
  }
  int cur = st->cur;
  if (cur >= 0 && s[cur] < p->exit_q) cur = MM_SEG_NO_LABEL;
  if (best >= 0 && s[best] >= p->enter_q && (cur < 0 || s[best] > s[cur])) cur = best;
  st->cur = (int8_t)cur;
  return (int8_t)cur;
}
