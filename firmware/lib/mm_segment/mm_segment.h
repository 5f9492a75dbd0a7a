/* Segmentation by classification: per-window int8 class scores -> labelled
 * events (start, end, label, confidence), one window at a time, no heap,
 * constant memory (the state is one struct whose size is fixed at compile
 * time by the generated mm_segment_config.h).
 *
 * The algorithm is specified (and twinned, integer for integer) in
 * python/micromel/segment/machine.py: gate -> median (or mean) over MEDIAN
 * windows -> hysteresis decision -> events (merge gaps <= max_gap, split at
 * max_windows, drop shorter than min_windows, none opens within suppress
 * windows of the last emitted event's end). Rules count windows; an event's
 * onset and offset are front-end frames: the windows' centre slices, or with
 * refine the frame energies' (segment/refine.py, mm_seg_refine.c). */
#ifndef MM_SEGMENT_H
#define MM_SEGMENT_H

#include <stddef.h>
#include <stdint.h>

#include "mm_segment_config.h"

#define MM_SEG_NO_LABEL (-1)
/* Events mm_seg_finish can emit at most (one per pending decision + the
 * open event). */
#define MM_SEG_FINISH_MAX (MM_SEG_MAX_MEDIAN / 2 + 1)

/* Field order matches MM_SEG_PARAMS_DEFAULT of the generated header. */
typedef struct {
  uint8_t n_classes;      /* 1..MM_SEG_MAX_CLASSES */
  uint32_t event_mask;    /* bit c: class c makes events */
  uint8_t median;         /* odd, 1..MM_SEG_MAX_MEDIAN */
  int8_t enter_q;         /* hysteresis thresholds, int8 score codes */
  int8_t exit_q;          /* exit_q <= enter_q */
  uint32_t min_windows;   /* >= 1 */
  uint32_t max_gap;
  uint32_t max_windows;   /* 0: never split */
  uint64_t gate_threshold;
  uint32_t calib_windows; /* 0: fixed gate threshold */
  uint32_t margin_q8;
  uint8_t hop_frames;     /* S: frames between windows */
  uint8_t frame_offset;   /* window j stands for frames [j*S + frame_offset, +S) */
  uint8_t refine;         /* 1: boundaries from the frame energies */
  uint8_t refine_min_q;   /* least range of log energies to move a boundary */
  uint16_t frame_ring;    /* frames the refinement looks back (<= MM_SEG_FRAME_RING) */
  uint8_t mean;           /* 1: smooth by the rounded mean, 0: by the median */
  uint32_t suppress;      /* windows after an emitted event in which none opens */
} mm_seg_params;

typedef struct {
  uint32_t start;     /* first window */
  uint32_t end;       /* one past the last window */
  uint32_t onset;     /* first frame */
  uint32_t offset;    /* one past the last frame */
  uint8_t label;      /* class index */
  uint8_t confidence; /* mean probability of the label, in 1/256 */
} mm_seg_event;

typedef struct {
  mm_seg_params p;
  int8_t ring[MM_SEG_MAX_MEDIAN][MM_SEG_MAX_CLASSES]; /* last MEDIAN windows */
  uint8_t pos;        /* next ring slot */
  uint32_t fed;       /* windows pushed */
  int8_t cur;         /* hysteresis decision of the previous window */
  int8_t label;       /* open event's label, MM_SEG_NO_LABEL if none */
  uint32_t start, end;
  uint32_t onset, offset; /* its boundaries in frames */
  uint64_t sum;       /* sum of (smoothed score + 128) over its windows */
  uint32_t count;
  uint32_t last_end;  /* end of the last emitted event, 0 before one (an end is >= 1) */
  uint16_t ring_q[MM_SEG_FRAME_RING]; /* log energy of the last frames */
  uint32_t frames;    /* frames pushed */
} mm_seg;

typedef struct {
  uint64_t fixed;     /* the params' gate_threshold */
  uint64_t threshold; /* in force */
  uint64_t acc;       /* sum of the calibration windows' energies */
  uint32_t seen;
  uint32_t calib_windows;
  uint32_t margin_q8;
} mm_seg_gate;

/* Returns 0, or -1 if the params do not fit the compiled sizes or are
 * inconsistent. */
int mm_seg_init(mm_seg *s, const mm_seg_params *p);
/* The exact sum of squares of the next front-end frame (frame k: samples
 * [k*hop, k*hop + frame length)), pushed as soon as the frame is made, before
 * the window it completes (used only with refine). */
void mm_seg_frame(mm_seg *s, uint64_t energy);
/* One window: its n_classes int8 scores (ignored when silent != 0). Returns 1
 * and fills *ev when an event closed, else 0. */
int mm_seg_push(mm_seg *s, const int8_t *scores, int silent, mm_seg_event *ev);
/* End of stream: fills out[0..n) (n <= MM_SEG_FINISH_MAX), returns n. The
 * state must be re-initialised before another stream. */
size_t mm_seg_finish(mm_seg *s, mm_seg_event *out);

/* The energy gate on a window's exact sum of squares: 1 = silent. */
void mm_seg_gate_init(mm_seg_gate *g, const mm_seg_params *p);
int mm_seg_gate_silent(mm_seg_gate *g, uint64_t energy);

#endif
