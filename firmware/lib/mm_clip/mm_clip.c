#include "mm_clip.h"

#include <string.h>

void mm_clip_reset(mm_clip_state *s) { memset(s, 0, sizeof(*s)); }

void mm_clip_push_block(mm_clip_state *s, const int16_t *block) {
  int64_t e = 0;
  for (uint32_t i = 0; i < MM_CLIP_BLOCK; i++) {
    int32_t v = block[i];
    e += (int64_t)(v * v); /* v*v <= 2^30 fits int32 */
  }
  s->block_energy[s->n_blocks % MM_CLIP_WINDOW_BLOCKS] = e;
  s->n_blocks++;
}

int32_t mm_clip_push_frame(mm_clip_state *s, const int8_t *frame) {
  return mm_clip_push_frame_every(s, frame, MM_CLIP_HOP_FRAMES);
}

int32_t mm_clip_push_frame_every(mm_clip_state *s, const int8_t *frame, uint32_t hop_frames) {
  memcpy(s->frames[s->n_frames % MM_CLIP_FRAMES], frame, MM_CLIP_N_MELS);
  uint32_t f = s->n_frames++;
  if (f + 1 < MM_CLIP_FRAMES) return -1;
  uint32_t first = f + 1 - MM_CLIP_FRAMES; /* first frame of the candidate window */
  if (first % hop_frames) return -1;
  return (int32_t)(first / hop_frames);
}

/* Window w covers blocks [w*S, w*S + WINDOW_BLOCKS): the frame that completes
 * it is emitted together with its last block, so they are the latest blocks. */
int64_t mm_clip_window_energy(const mm_clip_state *s) {
  int64_t e = 0;
  for (uint32_t i = 0; i < MM_CLIP_WINDOW_BLOCKS; i++) e += s->block_energy[i];
  return e;
}

int64_t mm_clip_frame_energy(const mm_clip_state *s) {
  const uint32_t frame_blocks = MM_CLIP_WINDOW_BLOCKS - (MM_CLIP_FRAMES - 1u);
  int64_t e = 0;
  for (uint32_t i = 1; i <= frame_blocks && i <= s->n_blocks; i++) {
    e += s->block_energy[(s->n_blocks - i) % MM_CLIP_WINDOW_BLOCKS];
  }
  return e;
}

int mm_clip_window_silent(const mm_clip_state *s) {
  return mm_clip_window_energy(s) < (int64_t)MM_CLIP_GATE_THRESHOLD;
}

void mm_clip_copy_window(const mm_clip_state *s, int8_t *dst) {
  uint32_t oldest = s->n_frames; /* ring slot of the oldest frame, modulo FRAMES */
  for (uint32_t i = 0; i < MM_CLIP_FRAMES; i++) {
    memcpy(dst + i * MM_CLIP_N_MELS, s->frames[(oldest + i) % MM_CLIP_FRAMES], MM_CLIP_N_MELS);
  }
}

void mm_clip_vote_add(mm_clip_state *s, const int8_t *scores) {
  for (uint32_t c = 0; c < MM_CLIP_N_CLASSES; c++) s->acc[c] += (int32_t)scores[c] + 128;
  s->n_nonsilent++;
}

int32_t mm_clip_vote(const mm_clip_state *s) {
  if (!s->n_nonsilent) return MM_CLIP_SILENT;
  int32_t best = 0;
  for (uint32_t c = 1; c < MM_CLIP_N_CLASSES; c++) {
    if (s->acc[c] > s->acc[best]) best = (int32_t)c;
  }
  return best;
}

/* Open-set rejection (python/micromel/clip/reject.py): the vote, or -2 (unknown)
 * when it is the model's other class, or unless acc[best] >= min_top[best] * n and
 * acc[best] - acc[second] >= min_margin * n. */
int32_t mm_clip_decide(const mm_clip_state *s, const uint16_t *min_top, uint32_t min_margin,
                       int32_t other_class) {
  int32_t best = mm_clip_vote(s);
  if (best < 0) return best;
  if (best == other_class) return MM_CLIP_UNKNOWN;
  int64_t second = 0;
  for (uint32_t c = 0; c < MM_CLIP_N_CLASSES; c++) {
    if ((int32_t)c != best && s->acc[c] > second) second = s->acc[c];
  }
  int64_t n = s->n_nonsilent, top = s->acc[best];
  if (top < (int64_t)min_top[best] * n || top - second < (int64_t)min_margin * n) {
    return MM_CLIP_UNKNOWN;
  }
  return best;
}

/* A segmentation event (label, confidence = mean probability of the label in 1/256):
 * its label, or MM_CLIP_UNKNOWN when it is the other class or below min_top[label]
 * (python/micromel/clip/reject.py: event_label; an event has no margin). */
int32_t mm_clip_event_decide(uint32_t label, uint32_t confidence, const uint16_t *min_top,
                             int32_t other_class) {
  if ((int32_t)label == other_class) return MM_CLIP_UNKNOWN;
  if (label >= MM_CLIP_N_CLASSES || confidence < min_top[label]) return MM_CLIP_UNKNOWN;
  return (int32_t)label;
}

/* The model's floors of the mean top probability, one per class (generated). */
static const uint16_t reject_min_top[MM_CLIP_N_CLASSES] = MM_CLIP_REJECT_MIN_TOP;

int32_t mm_clip_event_answer(uint32_t label, uint32_t confidence) {
  return mm_clip_event_decide(label, confidence, reject_min_top, MM_CLIP_REJECT_OTHER);
}

int32_t mm_clip_answer(const mm_clip_state *s) {
  return mm_clip_decide(s, reject_min_top, MM_CLIP_REJECT_MIN_MARGIN, MM_CLIP_REJECT_OTHER);
}
