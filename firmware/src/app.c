/* micromel firmware application: serial protocol dispatch.
 * Every reply goes out as one frame built in place in tx[]; ERROR frames for
 * input the parser rejected go out of their own small buffer, so tx[] still
 * holds the last reply.
 *
 * Retransmissions (docs/protocol.md, "Retransmission"): a host whose reply was
 * lost or corrupted sends the same frame again (same type, seq and CRC). For the
 * messages that change state (FEATURES, CLASSIFY_AUDIO, STREAM) the device must
 * not process a chunk twice, so a frame identical to the last one processed is
 * answered by sending tx[] again, unprocessed. RESEND asks, with a small frame,
 * for that stored reply (or learns that the frame was never processed, so the
 * host may send its samples again in smaller chunks). Any other processed frame
 * ends that memory. */
#include <stdio.h>
#include <string.h>

#include "mm_app.h"
#include "mm_build_info.h" /* generated: firmware version */
#include "mm_cost.h"
#include "mm_port.h"
#include "mm_proto.h"

static mm_proto_parser parser;
static uint8_t tx[MM_PROTO_FRAME_MAX];
static uint8_t err_tx[MM_PROTO_HEADER_SIZE + 4u + MM_PROTO_CRC_SIZE];

/* The last frame processed, if it may be replayed, and the size of its reply in tx[]. */
static struct {
  uint8_t valid, type, seq;
  uint16_t crc;
  uint16_t reply_len;
} last;
static uint32_t replayed; /* retransmissions answered from tx[] (STATS) */

static int replayable(uint8_t type) {
  return type == MM_MSG_FEATURES || type == MM_MSG_CLASSIFY_AUDIO || type == MM_MSG_STREAM;
}

/* Weak defaults: a firmware without the front end or a model still builds. */
__attribute__((weak)) int mm_app_frontend_handle(uint8_t type, const uint8_t *payload,
                                                 uint16_t len, mm_app_reply *reply) {
  (void)type, (void)payload, (void)len, (void)reply;
  return 0;
}
__attribute__((weak)) int mm_app_model_handle(uint8_t type, const uint8_t *payload, uint16_t len,
                                              mm_app_reply *reply) {
  (void)type, (void)payload, (void)len, (void)reply;
  return 0;
}
/* Ports without a painted stack (host build, fuzzing) report 0. */
__attribute__((weak)) uint32_t mm_port_stack_used(void) { return 0; }
__attribute__((weak)) int mm_app_frontend_info(char *out, int cap) {
  (void)out, (void)cap;
  return 0;
}
__attribute__((weak)) int mm_app_model_info(char *out, int cap) {
  (void)out, (void)cap;
  return 0;
}

static void send_in(uint8_t *buf, uint8_t type, uint8_t seq, uint16_t len) {
  mm_proto_put_header(buf, type, seq, len);
  mm_proto_put_crc(buf, len);
  mm_port_write(buf, (size_t)MM_PROTO_HEADER_SIZE + len + MM_PROTO_CRC_SIZE);
}

static void send(uint8_t type, uint8_t seq, uint16_t len) {
  last.reply_len = len;
  send_in(tx, type, seq, len);
}

/* An ERROR frame: a refused request's reply (in tx[], replayable like any reply), or a
 * rejected frame's report (link = 1: in err_tx[], tx[] keeps the last reply). */
static void send_error_in(uint8_t *buf, uint8_t code, uint8_t seq, uint16_t detail) {
  uint8_t *p = buf + MM_PROTO_HEADER_SIZE;
  p[0] = code;
  p[1] = seq;
  p[2] = (uint8_t)detail;
  p[3] = (uint8_t)(detail >> 8);
  if (buf == tx) {
    send(MM_MSG_ERROR, seq, 4);
  } else {
    send_in(buf, MM_MSG_ERROR, seq, 4);
  }
}

static void send_error(uint8_t code, uint8_t seq, uint16_t detail) { send_error_in(tx, code, seq, detail); }

static uint16_t info_payload(uint8_t *out, size_t cap) {
  int n = snprintf((char *)out, cap,
                   "protocol=%u\n"
                   "firmware=%s\n"
                   "target=%s\n"
                   "core=%s\n"
                   "counter_unit=%s\n"
                   "counter_num=%lu\n"
                   "counter_den=%lu\n"
                   "max_payload=%u\n"
                   "replay=1\n"
                   "compiler=%s\n",
                   (unsigned)MM_PROTO_VERSION, MM_FIRMWARE_VERSION, mm_port_target,
                   mm_port_core, mm_cost_unit, (unsigned long)mm_cost_num,
                   (unsigned long)mm_cost_den, (unsigned)MM_PROTO_MAX_PAYLOAD, __VERSION__);
  if (n < 0) return 0;
  size_t used = (size_t)n < cap ? (size_t)n : cap - 1;
  used += (size_t)mm_app_frontend_info((char *)out + used, (int)(cap - used));
  used += (size_t)mm_app_model_info((char *)out + used, (int)(cap - used));
  used += (size_t)mm_app_audio_info((char *)out + used, (int)(cap - used));
  used += (size_t)mm_app_listen_info((char *)out + used, (int)(cap - used));
  return (uint16_t)used;
}

