/* Audio messages: CLASSIFY_AUDIO (a clip in chunks: per-window scores, the
 * silence gate and the soft vote) and STREAM (continuous chunks: per-window
 * results as they are ready). Both run the same path per hop block of PCM:
 *   block energy (gate) -> front end -> frame ring -> window complete? ->
 *   gate -> model -> vote.
 * Every chunk gets exactly one reply, which is the flow control: the host
 * sends the next chunk after the reply, so nothing is dropped; STREAM chunks
 * also carry an index the device checks, so nothing is reordered or repeated.
 * Byte layouts: docs/protocol.md ("Application"). */
#include <stdio.h>
#include <string.h>

#include "mm_app.h"
#include "mm_clip.h"
#include "mm_frontend.h"
#include "mm_nn_model.h"
#include "mm_proto.h"
#include "mm_segment.h"
#include "app_shared.h"

/* request and reply flags: MM_AUDIO_FLAG_*, MM_AUDIO_REPLY_* (mm_proto_ids.h) */
#define HEAD_BYTES 5u /* u16 n_frames, u16 n_windows, u8 flags */

#if MM_MODEL_PRESENT

#if MM_CLIP_N_MELS != MM_FE_N_MELS || MM_CLIP_BLOCK != MM_FE_HOP
#error "mm_clip_config.h and mm_frontend_config.h come from different configs"
#endif
#if MM_MODEL_INPUT_BYTES != MM_CLIP_FRAMES * MM_CLIP_N_MELS
#error "the model's input is not one window of front-end frames"
#endif
#if MM_SEG_WINDOW_FRAMES != MM_CLIP_FRAMES
#error "mm_segment_config.h and mm_clip_config.h come from different configs"
#endif

#define WIN_BYTES (5u + MM_CLIP_N_CLASSES) /* u32 index, u8 silent, scores */
#define RESULT_BYTES (3u + 4u * MM_CLIP_N_CLASSES)
/* Frames one reply can carry: a full chunk, or a short clip padded to one window. */
#define CHUNK_MAX ((MM_PROTO_MAX_PAYLOAD - 5u) / 2u)
#define FRAMES_MAX (CHUNK_MAX / MM_CLIP_BLOCK + 1u > MM_CLIP_FRAMES ? CHUNK_MAX / MM_CLIP_BLOCK + 1u \
                                                                    : MM_CLIP_FRAMES)
#define HOP_MIN (MM_SEG_HOP_FRAMES < MM_CLIP_HOP_FRAMES ? MM_SEG_HOP_FRAMES : MM_CLIP_HOP_FRAMES)
#define WINDOWS_MAX (FRAMES_MAX / HOP_MIN + 2u)
#define EVENT_BYTES 10u /* u32 onset frame, u32 offset frame, u8 label, u8 confidence */
#define EVENTS_MAX (WINDOWS_MAX + MM_SEG_FINISH_MAX)
/* Fails to compile if the largest reply does not fit one frame. */
typedef char mm_audio_reply_fits[(HEAD_BYTES + FRAMES_MAX * MM_CLIP_N_MELS + WINDOWS_MAX * WIN_BYTES +
                                  RESULT_BYTES + 2u + EVENTS_MAX * EVENT_BYTES <=
                                  MM_PROTO_MAX_PAYLOAD) ? 1 : -1];

static mm_fe_state fe;
static mm_clip_state clip;
static int16_t block[MM_CLIP_BLOCK];
static uint32_t block_fill;
static uint32_t clip_samples;     /* samples of the current clip so far */
static uint32_t stream_next = 0;  /* the STREAM chunk index expected next */
static uint8_t windows_out[WINDOWS_MAX * WIN_BYTES];
/* STREAM: windows slide every MM_SEG_HOP_FRAMES and feed the segmenter. */
static const mm_seg_params seg_params = MM_SEG_PARAMS_DEFAULT;
static mm_seg seg;
static mm_seg_gate seg_gate;
static int streaming;       /* the current session is a STREAM (not a clip) */
static uint32_t windows_done; /* windows completed since START */
static mm_seg_event events_out[EVENTS_MAX];

/* What one chunk produced, written into the reply as it happens. */
typedef struct {
  uint8_t *frames; /* next frame slot in the reply (NULL: frames not wanted) */
  uint16_t n_frames;
  uint16_t n_windows;
  uint16_t n_events;
} reply_state;

