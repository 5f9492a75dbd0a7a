/* LISTEN: the board classifies the sound of its own audio input continuously and reports
 * what it heard (docs/protocol.md, "Listening"). The audio input (mm_audio) fills its ring
 * from an interrupt; app.c calls mm_app_listen_poll on every turn of the port's main loop,
 * which takes one hop block at a time through the pipeline (app_listen_pipe.c) and hands
 * back one output at a time: LISTEN_DATA frames (events, window results, audio, status) or,
 * with the TEXT flag, lines any serial monitor shows ("12.34 18.90 speech 0.91").
 *
 * Real time, measured: overruns and dropped samples (mm_audio), busy time (the pipeline, the
 * writes of its outputs and the source's interrupts; not the idle loop), the worst latency
 * from the arrival of a window's last sample to its result, and the stack's high-water
 * mark. All in mm_cost counts; INFO's counter_num/den and clock_hz convert them. */
#include <stdio.h>
#include <string.h>

#include "mm_app.h"
#include "mm_audio.h"
#include "mm_clip.h"
#include "mm_cost.h"
#include "mm_nn_model.h"
#include "mm_proto.h"
#include "mm_stack.h"
#include "app_listen_pipe.h"

#ifndef MM_BOARD_CLOCK_HZ
#define MM_BOARD_CLOCK_HZ 0 /* the host build: no board clock, no paced sources */
#endif
#if !MM_MODEL_PRESENT
#define MM_MODEL_LABELS ""
#endif

#define START_BYTES 12u
#define PATH_BYTES 160u
#define STATUS_BYTES 88u
#define QUEUE 16u /* outputs of one block, or of the end of a run */

typedef struct {
  uint8_t kind;          /* MM_LISTEN_KIND_* */
  uint32_t run_start;    /* EVENT, WINDOW: stream index where the run began */
  app_listen_window w;   /* WINDOW */
  mm_seg_event e;        /* EVENT */
} out_rec;

static struct {
  uint8_t state, source, flags, error;
  uint32_t samples, windows, inferences, events, checksum, run_start, next_status;
  uint32_t stack_size, tail_n;
  uint64_t t_start, t_end, busy, latency_max, t_block;
  uint64_t t_mark, isr_mark; /* an output is being written since t_mark */
  uint8_t writing;
} L;
static out_rec queue[QUEUE];
static uint32_t q_head, q_tail;
static char path[PATH_BYTES + 1];
static int16_t tail[MM_CLIP_BLOCK];

static uint64_t isr_cost(void) {
  mm_audio_stats s;
  mm_audio_get_stats(&s);
  return s.isr_cost;
}

static out_rec *push(uint8_t kind) {
  out_rec *r = &queue[q_tail % QUEUE];
  if (q_tail - q_head >= QUEUE) return NULL; /* cannot happen: see QUEUE */
  q_tail++;
  r->kind = kind;
  r->run_start = L.run_start;
  return r;
}

/* --- what the pipeline reports ------------------------------------------------ */
static void on_window(const app_listen_window *w) {
  uint64_t lat = mm_cost_now() - L.t_block; /* the block that completed it holds its last sample */
  if (lat > L.latency_max) L.latency_max = lat;
  L.windows++;
  L.inferences += !w->silent;
  out_rec *r = (L.flags & MM_LISTEN_FLAG_WINDOWS) ? push(MM_LISTEN_KIND_WINDOW) : NULL;
  if (r) r->w = *w;
}

static void on_event(const mm_seg_event *e) {
  L.events++;
  out_rec *r = push(MM_LISTEN_KIND_EVENT);
  if (r) r->e = *e;
}

/* where the pipeline reports (app_listen_pipe.h) */
static const app_listen_sink sink = {on_window, on_event};

