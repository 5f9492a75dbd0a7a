/* Clip and stream windowing: the C mirror of python/micromel/windows.py.
 *
 * Fed one hop block of PCM at a time (for the silence gate) and one front-end
 * frame at a time; tells when a window of MM_CLIP_FRAMES frames is complete
 * (every MM_CLIP_HOP_FRAMES frames), whether it is silent (sum of squares of
 * the PCM it covers below MM_CLIP_GATE_THRESHOLD, exact in int64), copies the
 * window out for the model, and accumulates the soft vote in integers.
 * Memory is fixed: a ring of the last MM_CLIP_FRAMES frames and of the last
 * MM_CLIP_WINDOW_BLOCKS block energies, whatever the clip or stream length. */
#ifndef MM_CLIP_H
#define MM_CLIP_H

#include <stdint.h>

#include "mm_clip_config.h" /* generated from the model's config.json */

typedef struct {
  int8_t frames[MM_CLIP_FRAMES][MM_CLIP_N_MELS]; /* ring of the latest frames */
  int64_t block_energy[MM_CLIP_WINDOW_BLOCKS];   /* ring of the latest blocks */
  uint32_t n_frames;                             /* frames pushed since reset */
  uint32_t n_blocks;                             /* blocks pushed since reset */
  int32_t acc[MM_CLIP_N_CLASSES];                /* soft vote: sum of (q + 128) */
  uint16_t n_nonsilent;
} mm_clip_state;

void mm_clip_reset(mm_clip_state *s);

/* Record the energy of the next MM_CLIP_BLOCK PCM samples. */
void mm_clip_push_block(mm_clip_state *s, const int16_t *block);

/* Push the next frame. Returns the index of the window it completes, or -1. */
int32_t mm_clip_push_frame(mm_clip_state *s, const int8_t *frame);
/* The same with windows every hop_frames frames (STREAM slides with the
 * segmentation hop, classification of clips with MM_CLIP_HOP_FRAMES). */
int32_t mm_clip_push_frame_every(mm_clip_state *s, const int8_t *frame, uint32_t hop_frames);

/* Sum of squares of the samples the window just completed covers. */
int64_t mm_clip_window_energy(const mm_clip_state *s);

/* Sum of squares of the samples of the frame just made: its blocks are the
 * latest ones (the segmenter's boundary refinement). */
int64_t mm_clip_frame_energy(const mm_clip_state *s);

/* 1 if the window just completed is silent. */
int mm_clip_window_silent(const mm_clip_state *s);

/* Copy the window just completed, oldest frame first, into dst[FRAMES][N_MELS]. */
void mm_clip_copy_window(const mm_clip_state *s, int8_t *dst);

/* Add a non-silent window's int8 scores to the vote. */
void mm_clip_vote_add(mm_clip_state *s, const int8_t *scores);

/* The clip's class (lowest index wins ties), or MM_CLIP_SILENT (generated, negative) if
 * no window was voted. */
int32_t mm_clip_vote(const mm_clip_state *s);

/* The vote with open-set rejection (thresholds in 1/256 of a probability, see
 * python/micromel/clip/reject.py): the class, MM_CLIP_SILENT, or MM_CLIP_UNKNOWN (generated)
 * when the vote is other_class (a class trained on sounds of none of the others; -1:
 * none), or the mean probability of the voted class c is below min_top[c]/256 (one
 * floor per class, MM_CLIP_N_CLASSES entries) or its margin to the next class below
 * min_margin/256. */
int32_t mm_clip_decide(const mm_clip_state *s, const uint16_t *min_top, uint32_t min_margin,
                       int32_t other_class);

/* mm_clip_decide with the model's rule (MM_CLIP_REJECT_*, generated). */
int32_t mm_clip_answer(const mm_clip_state *s);

/* The rule on a segmentation event of class `label` whose confidence (the mean
 * probability of its label, in 1/256) is `confidence`: the label, or MM_CLIP_UNKNOWN
 * when it is other_class, not a class, or confidence < min_top[label] (min_margin is
 * a clip rule only). */
int32_t mm_clip_event_decide(uint32_t label, uint32_t confidence, const uint16_t *min_top,
                             int32_t other_class);

/* mm_clip_event_decide with the model's rule. */
int32_t mm_clip_event_answer(uint32_t label, uint32_t confidence);

#endif
