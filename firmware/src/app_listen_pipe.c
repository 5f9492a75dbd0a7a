/* Continuous recognition, one hop block at a time, exactly as `micromel segment` computes it
 * on the host (segment/run.py): block energy -> front end -> a window every
 * MM_SEG_HOP_FRAMES frames -> energy gate (fixed or calibrated) -> model (only on windows
 * the gate lets through) -> segmenter -> events as they close. */
#include <string.h>

#include "mm_cost.h"
#include "mm_frontend.h"
#include "mm_nn_model.h"
#include "app_listen_pipe.h"
#include "app_shared.h"

#if MM_MODEL_PRESENT

#if MM_SEG_WINDOW_FRAMES != MM_CLIP_FRAMES || MM_CLIP_BLOCK != MM_FE_HOP
#error "mm_segment_config.h, mm_clip_config.h and mm_frontend_config.h come from different configs"
#endif

static mm_fe_state fe;
static mm_clip_state clip;
static mm_seg seg;
static mm_seg_gate gate;
static const mm_seg_params params = MM_SEG_PARAMS_DEFAULT;
static uint32_t samples, windows; /* since the run started */
static uint64_t model_cost;       /* since listening started (a run restart keeps it) */
static const app_listen_sink *sink;

int app_listen_pipe_present(void) { return 1; }
uint32_t app_listen_pipe_hop(void) { return MM_FE_HOP; }

uint64_t app_listen_pipe_model_cost(void) { return model_cost; }

int app_listen_pipe_reset(int new_listen, const app_listen_sink *to) {
  if (new_listen) model_cost = 0;
  sink = to;
  mm_fe_reset(&fe);
  mm_clip_reset(&clip);
  mm_seg_gate_init(&gate, &params);
  samples = windows = 0;
  return mm_seg_init(&seg, &params);
}

void app_listen_pipe_block(const int16_t *pcm) {
  int8_t frame[MM_FE_N_MELS];
  app_listen_window w;
  mm_seg_event ev;
  samples += MM_FE_HOP;
  mm_clip_push_block(&clip, pcm);
  if (mm_fe_process(&fe, &app_fe_scratch, pcm, MM_FE_HOP, frame, 1, NULL) == 0) return;
  mm_seg_frame(&seg, (uint64_t)mm_clip_frame_energy(&clip)); /* boundary refinement */
  int32_t k = mm_clip_push_frame_every(&clip, frame, MM_SEG_HOP_FRAMES);
  if (k < 0) return;
  windows++;
  w.index = (uint32_t)k;
  w.silent = (uint8_t)mm_seg_gate_silent(&gate, (uint64_t)mm_clip_window_energy(&clip));
  if (w.silent) {
    memset(w.scores, 0, sizeof w.scores);
  } else {
    uint64_t t0 = mm_cost_now();
    mm_clip_copy_window(&clip, mm_nn_model_input());
    memcpy(w.scores, mm_nn_model_run(), sizeof w.scores);
    model_cost += mm_cost_now() - t0;
  }
  int closed = mm_seg_push(&seg, w.scores, w.silent, &ev);
  sink->window(&w);
  if (closed) sink->event(&ev);
}

void app_listen_pipe_finish(int pad, const int16_t *last, uint32_t n) {
  static int16_t block[MM_FE_HOP] __attribute__((aligned(4)));
  mm_seg_event ev[MM_SEG_FINISH_MAX];
  if (pad && windows == 0 && samples + n < MM_CLIP_WINDOW_SAMPLES) {
    memset(block, 0, sizeof block);
    if (n) memcpy(block, last, 2u * n);
    while (windows == 0) { /* the window spans whole hops: zeros up to its end */
      app_listen_pipe_block(block);
      memset(block, 0, sizeof block);
    }
  }
  size_t k = mm_seg_finish(&seg, ev);
  for (size_t i = 0; i < k; i++) sink->event(&ev[i]);
}

#else /* no model: the audio input runs (recording), recognition does not */

int app_listen_pipe_present(void) { return 0; }
uint32_t app_listen_pipe_hop(void) { return MM_FE_HOP; }
int app_listen_pipe_reset(int new_listen, const app_listen_sink *to) {
  (void)new_listen, (void)to;
  return 0;
}
uint64_t app_listen_pipe_model_cost(void) { return 0; }
void app_listen_pipe_block(const int16_t *pcm) { (void)pcm; }
void app_listen_pipe_finish(int pad, const int16_t *last, uint32_t n) { (void)pad, (void)last, (void)n; }

#endif