/* --- status ------------------------------------------------------------------- */
static uint16_t put_status(uint8_t *o) {
  mm_audio_stats s;
  mm_audio_get_stats(&s);
  uint64_t now = L.state == MM_LISTEN_STATE_LISTENING ? mm_cost_now() : L.t_end;
  o[0] = L.state, o[1] = L.source, o[2] = L.flags, o[3] = L.error;
  const uint32_t u[] = {L.samples, s.periods, s.overruns, s.dropped, L.windows, L.inferences,
                        L.events, L.checksum, s.fill_max, mm_stack_used(), L.stack_size,
                        (uint32_t)MM_BOARD_CLOCK_HZ};
  for (unsigned i = 0; i < sizeof u / sizeof u[0]; i++) mm_proto_put_u32(o + 4 + 4 * i, u[i]);
  mm_proto_put_u64(o + 52, L.busy + s.isr_cost);
  mm_proto_put_u64(o + 60, L.t_start ? now - L.t_start : 0u);
  mm_proto_put_u64(o + 68, L.latency_max);
  mm_proto_put_u32(o + 76, L.run_start);
  mm_proto_put_u64(o + 80, app_listen_pipe_model_cost());
  return STATUS_BYTES;
}

/* --- text lines ---------------------------------------------------------------- */
/* Centiseconds of an event boundary at front-end frame k: the hop-long slice at the
 * frame's centre starts there (segment/timebase.py), rounded to the nearest. */
#define FRAME_HOP (MM_SEG_HOP_SAMPLES / MM_SEG_HOP_FRAMES) /* the front end's hop */
#define FRAME_SAMPLES (MM_SEG_WINDOW_SAMPLES - (MM_SEG_WINDOW_FRAMES - 1u) * FRAME_HOP)
static uint32_t edge_cs(uint32_t run_start, uint32_t frame) {
  uint64_t twice = 2ull * (run_start + (uint64_t)frame * FRAME_HOP) + (FRAME_SAMPLES - FRAME_HOP);
  return (uint32_t)((twice * 100u + MM_AUDIO_RATE) / (2u * MM_AUDIO_RATE));
}

static int label_name(unsigned k, char *out, int cap) {
  const char *p = MM_MODEL_LABELS;
  while (k && *p) k -= *p++ == ',';
  int n = 0;
  while (p[n] && p[n] != ',' && n < cap - 1) out[n] = p[n], n++;
  out[n] = 0;
  return n;
}

static uint16_t event_text(const out_rec *r, char *o, int cap) {
  char name[32];
  uint32_t a = edge_cs(r->run_start, r->e.onset), b = edge_cs(r->run_start, r->e.offset);
  uint32_t conf = (r->e.confidence * 100u + 128u) / 256u;
  /* the model's rejection rule names an event it refuses "unknown", as `micromel segment` */
  int32_t k = mm_clip_event_answer(r->e.label, r->e.confidence);
  if (k == MM_CLIP_UNKNOWN) snprintf(name, sizeof name, "%s", MM_CLIP_UNKNOWN_NAME);
  else label_name((unsigned)k, name, sizeof name);
  int n = snprintf(o, (size_t)cap, "%lu.%02lu %lu.%02lu %s %lu.%02lu\n", (unsigned long)(a / 100),
                   (unsigned long)(a % 100), (unsigned long)(b / 100), (unsigned long)(b % 100), name,
                   (unsigned long)(conf / 100), (unsigned long)(conf % 100));
  return (uint16_t)(n < 0 ? 0 : n);
}

/* "# end ..." summary: what a serial monitor shows when the source ends or is stopped. */
static uint16_t end_text(char *o, int cap) {
  mm_audio_stats s;
  mm_audio_get_stats(&s);
  /* CPU load: busy instructions (or cycles) per second of audio against the clock */
  uint64_t busy = (L.busy + s.isr_cost) * mm_cost_num / mm_cost_den;
  uint64_t budget = (uint64_t)L.samples * MM_BOARD_CLOCK_HZ / MM_AUDIO_RATE;
  char load[16] = "?";
  if (budget && mm_cost_num) {
    uint32_t pm = (uint32_t)(busy * 1000u / budget);
    snprintf(load, sizeof load, "%lu.%lu%%", (unsigned long)(pm / 10), (unsigned long)(pm % 10));
  }
  int n = snprintf(o, (size_t)cap, "# end %lu samples, %lu events, overruns %lu, cpu %s, stack %lu B\n",
                   (unsigned long)L.samples, (unsigned long)L.events, (unsigned long)s.overruns, load,
                   (unsigned long)mm_stack_used());
  return (uint16_t)(n < 0 ? 0 : n);
}