static void handle_frame(uint8_t type, uint8_t seq, const uint8_t *payload, uint16_t len) {
  uint8_t *out = tx + MM_PROTO_HEADER_SIZE;
  uint8_t reply = (uint8_t)(type | MM_PROTO_REPLY_BIT);
  switch (type) {
    case MM_MSG_PING:
      memmove(out, payload, len);
      send(reply, seq, len);
      break;
    case MM_MSG_INFO:
      send(reply, seq, info_payload(out, MM_PROTO_MAX_PAYLOAD));
      break;
    case MM_MSG_STATS: {
      const mm_proto_stats *s = &parser.stats;
      mm_proto_put_u32(out + 0, s->frames);
      mm_proto_put_u32(out + 4, s->bad_header);
      mm_proto_put_u32(out + 8, s->too_long);
      mm_proto_put_u32(out + 12, s->bad_crc);
      mm_proto_put_u32(out + 16, s->truncated);
      mm_proto_put_u32(out + 20, s->skipped_bytes);
      mm_proto_put_u32(out + 24, replayed);
      mm_proto_put_u32(out + 28, mm_port_stack_used());
      send(reply, seq, 32);
      break;
    }
    default: {
      mm_app_reply r = {out, 0, 0, 0};
      if (mm_app_frontend_handle(type, payload, len, &r) || mm_app_model_handle(type, payload, len, &r) ||
          mm_app_audio_handle(type, payload, len, &r) || mm_app_listen_handle(type, payload, len, &r)) {
        if (r.error) {
          send_error(r.error, seq, r.detail);
        } else {
          send(reply, seq, r.len);
        }
      } else if (type == MM_MSG_BENCH) { /* a known message, a part no group has */
        send_error(MM_ERR_BAD_PAYLOAD, seq, len ? payload[0] : 0xFFFFu);
      } else {
        send_error(MM_ERR_UNKNOWN_TYPE, seq, type);
      }
      break;
    }
  }
}

static int is_last(uint8_t type, uint8_t seq, uint16_t crc) {
  return last.valid && last.type == type && last.seq == seq && last.crc == crc;
}

static void replay(void) {
  replayed++;
  mm_port_write(tx, (size_t)MM_PROTO_HEADER_SIZE + last.reply_len + MM_PROTO_CRC_SIZE);
}

/* RESEND: u8 type, u8 seq, u16 crc of a frame. The stored reply if that frame was the
 * last one processed, else a RESEND reply [0] (never processed). tx[] and the memory stay. */
static void resend(uint8_t seq, const uint8_t *payload, uint16_t len) {
  if (len == 4 && is_last(payload[0], payload[1], mm_proto_get_u16(payload + 2))) {
    replay();
    return;
  }
  if (len != 4) {
    send_error_in(err_tx, MM_ERR_BAD_PAYLOAD, seq, len);
    return;
  }
  err_tx[MM_PROTO_HEADER_SIZE] = 0;
  send_in(err_tx, MM_MSG_RESEND | MM_PROTO_REPLY_BIT, seq, 1);
}

/* A valid frame: replay the stored reply if it is a retransmission of the last frame
 * processed, else process it (and remember it if it changes state). */
static void on_frame(void) {
  const uint8_t type = parser.type, seq = parser.seq;
  if (type == MM_MSG_RESEND) {
    resend(seq, parser.payload, parser.len);
    return;
  }
  if (replayable(type) && is_last(type, seq, parser.crc)) {
    replay();
    return;
  }
  last.valid = 0;
  handle_frame(type, seq, parser.payload, parser.len);
  if (replayable(type)) {
    last.type = type;
    last.seq = seq;
    last.crc = parser.crc;
    last.valid = 1;
  }
}

static void drain(void) {
  for (;;) {
    mm_proto_event ev = mm_proto_poll(&parser);
    if (ev == MM_PROTO_NONE) return;
    if (ev == MM_PROTO_FRAME) {
      on_frame();
    } else {
      send_error_in(err_tx, parser.error, parser.err_seq, parser.err_detail);
    }
  }
}

void mm_app_init(void) {
  mm_proto_init(&parser);
  last.valid = 0;
  replayed = 0;
  mm_app_listen_init();
}

int mm_app_poll(void) {
  uint8_t type = 0;
  mm_app_reply r = {tx + MM_PROTO_HEADER_SIZE, 0, 0, 0};
  int what = mm_app_listen_poll(&r, &type);
  if (what != MM_APP_OUT_IDLE) {
    last.valid = 0; /* tx[] now holds listening output, not the last reply */
  }
  if (what == MM_APP_OUT_FRAME) {
    send(type, 0, r.len); /* unsolicited: SEQ 0 */
  } else if (what == MM_APP_OUT_TEXT) {
    mm_port_write(r.payload, r.len);
  }
  return what != MM_APP_OUT_IDLE;
}

void mm_app_rx(uint8_t byte) {
  mm_proto_feed(&parser, byte);
  drain();
}

void mm_app_idle(void) {
  if (!mm_proto_pending(&parser)) return;
  mm_proto_idle(&parser);
  drain();
}
