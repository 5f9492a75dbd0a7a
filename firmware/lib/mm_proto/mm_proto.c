#include "mm_proto.h"

#include <string.h>

void mm_proto_init(mm_proto_parser *p) { memset(p, 0, sizeof(*p)); }

/* Remove the first n buffered bytes. */
static void drop(mm_proto_parser *p, uint32_t n) {
  if (n >= p->fill) {
    p->fill = 0;
    return;
  }
  memmove(p->buf, p->buf + n, p->fill - n);
  p->fill -= n;
}

static mm_proto_event fail(mm_proto_parser *p, uint8_t code, uint8_t seq, uint16_t detail) {
  p->error = code;
  p->err_seq = seq;
  p->err_detail = detail;
  drop(p, 1); /* the sync byte of the rejected candidate; rescan the rest */
  return MM_PROTO_ERROR;
}

int mm_proto_feed(mm_proto_parser *p, uint8_t byte) {
  if (p->consumed) {
    drop(p, p->consumed);
    p->consumed = 0;
  }
  if (p->fill >= MM_PROTO_FRAME_MAX) {
    return -1; /* cannot happen if the caller polls after each feed */
  }
  p->buf[p->fill++] = byte;
  return 0;
}

int mm_proto_pending(const mm_proto_parser *p) { return p->fill > p->consumed; }

void mm_proto_idle(mm_proto_parser *p) {
  if (p->consumed) {
    drop(p, p->consumed);
    p->consumed = 0;
  }
  if (p->fill > 0) {
    p->stats.truncated++;
    p->error = MM_ERR_TRUNCATED;
    p->err_seq = p->fill > 3 ? p->buf[3] : 0;
    p->err_detail = (uint16_t)p->fill;
    drop(p, 1);
    p->idle_error = 1; /* reported by the next poll */
  }
}

mm_proto_event mm_proto_poll(mm_proto_parser *p) {
  if (p->consumed) {
    drop(p, p->consumed);
    p->consumed = 0;
  }
  if (p->idle_error) {
    p->idle_error = 0;
    return MM_PROTO_ERROR;
  }
  for (;;) {
    /* find SYNC0 SYNC1 at the start of the buffer */
    uint32_t i = 0;
    while (i < p->fill && p->buf[i] != MM_PROTO_SYNC0) i++;
    if (i) {
      p->stats.skipped_bytes += i;
      drop(p, i);
    }
    if (p->fill < 2) return MM_PROTO_NONE;
    if (p->buf[1] != MM_PROTO_SYNC1) {
      p->stats.skipped_bytes++;
      drop(p, 1);
      continue;
    }
    if (p->fill < MM_PROTO_HEADER_SIZE) return MM_PROTO_NONE;
    if (mm_proto_crc8(p->buf + 2, 4, 0) != p->buf[6]) {
      p->stats.bad_header++;
      return fail(p, MM_ERR_BAD_HEADER_CRC, 0, 0);
    }
    uint16_t len = (uint16_t)(p->buf[4] | (p->buf[5] << 8));
    if (len > MM_PROTO_MAX_PAYLOAD) {
      p->stats.too_long++;
      return fail(p, MM_ERR_TOO_LONG, p->buf[3], (uint16_t)MM_PROTO_MAX_PAYLOAD);
    }
    uint32_t total = MM_PROTO_HEADER_SIZE + (uint32_t)len + MM_PROTO_CRC_SIZE;
    if (p->fill < total) return MM_PROTO_NONE;
    uint16_t crc = (uint16_t)(p->buf[total - 2] | (p->buf[total - 1] << 8));
    if (mm_proto_crc16(p->buf + 2, MM_PROTO_HEADER_SIZE - 2 + len, 0xFFFFu) != crc) {
      p->stats.bad_crc++;
      return fail(p, MM_ERR_BAD_CRC, p->buf[3], 0);
    }
    p->type = p->buf[2];
    p->seq = p->buf[3];
    p->len = len;
    p->crc = crc;
    p->payload = p->buf + MM_PROTO_HEADER_SIZE;
    p->consumed = total;
    p->stats.frames++;
    return MM_PROTO_FRAME;
  }
}

void mm_proto_put_header(uint8_t *out, uint8_t type, uint8_t seq, uint16_t len) {
  out[0] = MM_PROTO_SYNC0;
  out[1] = MM_PROTO_SYNC1;
  out[2] = type;
  out[3] = seq;
  out[4] = (uint8_t)(len & 0xFFu);
  out[5] = (uint8_t)(len >> 8);
  out[6] = mm_proto_crc8(out + 2, 4, 0);
}

void mm_proto_put_crc(uint8_t *out, uint16_t len) {
  uint16_t crc = mm_proto_crc16(out + 2, MM_PROTO_HEADER_SIZE - 2 + len, 0xFFFFu);
  out[MM_PROTO_HEADER_SIZE + len] = (uint8_t)(crc & 0xFFu);
  out[MM_PROTO_HEADER_SIZE + len + 1] = (uint8_t)(crc >> 8);
}

size_t mm_proto_encode(uint8_t *out, size_t cap, uint8_t type, uint8_t seq,
                       const uint8_t *payload, uint16_t len) {
  size_t total = (size_t)MM_PROTO_HEADER_SIZE + len + MM_PROTO_CRC_SIZE;
  if (total > cap) return 0;
  mm_proto_put_header(out, type, seq, len);
  if (len) memmove(out + MM_PROTO_HEADER_SIZE, payload, len);
  mm_proto_put_crc(out, len);
  return total;
}