/* --- outputs -------------------------------------------------------------------- */
/* One queued record into out; returns MM_APP_OUT_FRAME, MM_APP_OUT_TEXT, or BUSY if the
 * record has no form in the current mode. */
static int format(const out_rec *r, mm_app_reply *out, uint8_t *type) {
  uint8_t *o = out->payload;
  *type = MM_MSG_LISTEN_DATA;
  if (L.flags & MM_LISTEN_FLAG_TEXT) {
    if (r->kind == MM_LISTEN_KIND_EVENT) out->len = event_text(r, (char *)o, MM_PROTO_MAX_PAYLOAD);
    else if (r->kind == MM_LISTEN_KIND_END) out->len = end_text((char *)o, MM_PROTO_MAX_PAYLOAD);
    else return MM_APP_OUT_BUSY;
    return MM_APP_OUT_TEXT;
  }
  o[0] = r->kind;
  if (r->kind == MM_LISTEN_KIND_EVENT) {
    mm_proto_put_u32(o + 1, r->run_start);
    mm_proto_put_u32(o + 5, r->e.onset); /* front-end frames */
    mm_proto_put_u32(o + 9, r->e.offset);
    o[13] = r->e.label, o[14] = r->e.confidence;
    out->len = 15;
  } else if (r->kind == MM_LISTEN_KIND_WINDOW) {
    mm_proto_put_u32(o + 1, r->run_start);
    mm_proto_put_u32(o + 5, r->w.index);
    o[9] = r->w.silent;
    memcpy(o + 10, r->w.scores, sizeof r->w.scores);
    out->len = (uint16_t)(10u + sizeof r->w.scores);
  } else {
    out->len = (uint16_t)(1u + put_status(o + 1));
  }
  return MM_APP_OUT_FRAME;
}

/* The run ends (the source ended, or STOP): close events, report. */
static void end_run(void) {
  mm_audio_stop();
  if (!(L.flags & MM_LISTEN_FLAG_AUDIO_ONLY)) app_listen_pipe_finish(1, tail, L.tail_n);
  L.state = MM_LISTEN_STATE_ENDED;
  L.t_end = mm_cost_now();
  push(MM_LISTEN_KIND_END);
}

/* One block from the ring: its audio (AUDIO flag: straight into out), the pipeline. */
static int consume(const mm_audio_block *b, mm_app_reply *out, uint8_t *type) {
  int r = MM_APP_OUT_BUSY;
  const int only_audio = (L.flags & MM_LISTEN_FLAG_AUDIO_ONLY) != 0;
  if (b->gap && !only_audio) { /* samples were lost: close this run, start another after the gap */
    app_listen_pipe_finish(0, NULL, 0);
    app_listen_pipe_reset(0, &sink);
    L.run_start = b->index;
  }
  for (uint32_t i = 0; i < b->n; i++) L.checksum = L.checksum * 31u + (uint16_t)b->pcm[i];
  L.samples += b->n;
  L.t_block = b->t_last;
  if (L.flags & MM_LISTEN_FLAG_AUDIO) {
    uint8_t *o = out->payload;
    o[0] = MM_LISTEN_KIND_AUDIO;
    mm_proto_put_u32(o + 1, b->index);
    mm_proto_put_u16(o + 5, b->n);
    memcpy(o + 7, b->pcm, 2u * b->n); /* little-endian on every supported core */
    out->len = (uint16_t)(7u + 2u * b->n);
    *type = MM_MSG_LISTEN_DATA;
    r = MM_APP_OUT_FRAME;
  }
  if (!only_audio) {
    if (b->n == app_listen_pipe_hop()) {
      app_listen_pipe_block(b->pcm);
    } else { /* the source's last, short block: padding material if the run has no window */
      memcpy(tail, b->pcm, 2u * b->n);
      L.tail_n = b->n;
    }
  }
  mm_audio_release();
  if (L.samples >= L.next_status) {
    push(MM_LISTEN_KIND_STATUS);
    L.next_status += MM_AUDIO_RATE;
  }
  return r;
}

