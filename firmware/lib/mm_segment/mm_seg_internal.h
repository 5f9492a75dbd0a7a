/* Stages of mm_segment shared between its files (not for users). */
#ifndef MM_SEG_INTERNAL_H
#define MM_SEG_INTERNAL_H

#include "mm_segment.h"

/* mm_seg_smooth.c: per-class median (or mean) over the ring into s[]. */
void mm_seg_smooth(const mm_seg *st, int8_t *s);
/* mm_seg_smooth.c: hysteresis decision of one window from smoothed s[]. */
int8_t mm_seg_decide(mm_seg *st, const int8_t *s);
/* mm_seg_events.c: event rules for window j with decision d; prob is
 * s[d] + 128. Returns 1 and fills *ev when an event is emitted. */
int mm_seg_events_step(mm_seg *st, uint32_t j, int8_t d, uint32_t prob, mm_seg_event *ev);
/* mm_seg_events.c: close the open event; 1 if emitted. */
int mm_seg_events_close(mm_seg *st, mm_seg_event *ev);
/* mm_seg_refine.c: the onset (onset != 0) or offset frame of the centre slice
 * edge of window j (segment/refine.py). */
uint32_t mm_seg_edge(const mm_seg *st, uint32_t j, int onset);

#endif
