/* Between app_listen.c (the LISTEN message, the outputs, the real-time accounting) and
 * app_listen_pipe.c (recognition, one block at a time). Internal to the application. */
#ifndef APP_LISTEN_H
#define APP_LISTEN_H

#include <stdint.h>

#include "mm_clip.h"
#include "mm_segment.h"

typedef struct {
  uint32_t index;                   /* window index since the run started */
  uint8_t silent;                   /* the gate's decision: the model did not run */
  int8_t scores[MM_CLIP_N_CLASSES]; /* int8 scores (zeros when silent) */
} app_listen_window;

/* The pipeline (app_listen_pipe.c). */
int app_listen_pipe_present(void);   /* 1 if a model is built in */
uint32_t app_listen_pipe_hop(void);  /* samples per block */
/* Start a run (new_listen: the first of a LISTEN; else a restart after lost audio); 0, or -1
 * if the segmenter refuses its params. */
int app_listen_pipe_reset(int new_listen);
void app_listen_pipe_block(const int16_t *pcm); /* one whole block */
/* The run ends: with pad, a run shorter than one window (tail: its last n < hop samples) is
 * padded with zeros to one window as segment.run.WindowCutter.finish does; then the
 * segmenter closes its events. */
void app_listen_pipe_finish(int pad, const int16_t *tail, uint32_t n);
/* mm_cost counts spent in the model (input copy and inference) since the last reset. */
uint64_t app_listen_pipe_model_cost(void);

/* What the pipeline reports (app_listen.c). */
void app_listen_on_window(const app_listen_window *w);
void app_listen_on_event(const mm_seg_event *e);

#endif