static int reset(int stream_session) {
  mm_fe_reset(&fe);
  mm_clip_reset(&clip);
  block_fill = 0;
  clip_samples = 0;
  windows_done = 0;
  streaming = stream_session;
  if (!stream_session) return 0;
  mm_seg_gate_init(&seg_gate, &seg_params);
  return mm_seg_init(&seg, &seg_params);
}

/* One complete hop block: gate energy, front end, window, model, vote. */
static void run_block(reply_state *r) {
  int8_t frame[MM_FE_N_MELS];
  mm_clip_push_block(&clip, block);
  if (mm_fe_process(&fe, &app_fe_scratch, block, MM_CLIP_BLOCK, frame, 1, NULL) == 0) return;
  if (r->frames) {
    memcpy(r->frames, frame, MM_FE_N_MELS);
    r->frames += MM_FE_N_MELS;
  }
  r->n_frames++;
  if (streaming) mm_seg_frame(&seg, (uint64_t)mm_clip_frame_energy(&clip)); /* boundary refinement */
  int32_t w = streaming ? mm_clip_push_frame_every(&clip, frame, MM_SEG_HOP_FRAMES)
                        : mm_clip_push_frame(&clip, frame);
  if (w < 0 || r->n_windows >= WINDOWS_MAX) return;
  windows_done++;
  uint8_t *o = windows_out + (uint32_t)r->n_windows * WIN_BYTES;
  mm_proto_put_u32(o, (uint32_t)w);
  /* clips: the fixed gate of windows.py; streams: the segmenter's gate, which
   * may calibrate its threshold on the first windows */
  o[4] = (uint8_t)(streaming ? mm_seg_gate_silent(&seg_gate, (uint64_t)mm_clip_window_energy(&clip))
                             : mm_clip_window_silent(&clip));
  const int8_t *scores = NULL;
  if (o[4]) {
    memset(o + 5, 0, MM_CLIP_N_CLASSES);
  } else {
    mm_clip_copy_window(&clip, mm_nn_model_input());
    scores = mm_nn_model_run();
    memcpy(o + 5, scores, MM_CLIP_N_CLASSES);
    mm_clip_vote_add(&clip, scores);
  }
  r->n_windows++;
  if (streaming && r->n_events < EVENTS_MAX &&
      mm_seg_push(&seg, scores ? scores : (const int8_t *)(o + 5), o[4], &events_out[r->n_events])) {
    r->n_events++;
  }
}

static void push_samples(const uint8_t *pcm, uint32_t n, reply_state *r) {
  for (uint32_t i = 0; i < n; i++) {
    block[block_fill++] = (int16_t)(pcm[2 * i] | (pcm[2 * i + 1] << 8));
    if (block_fill == MM_CLIP_BLOCK) {
      block_fill = 0;
      run_block(r);
    }
  }
  clip_samples += n;
}

/* Zeros after a clip (or a stream with no window yet) shorter than one
 * window (windows.py: pad_clip; segment_run.WindowCutter.finish). */
static void pad_clip(reply_state *r) {
  static const uint8_t zeros[2 * MM_CLIP_BLOCK];
  while (clip_samples < MM_CLIP_WINDOW_SAMPLES && windows_done == 0) {
    uint32_t n = MM_CLIP_WINDOW_SAMPLES - clip_samples;
    push_samples(zeros, n < MM_CLIP_BLOCK ? n : MM_CLIP_BLOCK, r);
  }
}

/* Header, frames (already in place), windows, result, events (STREAM). */
static uint16_t finish_reply(uint8_t *out, const reply_state *r, int want_frames, int with_result) {
  uint32_t off = HEAD_BYTES + (want_frames ? (uint32_t)r->n_frames * MM_FE_N_MELS : 0u);
  mm_proto_put_u16(out, r->n_frames);
  mm_proto_put_u16(out + 2, r->n_windows);
  out[4] = (uint8_t)((with_result ? MM_AUDIO_REPLY_RESULT : 0u) | (want_frames ? MM_AUDIO_REPLY_FRAMES : 0u) |
                     (streaming ? MM_AUDIO_REPLY_EVENTS : 0u));
  memcpy(out + off, windows_out, (uint32_t)r->n_windows * WIN_BYTES);
  off += (uint32_t)r->n_windows * WIN_BYTES;
  if (with_result) {
    int32_t vote = mm_clip_answer(&clip); /* class, MM_CLIP_SILENT, MM_CLIP_UNKNOWN */
    out[off] = (uint8_t)(int8_t)vote;
    mm_proto_put_u16(out + off + 1, clip.n_nonsilent);
    off += 3;
    for (uint32_t c = 0; c < MM_CLIP_N_CLASSES; c++, off += 4) mm_proto_put_u32(out + off, (uint32_t)clip.acc[c]);
  }
  if (streaming) {
    mm_proto_put_u16(out + off, r->n_events);
    off += 2;
    for (uint32_t i = 0; i < r->n_events; i++, off += EVENT_BYTES) {
      mm_proto_put_u32(out + off, events_out[i].onset); /* frames */
      mm_proto_put_u32(out + off + 4, events_out[i].offset);
      out[off + 8] = events_out[i].label;
      out[off + 9] = events_out[i].confidence;
    }
  }
  return (uint16_t)off;
}

