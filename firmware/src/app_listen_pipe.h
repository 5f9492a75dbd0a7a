/* The listening pipeline (app_listen_pipe.c): recognition, one hop block at a time, for
 * app_listen.c (the LISTEN message, the outputs, the real-time accounting), which tells it
 * where to report (a sink) so that the pipeline names nothing of app_listen.c. Internal to
 * the application. */
#ifndef APP_LISTEN_PIPE_H
#define APP_LISTEN_PIPE_H

#include <stdint.h>

#include "mm_clip.h"
#include "mm_segment.h"

typedef struct {
  uint32_t index;                   /* window index since the run started */
  uint8_t silent;                   /* the gate's decision: the model did not run */
  int8_t scores[MM_CLIP_N_CLASSES]; /* int8 scores (zeros when silent) */
} app_listen_window;

/* Where the pipeline reports: each window as it completes, each event as it closes. */
typedef struct {
  void (*window)(const app_listen_window *w);
  void (*event)(const mm_seg_event *e);
} app_listen_sink;

int app_listen_pipe_present(void);   /* 1 if a model is built in */
uint32_t app_listen_pipe_hop(void);  /* samples per block */
/* Start a run (new_listen: the first of a LISTEN; else a restart after lost audio) that
 * reports to sink; 0, or -1 if the segmenter refuses its params. */
int app_listen_pipe_reset(int new_listen, const app_listen_sink *sink);
void app_listen_pipe_block(const int16_t *pcm); /* one whole block */
/* The run ends: with pad, a run shorter than one window (last: its last n < hop samples) is
 * padded with zeros to one window as segment.run.WindowCutter.finish does; then the
 * segmenter closes its events. */
void app_listen_pipe_finish(int pad, const int16_t *last, uint32_t n);
/* mm_cost counts spent in the model (input copy and inference) since listening started (a
 * reset with new_listen; a restart after lost audio keeps them). */
uint64_t app_listen_pipe_model_cost(void);

#endif
