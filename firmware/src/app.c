/* micromel firmware application: serial protocol dispatch.
 * Every reply goes out as one frame built in place in tx[]. */
#include <stdio.h>
#include <string.h>

#include "mm_app.h"
#include "mm_build_info.h" /* generated: firmware version */
#include "mm_cost.h"
#include "mm_port.h"
#include "mm_proto.h"

static mm_proto_parser parser;
static uint8_t tx[MM_PROTO_FRAME_MAX];

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
__attribute__((weak)) int mm_app_frontend_info(char *out, int cap) {
  (void)out, (void)cap;
  return 0;
}
__attribute__((weak)) int mm_app_model_info(char *out, int cap) {
  (void)out, (void)cap;
  return 0;
}

static void send(uint8_t type, uint8_t seq, uint16_t len) {
  mm_proto_put_header(tx, type, seq, len);
  mm_proto_put_crc(tx, len);
  mm_port_write(tx, (size_t)MM_PROTO_HEADER_SIZE + len + MM_PROTO_CRC_SIZE);
}

static void send_error(uint8_t code, uint8_t seq, uint16_t detail) {
  uint8_t *p = tx + MM_PROTO_HEADER_SIZE;
  p[0] = code;
  p[1] = seq;
  p[2] = (uint8_t)detail;
  p[3] = (uint8_t)(detail >> 8);
  send(MM_MSG_ERROR, seq, 4);
}

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
      send(reply, seq, 24);
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
      } else {
        send_error(MM_ERR_UNKNOWN_TYPE, seq, type);
      }
      break;
    }
  }
}

static void drain(void) {
  for (;;) {
    mm_proto_event ev = mm_proto_poll(&parser);
    if (ev == MM_PROTO_NONE) return;
    if (ev == MM_PROTO_FRAME) {
      handle_frame(parser.type, parser.seq, parser.payload, parser.len);
    } else {
      send_error(parser.error, parser.err_seq, parser.err_detail);
    }
  }
}

void mm_app_init(void) {
  mm_proto_init(&parser);
  mm_app_listen_init();
}

int mm_app_poll(void) {
  uint8_t type = 0;
  mm_app_reply r = {tx + MM_PROTO_HEADER_SIZE, 0, 0, 0};
  int what = mm_app_listen_poll(&r, &type);
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
