/* Event boundaries from the front-end frames' energies (segment/refine.py,
 * statement for statement): a ring of integer log energies, and the onset or
 * offset near a window's centre slice edge. The onset search runs from the
 * slice before the centre slice to ONSET_AHEAD slices past its start; frames
 * not yet pushed are not searched. */
#include "mm_seg_internal.h"

#if (MM_SEG_FRAME_RING & (MM_SEG_FRAME_RING - 1)) != 0
#error "MM_SEG_FRAME_RING must be a power of two"
#endif

/* 8 * floor(log2 e) + the 3 bits below the leading one; 0 for e = 0. */
static uint16_t log_q(uint64_t e) {
  if (e == 0) return 0;
  uint32_t b = 63u - (uint32_t)__builtin_clzll(e);
  uint32_t frac = b >= 3u ? (uint32_t)(e >> (b - 3u)) & 7u : (uint32_t)(e << (3u - b)) & 7u;
  return (uint16_t)(8u * b + frac);
}

void mm_seg_frame(mm_seg *s, uint64_t energy) {
  if (!s->p.refine) return;
  s->ring_q[s->frames & (MM_SEG_FRAME_RING - 1u)] = log_q(energy);
  s->frames++;
}

/* Frames [lo, hi) clamped to those pushed and still in the ring. */
static void clamp(const mm_seg *st, int64_t *lo, int64_t *hi) {
  int64_t oldest = (int64_t)st->frames - (int64_t)st->p.frame_ring;
  if (*lo < oldest) *lo = oldest;
  if (*lo < 0) *lo = 0;
  if (*hi > (int64_t)st->frames) *hi = (int64_t)st->frames;
}

/* lo, hi of the ring's q over frames [lo, hi); 0 if they are none or span
 * less than min_q. */
static int q_range(const mm_seg *st, int64_t lo, int64_t hi, uint16_t *qmin, uint16_t *qmax) {
  if (lo >= hi) return 0;
  *qmin = 0xFFFFu;
  *qmax = 0;
  for (int64_t k = lo; k < hi; k++) {
    uint16_t q = st->ring_q[(uint32_t)k & (MM_SEG_FRAME_RING - 1u)];
    if (q < *qmin) *qmin = q;
    if (q > *qmax) *qmax = q;
  }
  return (uint32_t)(*qmax - *qmin) >= st->p.refine_min_q;
}

static uint16_t threshold(uint16_t lo, uint16_t hi, uint32_t eighths) {
  return (uint16_t)(lo + ((((uint32_t)hi - lo) * eighths) >> 3));
}

uint32_t mm_seg_edge(const mm_seg *st, uint32_t j, int onset) {
  const uint32_t span = st->p.hop_frames;
  const uint32_t c = j * span + st->p.frame_offset;
  if (!st->p.refine) return c;
  uint16_t qmin, qmax;
  if (onset) {
    int64_t lo = (int64_t)c - (int64_t)span;
    int64_t hi = (int64_t)c + (int64_t)(MM_SEG_REFINE_ONSET_AHEAD * span);
    clamp(st, &lo, &hi);
    if (!q_range(st, lo, hi, &qmin, &qmax)) return c;
    uint16_t thr = threshold(qmin, qmax, MM_SEG_REFINE_ONSET_EIGHTHS);
    int64_t k = lo;
    while (st->ring_q[(uint32_t)k & (MM_SEG_FRAME_RING - 1u)] < thr) k++;
    return (uint32_t)k;
  }
  /* offset: the event's last OFFSET_BACK slices, from its onset on */
  int64_t lo = (int64_t)c - (int64_t)(MM_SEG_REFINE_OFFSET_BACK * span), hi = (int64_t)c;
  if (lo < (int64_t)st->onset) lo = (int64_t)st->onset;
  clamp(st, &lo, &hi);
  uint32_t edge = c;
  if (q_range(st, lo, hi, &qmin, &qmax)) {
    uint16_t thr = threshold(qmin, qmax, MM_SEG_REFINE_OFFSET_EIGHTHS);
    int64_t k = hi - 1;
    while (st->ring_q[(uint32_t)k & (MM_SEG_FRAME_RING - 1u)] < thr) k--;
    edge = (uint32_t)k + 1u;
  }
  return edge > st->onset ? edge : st->onset + 1u;
}
