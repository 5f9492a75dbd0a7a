/* Framed serial protocol v1: parser and encoder (spec: docs/protocol.md).
 *
 * The parser is fed one byte at a time and polled for events. It never
 * allocates, never blocks and never writes past its fixed buffer: a frame
 * whose header announces more than MM_PROTO_MAX_PAYLOAD bytes is rejected as
 * soon as its header is complete. After any bad header or CRC it drops the
 * first byte of the candidate frame and rescans what it has buffered, so a
 * valid frame that arrived behind garbage is still found. */
#ifndef MM_PROTO_H
#define MM_PROTO_H

#include <stddef.h>
#include <stdint.h>

#include "mm_proto_ids.h" /* generated from python/micromel/protocol.py */

#define MM_PROTO_FRAME_MAX (MM_PROTO_HEADER_SIZE + MM_PROTO_MAX_PAYLOAD + MM_PROTO_CRC_SIZE)

typedef enum {
  MM_PROTO_NONE = 0,  /* nothing more to report until more bytes arrive */
  MM_PROTO_FRAME = 1, /* a valid frame: type, seq, len, payload are set */
  MM_PROTO_ERROR = 2  /* a rejected frame: error, err_seq, err_detail are set */
} mm_proto_event;

typedef struct {
  uint32_t frames;        /* valid frames */
  uint32_t bad_header;    /* header CRC failures */
  uint32_t too_long;      /* headers announcing too large a payload */
  uint32_t bad_crc;       /* payload CRC failures */
  uint32_t truncated;     /* partial frames dropped on idle */
  uint32_t skipped_bytes; /* bytes discarded while looking for a frame */
} mm_proto_stats;

typedef struct {
  uint8_t buf[MM_PROTO_FRAME_MAX];
  uint32_t fill;
  /* set on MM_PROTO_FRAME, valid until the next feed/poll */
  uint8_t type;
  uint8_t seq;
  uint16_t len;
  uint16_t crc; /* the frame's CRC-16: with type and seq, what identifies a retransmission */
  const uint8_t *payload;
  uint32_t consumed; /* bytes of the last returned frame, removed on next call */
  /* set on MM_PROTO_ERROR */
  uint8_t error;
  uint8_t err_seq;
  uint16_t err_detail;
  uint8_t idle_error; /* a truncation from mm_proto_idle awaits the next poll */
  mm_proto_stats stats;
} mm_proto_parser;

void mm_proto_init(mm_proto_parser *p);

/* Append one received byte. Returns 0, or -1 if the byte was discarded because
 * the buffer holds an unpolled complete frame (call mm_proto_poll first). */
int mm_proto_feed(mm_proto_parser *p, uint8_t byte);

/* Advance the parser over the buffered bytes. Call until it returns
 * MM_PROTO_NONE after every feed. */
mm_proto_event mm_proto_poll(mm_proto_parser *p);

/* Tell the parser the link has been idle for MM_PROTO_IDLE_TIMEOUT_MS. A
 * partial frame is dropped (reported as MM_ERR_TRUNCATED by the next poll). */
void mm_proto_idle(mm_proto_parser *p);

/* True if bytes of an incomplete frame are buffered. */
int mm_proto_pending(const mm_proto_parser *p);

/* Write a frame into out[cap]. Returns its size, or 0 if it does not fit. */
size_t mm_proto_encode(uint8_t *out, size_t cap, uint8_t type, uint8_t seq,
                       const uint8_t *payload, uint16_t len);

/* Incremental encoding for replies built in place: header, then payload bytes
 * written by the caller at out + MM_PROTO_HEADER_SIZE, then the trailer. */
void mm_proto_put_header(uint8_t *out, uint8_t type, uint8_t seq, uint16_t len);
void mm_proto_put_crc(uint8_t *out, uint16_t len);

/* CRC-8/SMBUS of the header, CRC-16/CCITT-FALSE of the frame (mm_proto_crc.c). */
uint8_t mm_proto_crc8(const uint8_t *data, size_t n, uint8_t crc);
uint16_t mm_proto_crc16(const uint8_t *data, size_t n, uint16_t crc);

/* Little-endian payload fields: every multi-byte field of the protocol. Byte by byte, so
 * the pointer may be unaligned and the core's own byte order does not matter. */
static inline void mm_proto_put_u16(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)v;
  p[1] = (uint8_t)(v >> 8);
}
static inline void mm_proto_put_u32(uint8_t *p, uint32_t v) {
  mm_proto_put_u16(p, v);
  mm_proto_put_u16(p + 2, v >> 16);
}
static inline void mm_proto_put_u64(uint8_t *p, uint64_t v) {
  mm_proto_put_u32(p, (uint32_t)v);
  mm_proto_put_u32(p + 4, (uint32_t)(v >> 32));
}
static inline uint16_t mm_proto_get_u16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static inline uint32_t mm_proto_get_u32(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

#endif