int mm_app_listen_poll(mm_app_reply *out, uint8_t *type) {
  if (L.state != MM_LISTEN_STATE_LISTENING && q_head == q_tail) return MM_APP_OUT_IDLE;
  /* the idle loop's fast path: no device register read (QEMU emulates them slowly) */
  if (q_head == q_tail && !L.writing && !mm_audio_ready()) return MM_APP_OUT_BUSY;
  const uint64_t t = mm_cost_now(), isr = isr_cost();
  if (L.writing) L.busy += (t - L.t_mark) - (isr - L.isr_mark); /* the last output's write */
  L.writing = 0;
  int r = MM_APP_OUT_BUSY, worked = 0;
  if (q_head == q_tail && L.state == MM_LISTEN_STATE_LISTENING) {
    mm_audio_block b;
    int k = mm_audio_next(&b);
    if (k > 0) r = consume(&b, out, type);
    if (k < 0) end_run();
    worked = k != 0;
  }
  while (r == MM_APP_OUT_BUSY && q_head != q_tail) {
    r = format(&queue[q_head % QUEUE], out, type);
    q_head++;
    worked = 1;
  }
  if (worked) {
    L.t_mark = mm_cost_now();
    L.isr_mark = isr_cost();
    L.busy += (L.t_mark - t) - (L.isr_mark - isr);
    L.writing = r != MM_APP_OUT_BUSY;
  }
  return r;
}

/* --- control -------------------------------------------------------------------- */
/* mm_cost counts per half at the board's clock, if exact (0: no paced sources here). */
static uint32_t period_cost(void) {
  uint64_t num = (uint64_t)MM_AUDIO_HALF * MM_BOARD_CLOCK_HZ * mm_cost_den;
  uint64_t den = (uint64_t)MM_AUDIO_RATE * mm_cost_num;
  return (den && num % den == 0) ? (uint32_t)(num / den) : 0u;
}

static uint8_t start(uint8_t source, uint8_t flags, uint32_t max_samples, uint16_t tone_hz,
                     int16_t amplitude) {
  static const uint8_t errors[] = {MM_LISTEN_ERROR_NONE, MM_LISTEN_ERROR_CONFIG,
                                   MM_LISTEN_ERROR_NO_FILE, MM_LISTEN_ERROR_NO_TIMER,
                                   MM_LISTEN_ERROR_NO_MIC};
  mm_audio_stop();
  memset(&L, 0, sizeof L);
  q_head = q_tail = 0;
  L.source = source, L.flags = flags;
  L.next_status = MM_AUDIO_RATE;
  /* protocol source ids are mm_audio's (MM_LISTEN_SOURCE_FILE == MM_AUDIO_SRC_FILE, ...) */
  mm_audio_cfg c = {source, (uint8_t)(!(flags & MM_LISTEN_FLAG_UNPACED) || source == MM_AUDIO_SRC_MIC),
                    (uint16_t)app_listen_pipe_hop(), tone_hz, amplitude, max_samples, period_cost(), path};
  if (!(flags & MM_LISTEN_FLAG_AUDIO_ONLY) && !app_listen_pipe_present()) return MM_LISTEN_ERROR_NO_MODEL;
  if (app_listen_pipe_reset(1, &sink) != 0) return MM_LISTEN_ERROR_CONFIG;
  L.stack_size = mm_stack_paint();
  int e = mm_audio_start(&c);
  if (e < 0) return errors[-e < (int)sizeof errors ? -e : 1];
  L.state = MM_LISTEN_STATE_LISTENING;
  L.t_start = mm_cost_now();
  return MM_LISTEN_ERROR_NONE;
}

typedef char mm_listen_sources_match[(MM_LISTEN_SOURCE_FILE == MM_AUDIO_SRC_FILE &&
                                      MM_LISTEN_SOURCE_MIC == MM_AUDIO_SRC_MIC) ? 1 : -1];