static int classify_audio(const uint8_t *payload, uint16_t len, mm_app_reply *reply) {
  if (len < 1 || (len - 1u) % 2u) return mm_app_refuse(reply, MM_ERR_BAD_PAYLOAD, len);
  uint8_t flags = payload[0];
  int want_frames = (flags & MM_AUDIO_FLAG_FEATURES) != 0;
  reply_state r = {want_frames ? reply->payload + HEAD_BYTES : NULL, 0, 0, 0};
  if (flags & MM_AUDIO_FLAG_START) reset(0);
  /* a clip message in the middle of a stream: start over */
  if (streaming) return mm_app_refuse(reply, MM_ERR_BAD_PAYLOAD, 0);
  push_samples(payload + 1, (len - 1u) / 2u, &r);
  if (flags & MM_AUDIO_FLAG_END) pad_clip(&r);
  reply->len = finish_reply(reply->payload, &r, want_frames, (flags & MM_AUDIO_FLAG_END) != 0);
  return 1;
}

static int stream(const uint8_t *payload, uint16_t len, mm_app_reply *reply) {
  if (len < 5 || (len - 5u) % 2u) return mm_app_refuse(reply, MM_ERR_BAD_PAYLOAD, len);
  uint8_t flags = payload[0];
  uint32_t index = mm_proto_get_u32(payload + 1);
  if (flags & MM_AUDIO_FLAG_START) {
    /* params that do not fit the build */
    if (reset(1) != 0) return mm_app_refuse(reply, MM_ERR_UNSUPPORTED, 0);
    stream_next = 0;
  }
  if (!streaming) return mm_app_refuse(reply, MM_ERR_BAD_PAYLOAD, 0); /* no STREAM started */
  /* dropped, repeated or reordered: refuse, state unchanged */
  if (index != stream_next) return mm_app_refuse(reply, MM_ERR_BAD_PAYLOAD, (uint16_t)stream_next);
  stream_next++;
  int want_frames = (flags & MM_AUDIO_FLAG_FEATURES) != 0;
  reply_state r = {want_frames ? reply->payload + HEAD_BYTES : NULL, 0, 0, 0};
  push_samples(payload + 5, (len - 5u) / 2u, &r);
  if (flags & MM_AUDIO_FLAG_END) { /* end of stream: pad a stream shorter than one window, close events */
    pad_clip(&r);
    r.n_events = (uint16_t)(r.n_events + mm_seg_finish(&seg, &events_out[r.n_events]));
  }
  reply->len = finish_reply(reply->payload, &r, want_frames, 0);
  if (flags & MM_AUDIO_FLAG_END) streaming = 0; /* the segmenter must be re-initialised (START) */
  return 1;
}

int mm_app_audio_handle(uint8_t type, const uint8_t *payload, uint16_t len, mm_app_reply *reply) {
  if (type == MM_MSG_CLASSIFY_AUDIO) return classify_audio(payload, len, reply);
  if (type == MM_MSG_STREAM) return stream(payload, len, reply);
  return 0;
}

int mm_app_audio_info(char *out, int cap) {
  int n = snprintf(out, (size_t)cap, "window_frames=%u\nwindow_hop_frames=%u\n",
                   (unsigned)MM_CLIP_FRAMES, (unsigned)MM_CLIP_HOP_FRAMES);
  return (n < 0 || n >= cap) ? 0 : n;
}

#else /* no model: the audio messages are not built in */

int mm_app_audio_handle(uint8_t type, const uint8_t *payload, uint16_t len, mm_app_reply *reply) {
  (void)payload, (void)len;
  if (type == MM_MSG_CLASSIFY_AUDIO || type == MM_MSG_STREAM) {
    return mm_app_refuse(reply, MM_ERR_UNSUPPORTED, type);
  }
  return 0;
}

int mm_app_audio_info(char *out, int cap) {
  (void)out, (void)cap;
  return 0;
}
#endif
