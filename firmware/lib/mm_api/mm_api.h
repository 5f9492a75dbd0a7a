/* mm_api: the recognizer as a library. int16 PCM in (any length, streaming),
 * results out as they complete: per-window scores, the soft vote of a clip,
 * and the segmenter's events with times in samples. It runs exactly what the
 * micromel app runs per hop block (firmware/src/app_audio.c): block energy ->
 * front end -> frame ring -> window complete? -> gate -> model -> vote ->
 * segmenter, with the same windows, gate and integers as the Python twin.
 *
 *   static mm_api_ctx rec;                          // all state: no heap
 *   mm_api_init(&rec, MM_API_STREAM, &handlers);    // handlers: your callbacks
 *   mm_api_push(&rec, pcm, n);                      // as audio arrives
 *   mm_api_finish(&rec);                            // end of stream: last events
 *
 * Every function returns MM_API_OK (0), a count (>= 0) or a negative
 * MM_API_ERR_* code; nothing prints, nothing allocates. Not thread-safe: one
 * context is driven by one thread (callbacks run inside mm_api_push and
 * mm_api_finish, on that thread). All contexts share the one model compiled
 * into the image (its arena is static): run them on one thread.
 *
 * Sizes are fixed when the library is compiled, from the generated headers
 * (mm_*_config.h, mm_model_*.h, mm_kernels.h, written by `micromel export`). */
#ifndef MM_API_H
#define MM_API_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#include "mm_api_config.h"   /* generated: labels, the model's flash */
#include "mm_build_info.h"   /* generated: micromel version */
#include "mm_clip.h"
#include "mm_frontend.h"
#include "mm_kernels.h"      /* generated: the kernel path */
#include "mm_model_config.h" /* generated: the model's name, hash, sizes */
#include "mm_segment.h"

#if MM_MODEL_PRESENT

/* --- what was compiled in: macros ------------------------------------------ */
#define MM_API_VERSION MM_FIRMWARE_VERSION /* micromel version that exported it */
#define MM_API_MODEL_NAME MM_MODEL_NAME
#define MM_API_MODEL_HASH MM_MODEL_HASH    /* what `micromel device info` reports */
#define MM_API_N_CLASSES MM_MODEL_N_CLASSES
#define MM_API_LABELS MM_MODEL_LABELS      /* "a,b,c": class names in index order */
#define MM_API_SAMPLE_RATE MM_FE_SAMPLE_RATE /* Hz of the PCM to push (mono int16) */
#define MM_API_N_MELS MM_FE_N_MELS
#define MM_API_WINDOW_FRAMES MM_CLIP_FRAMES
#define MM_API_WINDOW_SAMPLES MM_CLIP_WINDOW_SAMPLES /* samples one window covers */
/* Window hops in samples: MM_API_STREAM (the segmenter's hop), MM_API_CLIP. */
#define MM_API_STREAM_HOP_SAMPLES (MM_SEG_HOP_FRAMES * MM_FE_HOP)
#define MM_API_CLIP_HOP_SAMPLES (MM_CLIP_HOP_FRAMES * MM_FE_HOP)
/* Bytes of one window of features (mm_api_classify_features): frames x mels. */
#define MM_API_FEATURE_BYTES MM_MODEL_INPUT_BYTES
/* 1 where the Cortex-M DSP kernels are compiled in, else 0 (portable C99). */
#define MM_API_DSP MM_KERNELS_DSP
/* Memory. RAM: the model's arena (static, inside the library) plus one
 * mm_api_ctx per context (yours to place). Flash: the model's weights and
 * parameters on this kernel path; code and front-end tables come on top
 * (measured per board in docs/library.md). */
#define MM_API_ARENA_BYTES MM_MODEL_ARENA_BYTES
#define MM_API_MODEL_FLASH_BYTES \
  (MM_KERNELS_DSP ? MM_API_MODEL_FLASH_BYTES_DSP : MM_API_MODEL_FLASH_BYTES_PORTABLE)

/* --- return codes ----------------------------------------------------------- */
#define MM_API_OK 0
#define MM_API_SILENT MM_CLIP_SILENT   /* no vote: every window was silent (negative) */
#define MM_API_UNKNOWN MM_CLIP_UNKNOWN /* a vote the model's rejection rule refuses ("unknown") */
#define MM_API_ERR_ARG (-1)    /* a NULL pointer, an unknown mode or class */
#define MM_API_ERR_STATE (-2)  /* pushed after mm_api_finish (reset first), or called from a callback */
#define MM_API_ERR_CONFIG (-3) /* the generated headers disagree (segmenter parameters refused) */

/* --- modes ---------------------------------------------------------------------- */
typedef enum {
  /* Continuous audio: a window every MM_API_STREAM_HOP_SAMPLES, the segmenter's
   * energy gate (it may calibrate on the first windows), events. The app's STREAM. */
  MM_API_STREAM = 0,
  /* One clip (a sound, a file): a window every MM_API_CLIP_HOP_SAMPLES, the
   * fixed RMS gate, the soft vote at the end (mm_api_vote). The app's CLASSIFY_AUDIO. */
  MM_API_CLIP = 1
} mm_api_mode;

/* --- results -------------------------------------------------------------------- */
typedef struct {
  uint32_t index;        /* window number since init/reset: 0, 1, ... */
  uint64_t start_sample; /* it covers samples [start_sample, start_sample + MM_API_WINDOW_SAMPLES) */
  uint8_t silent;        /* 1: the gate found it silent; the model did not run */
  int8_t top;            /* the class with the highest score (lowest index on ties); MM_API_SILENT if silent */
  /* int8 softmax codes: probability of class c = (scores[c] + 128) / 256;
   * all -128 (probability 0) when silent */
  int8_t scores[MM_API_N_CLASSES];
  uint32_t cycles;       /* mm_api_port_cycles() spent in the model (0 without a counter) */
} mm_api_window;

