/* The recognizer per hop block, as the app runs it (firmware/src/app_audio.c):
 *   block energy (gate) -> front end -> frame ring -> window complete? ->
 *   gate -> model -> vote -> segmenter (MM_API_STREAM).
 * Results go to the caller's callbacks as they complete. */
#include "mm_api.h"

#if MM_MODEL_PRESENT
#include <string.h>

#include "mm_nn_model.h"

#if MM_CLIP_N_MELS != MM_FE_N_MELS || MM_CLIP_BLOCK != MM_FE_HOP
#error "mm_clip_config.h and mm_frontend_config.h come from different configs"
#endif
#if MM_MODEL_INPUT_BYTES != MM_CLIP_FRAMES * MM_CLIP_N_MELS || MM_MODEL_OUTPUT_BYTES != MM_CLIP_N_CLASSES
#error "the model's input is not one window of front-end frames"
#endif
#if MM_SEG_WINDOW_FRAMES != MM_CLIP_FRAMES || MM_SEG_HOP_SAMPLES != MM_SEG_HOP_FRAMES * MM_FE_HOP
#error "mm_segment_config.h and mm_clip_config.h come from different configs"
#endif

static const char *const labels[MM_API_N_CLASSES] = MM_API_LABEL_LIST;
static const mm_seg_params seg_params = MM_SEG_PARAMS_DEFAULT;

/* Event boundary at front-end frame k -> sample: the frame stands for the
 * hop-long slice at its centre (segment/timebase.py), rounded down. */
#define FRAME_SAMPLES ((int64_t)MM_SEG_WINDOW_SAMPLES - ((int64_t)MM_SEG_WINDOW_FRAMES - 1) * MM_FE_HOP)
#define EDGE_OFFSET ((FRAME_SAMPLES - MM_FE_HOP) / 2)
static uint64_t edge_sample(uint32_t frame) {
  int64_t s = (int64_t)frame * MM_FE_HOP + EDGE_OFFSET;
  return s < 0 ? 0u : (uint64_t)s;
}

static void emit(mm_api_ctx *c, const mm_seg_event *ev) {
  mm_api_event e;
  if (!c->handlers.on_event) return;
  e.start_sample = edge_sample(ev->onset);
  e.end_sample = edge_sample(ev->offset);
  e.first_window = ev->start;
  e.end_window = ev->end;
  e.label = ev->label;
  e.confidence = ev->confidence;
  c->handlers.on_event(&e, c->handlers.user);
}

int mm_api_reset(mm_api_ctx *c) {
  if (!c) return MM_API_ERR_ARG;
  if (c->busy) return MM_API_ERR_STATE;
  mm_fe_reset(&c->fe);
  mm_clip_reset(&c->clip);
  c->block_fill = 0;
  c->samples = 0;
  c->windows = 0;
  c->finished = 0;
  if (c->mode != MM_API_STREAM) return MM_API_OK;
  mm_seg_gate_init(&c->gate, &seg_params);
  return mm_seg_init(&c->seg, &seg_params) == 0 ? MM_API_OK : MM_API_ERR_CONFIG;
}

int mm_api_init(mm_api_ctx *c, mm_api_mode mode, const mm_api_handlers *h) {
  if (!c || (mode != MM_API_STREAM && mode != MM_API_CLIP)) return MM_API_ERR_ARG;
  memset(c, 0, sizeof *c);
  c->mode = (uint8_t)mode;
  if (h) c->handlers = *h;
  return mm_api_reset(c);
}

/* One complete hop block: gate energy, front end, window, gate, model, vote,
 * segmenter. Returns 1 if it completed a window. */
static int run_block(mm_api_ctx *c) {
  int8_t frame[MM_FE_N_MELS];
  mm_api_window *r = &c->window;
  int stream = c->mode == MM_API_STREAM;
  mm_clip_push_block(&c->clip, c->block);
  if (mm_fe_process(&c->fe, &c->scratch, c->block, MM_FE_HOP, frame, 1, NULL) == 0) return 0;
  if (stream) mm_seg_frame(&c->seg, (uint64_t)mm_clip_frame_energy(&c->clip)); /* boundary refinement */
  int32_t w = stream ? mm_clip_push_frame_every(&c->clip, frame, MM_SEG_HOP_FRAMES)
                     : mm_clip_push_frame(&c->clip, frame);
  if (w < 0) return 0;
  c->windows++;
  r->index = (uint32_t)w;
  r->start_sample = (uint64_t)(uint32_t)w * (stream ? MM_API_STREAM_HOP_SAMPLES : MM_API_CLIP_HOP_SAMPLES);
  /* clips: the fixed gate (clip/rules.py); streams: the segmenter's gate,
   * which may calibrate its threshold on the first windows */
  r->silent = (uint8_t)(stream ? mm_seg_gate_silent(&c->gate, (uint64_t)mm_clip_window_energy(&c->clip))
                               : mm_clip_window_silent(&c->clip));
  r->top = MM_API_SILENT;
  r->cycles = 0;
  if (r->silent) {
    memset(r->scores, -128, sizeof r->scores);
  } else {
    uint32_t t0 = mm_api_port_cycles();
    mm_clip_copy_window(&c->clip, mm_nn_model_input());
    memcpy(r->scores, mm_nn_model_run(), MM_API_N_CLASSES);
    r->cycles = mm_api_port_cycles() - t0;
    mm_clip_vote_add(&c->clip, r->scores);
    r->top = 0;
    for (int k = 1; k < MM_API_N_CLASSES; k++) {
      if (r->scores[k] > r->scores[r->top]) r->top = (int8_t)k;
    }
  }
  if (c->handlers.on_window) c->handlers.on_window(r, c->handlers.user);
  if (stream) {
    mm_seg_event ev;
    if (mm_seg_push(&c->seg, r->scores, r->silent, &ev)) emit(c, &ev);
  }
  return 1;
}

