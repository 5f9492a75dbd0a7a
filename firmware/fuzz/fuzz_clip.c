/* libFuzzer target: mm_clip (windows, energies, the gate, the soft vote) driven by any
 * sequence of operations, as the audio messages drive it over a clip or a stream.
 *
 * Input: records of [u8 op] + its bytes: 0 push a block of PCM (MM_CLIP_BLOCK int16),
 * 1 push a frame (MM_CLIP_N_MELS int8), 2 push a frame with windows every [u8 hop] frames,
 * 3 reset. When a push completes a window: its energy, the gate, a copy of it, and a vote
 * with the next MM_CLIP_N_CLASSES bytes as scores. Checks the window index and the vote's
 * range; ASan/UBSan catch out-of-bounds rings and overflows. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mm_clip.h"

#define CHECK(c) do { if (!(c)) abort(); } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static mm_clip_state s;
  static int8_t window[MM_CLIP_FRAMES * MM_CLIP_N_MELS];
  int16_t block[MM_CLIP_BLOCK];
  int8_t frame[MM_CLIP_N_MELS], scores[MM_CLIP_N_CLASSES];
  mm_clip_reset(&s);
  size_t pos = 0;
  while (pos < size) {
    uint8_t op = data[pos++] % 4;
    int32_t w = -1;
    if (op == 0) {
      if (size - pos < sizeof block) break;
      memcpy(block, data + pos, sizeof block);
      pos += sizeof block;
      mm_clip_push_block(&s, block);
      continue;
    }
    if (op == 3) {
      mm_clip_reset(&s);
      continue;
    }
    uint32_t hop = MM_CLIP_HOP_FRAMES;
    if (op == 2) {
      if (pos >= size) break;
      hop = 1u + data[pos++] % 64u;
    }
    if (size - pos < sizeof frame) break;
    memcpy(frame, data + pos, sizeof frame);
    pos += sizeof frame;
    uint32_t before = s.n_frames;
    w = op == 1 ? mm_clip_push_frame(&s, frame) : mm_clip_push_frame_every(&s, frame, hop);
    if (w < 0) continue;
    CHECK((uint32_t)w * hop + MM_CLIP_FRAMES == before + 1u);
    CHECK(mm_clip_window_energy(&s) >= 0);
    int silent = mm_clip_window_silent(&s);
    mm_clip_copy_window(&s, window);
    CHECK(memcmp(window + (MM_CLIP_FRAMES - 1) * MM_CLIP_N_MELS, frame, MM_CLIP_N_MELS) == 0);
    if (silent || size - pos < sizeof scores) continue;
    memcpy(scores, data + pos, sizeof scores);
    pos += sizeof scores;
    mm_clip_vote_add(&s, scores);
    int32_t v = mm_clip_vote(&s);
    CHECK(v >= 0 && v < MM_CLIP_N_CLASSES);
  }
  return 0;
}