typedef struct {
  /* The event spans samples [start_sample, end_sample) since init/reset: its
   * onset and offset front-end frames, each standing for the hop-long slice at
   * its centre (as `micromel segment` reports times: divide by
   * MM_API_SAMPLE_RATE for seconds). */
  uint64_t start_sample, end_sample;
  uint32_t first_window, end_window; /* the windows [first, end) it was decided on */
  uint8_t label;      /* class index; its name under the rejection rule:
                         mm_api_label(mm_api_event_answer(e)) */
  uint8_t confidence; /* mean probability of the label over the event, in 1/256 */
} mm_api_event;

typedef struct {
  int32_t label;     /* the class with the highest summed probability; MM_API_SILENT: every window silent;
                      MM_API_UNKNOWN: the model's rejection rule refused the vote */
  uint32_t windows;  /* windows voted (not silent) */
  int32_t acc[MM_API_N_CLASSES]; /* per class: sum of (score + 128) over the voted windows */
} mm_api_vote_result;

/* Callbacks (each may be NULL). They run inside mm_api_push/mm_api_finish and
 * must not call mm_api_push, mm_api_finish or mm_api_reset on the same context;
 * the pointers are valid during the call only. */
typedef struct {
  void (*on_window)(const mm_api_window *w, void *user);
  void (*on_event)(const mm_api_event *e, void *user); /* MM_API_STREAM only */
  void *user;
} mm_api_handlers;

/* --- the context: declare it (static or global), never touch its fields ------- */
typedef struct {
  mm_fe_state fe;
  mm_fe_scratch scratch; /* live during one call only */
  mm_clip_state clip;
  mm_seg seg;
  mm_seg_gate gate;
  int16_t block[MM_FE_HOP]; /* the hop block being filled */
  uint32_t block_fill;
  uint64_t samples;         /* samples pushed since init/reset (padding included) */
  uint32_t windows;         /* windows completed since init/reset */
  mm_api_handlers handlers;
  mm_api_window window;     /* the last window's result */
  uint8_t mode, finished, busy;
} mm_api_ctx;

/* RAM of one context in bytes (a constant expression; not usable in #if). */
#define MM_API_STATE_BYTES (sizeof(mm_api_ctx))

/* --- functions ----------------------------------------------------------------- */
/* Set the mode and the callbacks (copied; NULL: none), then reset. Not from
 * inside a callback. Returns MM_API_OK, MM_API_ERR_ARG or MM_API_ERR_CONFIG. */
int mm_api_init(mm_api_ctx *ctx, mm_api_mode mode, const mm_api_handlers *handlers);

/* Forget all audio (a new clip or stream); keeps the mode and callbacks. */
int mm_api_reset(mm_api_ctx *ctx);

/* Push n mono int16 samples at MM_API_SAMPLE_RATE (any n, 0 included; pcm may
 * be NULL when n is 0). Runs every window the samples complete and calls the
 * callbacks for it and for every event it closes. Returns the number of
 * windows completed, or MM_API_ERR_ARG / MM_API_ERR_STATE. */
int mm_api_push(mm_api_ctx *ctx, const int16_t *pcm, size_t n);

/* End of the clip or stream: a clip (or stream) shorter than one window is
 * padded with zeros to one window, as the app and the twin do; in
 * MM_API_STREAM the segmenter closes its last events. Returns the windows
 * completed by the padding (0 or 1) or an error. Push again only after
 * mm_api_reset. */
int mm_api_finish(mm_api_ctx *ctx);

/* The soft vote over the windows since init/reset (MM_API_CLIP: the clip's
 * class after mm_api_finish; in MM_API_STREAM the whole stream so far, meant
 * for stretches of up to 65535 voted windows: reset to start a new one).
 * Fills *out if not NULL; returns the label, MM_API_SILENT or MM_API_UNKNOWN. */
int32_t mm_api_vote(const mm_api_ctx *ctx, mm_api_vote_result *out);

/* An event's class under the model's rejection rule: e->label, or MM_API_UNKNOWN
 * when the rule refuses it (its other class, or confidence below the rule's mean
 * top probability), as `micromel segment` and `listen` name it "unknown". */
int32_t mm_api_event_answer(const mm_api_event *e);

/* Class name of index c (0 .. MM_API_N_CLASSES-1), "unknown" for MM_API_UNKNOWN (what
 * mm_api_event_answer and mm_api_vote give when the rejection rule refuses), or NULL for
 * any other c. An event's name as `micromel segment` gives it:
 * mm_api_label(mm_api_event_answer(e)). */
const char *mm_api_label(int32_t c);

/* One window for users who compute the features themselves: features are
 * MM_API_FEATURE_BYTES int8 values (MM_API_WINDOW_FRAMES frames of
 * MM_API_N_MELS, oldest first, as micromel's front end computes them); writes
 * MM_API_N_CLASSES int8 scores. Returns the top class, or MM_API_ERR_ARG.
 * Uses the model shared with every context: not from another thread while
 * mm_api_push runs. */
int mm_api_classify_features(const int8_t *features, int8_t *scores);

/* A short English text for a return code (never NULL). */
const char *mm_api_strerror(int code);

/* --- the porting layer (mm_api_port.c: weak defaults, override any) ------------- */
/* A free-running cycle counter for mm_api_window.cycles; default: 0 (none).
 * E.g. on a Cortex-M3/M4/M7/M33 with the DWT enabled: return DWT->CYCCNT; */
uint32_t mm_api_port_cycles(void);

#endif /* MM_MODEL_PRESENT */

#ifdef __cplusplus
}
#endif

#endif
