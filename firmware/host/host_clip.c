/* ctypes entry point for tests of mm_clip (the C mirror of python/micromel/clip/rules.py). */
#include <stddef.h>
#include <string.h>

#include "mm_clip.h"

static mm_clip_state st;

/* Push n_samples of PCM block by block; after block b, frame b - FRAME_BLOCKS
 * + 1 (taken from frames[]) as the front end would emit it. For every window
 * completed: its index, silent flag, energy and frames (win_copy, FRAMES x
 * N_MELS each); non-silent windows vote with their row of win_scores
 * (N_CLASSES int8 per window index). Returns the number of windows. */
size_t mm_host_clip_run(const int16_t *pcm, size_t n_samples, const int8_t *frames, size_t n_frames,
                        const int8_t *win_scores, int32_t *win_index, uint8_t *win_silent,
                        int64_t *win_energy, int8_t *win_copy, int32_t *acc_out, int32_t *vote_out) {
  size_t nw = 0;
  mm_clip_reset(&st);
  size_t n_blocks = n_samples / MM_CLIP_BLOCK;
  for (size_t b = 0; b < n_blocks; b++) {
    mm_clip_push_block(&st, pcm + b * MM_CLIP_BLOCK);
    if (b + 1 < MM_CLIP_FRAME_BLOCKS) continue;
    size_t f = b + 1 - MM_CLIP_FRAME_BLOCKS;
    if (f >= n_frames) break;
    int32_t w = mm_clip_push_frame(&st, frames + f * MM_CLIP_N_MELS);
    if (w < 0) continue;
    win_index[nw] = w;
    win_silent[nw] = (uint8_t)mm_clip_window_silent(&st);
    win_energy[nw] = mm_clip_window_energy(&st);
    mm_clip_copy_window(&st, win_copy + nw * MM_CLIP_FRAMES * MM_CLIP_N_MELS);
    if (!win_silent[nw]) mm_clip_vote_add(&st, win_scores + (size_t)w * MM_CLIP_N_CLASSES);
    nw++;
  }
  memcpy(acc_out, st.acc, sizeof(st.acc));
  *vote_out = mm_clip_vote(&st);
  return nw;
}

int32_t mm_host_clip_event_decide(uint32_t label, uint32_t confidence, const uint16_t *min_top,
                                  int32_t other_class) {
  return mm_clip_event_decide(label, confidence, min_top, other_class);
}

/* The rejection rule on given vote totals: mm_clip_decide of a state holding
 * acc[N_CLASSES] after n_nonsilent windows. */
int32_t mm_host_clip_decide(const int32_t *acc, uint16_t n_nonsilent, const uint16_t *min_top,
                            uint32_t min_margin, int32_t other_class) {
  mm_clip_reset(&st);
  memcpy(st.acc, acc, sizeof(st.acc));
  st.n_nonsilent = n_nonsilent;
  return mm_clip_decide(&st, min_top, min_margin, other_class);
}