static int push(mm_api_ctx *c, const int16_t *pcm, size_t n) {
  int done = 0;
  while (n > 0) {
    size_t take = MM_FE_HOP - c->block_fill;
    if (take > n) take = n;
    if (pcm) {
      memcpy(c->block + c->block_fill, pcm, take * sizeof *pcm);
      pcm += take;
    } else {
      memset(c->block + c->block_fill, 0, take * sizeof *pcm); /* padding */
    }
    c->block_fill += (uint32_t)take;
    c->samples += take;
    n -= take;
    if (c->block_fill == MM_FE_HOP) {
      c->block_fill = 0;
      done += run_block(c);
    }
  }
  return done;
}

int mm_api_push(mm_api_ctx *c, const int16_t *pcm, size_t n) {
  if (!c || (!pcm && n)) return MM_API_ERR_ARG;
  if (c->busy || c->finished) return MM_API_ERR_STATE;
  c->busy = 1;
  int done = push(c, pcm, n);
  c->busy = 0;
  return done;
}

int mm_api_finish(mm_api_ctx *c) {
  if (!c) return MM_API_ERR_ARG;
  if (c->busy || c->finished) return MM_API_ERR_STATE;
  c->busy = 1;
  int done = 0;
  /* zeros after a clip (or a stream with no window yet) shorter than one
   * window (clip/rules.py: pad_clip; segment/run.py: WindowCutter.finish) */
  if (c->windows == 0 && c->samples < MM_CLIP_WINDOW_SAMPLES) {
    done = push(c, NULL, (size_t)(MM_CLIP_WINDOW_SAMPLES - c->samples));
  }
  if (c->mode == MM_API_STREAM) {
    mm_seg_event tail[MM_SEG_FINISH_MAX];
    size_t k = mm_seg_finish(&c->seg, tail);
    for (size_t i = 0; i < k; i++) emit(c, &tail[i]);
  }
  c->finished = 1;
  c->busy = 0;
  return done;
}

int32_t mm_api_vote(const mm_api_ctx *c, mm_api_vote_result *out) {
  if (!c) return MM_API_ERR_ARG;
  int32_t label = mm_clip_answer(&c->clip); /* the model's rejection rule, if it has one */
  if (out) {
    out->label = label;
    out->windows = c->clip.n_nonsilent;
    memcpy(out->acc, c->clip.acc, sizeof out->acc);
  }
  return label;
}

int32_t mm_api_event_answer(const mm_api_event *e) {
  return mm_clip_event_answer(e->label, e->confidence);
}

const char *mm_api_label(int32_t k) {
  if (k == MM_API_UNKNOWN) return MM_CLIP_UNKNOWN_NAME;  /* the rule's answer, as segment names it */
  return k >= 0 && k < MM_API_N_CLASSES ? labels[k] : NULL;
}

int mm_api_classify_features(const int8_t *features, int8_t *scores) {
  if (!features || !scores) return MM_API_ERR_ARG;
  memcpy(mm_nn_model_input(), features, MM_API_FEATURE_BYTES);
  memcpy(scores, mm_nn_model_run(), MM_API_N_CLASSES);
  int top = 0;
  for (int k = 1; k < MM_API_N_CLASSES; k++) {
    if (scores[k] > scores[top]) top = k;
  }
  return top;
}

const char *mm_api_strerror(int code) {
  switch (code) {
    case MM_API_OK: return "ok";
    case MM_API_ERR_ARG: return "invalid argument (NULL pointer, unknown mode or class)";
    case MM_API_ERR_STATE: return "not now: finished (reset first) or called from a callback";
    case MM_API_ERR_CONFIG: return "the library's generated headers disagree; export it again";
    default: return code >= 0 ? "ok" : "unknown error";
  }
}
#endif