int mm_app_listen_handle(uint8_t type, const uint8_t *payload, uint16_t len, mm_app_reply *reply) {
  if (type != MM_MSG_LISTEN) return 0;
  if (len < 1) return mm_app_refuse(reply, MM_ERR_BAD_PAYLOAD, len);
  if (payload[0] == MM_LISTEN_OP_START) {
    if (len < START_BYTES || len > START_BYTES + PATH_BYTES) return mm_app_refuse(reply, MM_ERR_BAD_PAYLOAD, len);
    memcpy(path, payload + START_BYTES, len - START_BYTES);
    path[len - START_BYTES] = 0;
    uint8_t e = start(payload[1], payload[2], mm_proto_get_u32(payload + 4), mm_proto_get_u16(payload + 8),
                      (int16_t)mm_proto_get_u16(payload + 10));
    if (e) {
      mm_audio_stop();
      L.state = MM_LISTEN_STATE_IDLE;
      L.error = e;
    }
  } else if (payload[0] == MM_LISTEN_OP_STOP) {
    if (L.state == MM_LISTEN_STATE_LISTENING) end_run(); /* events and END follow the reply */
  } else if (payload[0] != MM_LISTEN_OP_STATUS) {
    return mm_app_refuse(reply, MM_ERR_BAD_PAYLOAD, payload[0]);
  }
  reply->len = put_status(reply->payload);
  return 1;
}

/* Build options of listening at boot (micromel build --listen-at-boot SOURCE):
 *   MM_LISTEN_AT_BOOT=<MM_LISTEN_SOURCE_*>  listen from power-up, no host needed
 *   MM_LISTEN_BOOT_FLAGS   output flags (default: text lines, for any serial monitor)
 *   MM_LISTEN_BOOT_SAMPLES stop after this many samples (default 0: never)
 *   MM_LISTEN_BOOT_PATH    the FILE source's path (default "mic.pcm", on an emulated board
 *                          relative to QEMU's working directory) */
void mm_app_listen_init(void) {
#ifdef MM_LISTEN_AT_BOOT
#ifndef MM_LISTEN_BOOT_FLAGS
#define MM_LISTEN_BOOT_FLAGS MM_LISTEN_FLAG_TEXT
#endif
#ifndef MM_LISTEN_BOOT_SAMPLES
#define MM_LISTEN_BOOT_SAMPLES 0u
#endif
#ifndef MM_LISTEN_BOOT_PATH
#define MM_LISTEN_BOOT_PATH "mic.pcm"
#endif
  strcpy(path, MM_LISTEN_BOOT_PATH);
  if (start(MM_LISTEN_AT_BOOT, MM_LISTEN_BOOT_FLAGS, MM_LISTEN_BOOT_SAMPLES, MM_AUDIO_TONE_HZ,
            MM_AUDIO_AMPLITUDE)) {
    mm_audio_stop();
    L.state = MM_LISTEN_STATE_IDLE;
  }
#endif
}

int mm_app_listen_info(char *out, int cap) {
  const char *sources =
#if defined(MM_BOARD_SEMIHOSTING) || defined(MM_COST_HOST)
      "file,"
#endif
      "silence,tone,noise"
#ifdef MM_AUDIO_MIC
      ",mic"
#endif
      ;
  /* paced (real-time) file and generator sources need the board's audio timer */
#ifdef MM_AUDIO_TIMER_BASE
  const int paced = period_cost() != 0;
#else
  const int paced = 0;
#endif
  int n = snprintf(out, (size_t)cap,
                   "listen=%d\nlisten_sources=%s\nlisten_paced=%d\naudio_rate=%u\naudio_half=%u\n"
                   "audio_slots=%u\nclock_hz=%lu\n",
                   app_listen_pipe_present(), sources, paced, (unsigned)MM_AUDIO_RATE,
                   (unsigned)MM_AUDIO_HALF, (unsigned)MM_AUDIO_SLOTS, (unsigned long)MM_BOARD_CLOCK_HZ);
  return (n < 0 || n >= cap) ? 0 : n;
}
