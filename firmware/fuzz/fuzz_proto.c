/* libFuzzer target: the protocol parser (firmware/lib/mm_proto) on any byte stream.
 * Byte 0 of the input sets how often the link "goes idle" (mm_proto_idle) between bytes,
 * the rest is the stream. Checks the parser's promises: it never buffers more than one
 * frame, a frame it returns is within max_payload and its CRC is right, and every byte
 * fed is accounted for. ASan/UBSan catch the rest. Built by scripts/fuzz.sh. */
#include <stdint.h>
#include <stdlib.h>

#include "mm_proto.h"

#define CHECK(c) do { if (!(c)) abort(); } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static mm_proto_parser p;
  if (size < 1) return 0;
  const unsigned idle_every = data[0]; /* 0: never idle */
  mm_proto_init(&p);
  for (size_t i = 1; i <= size; i++) {
    if (i < size) {
      CHECK(mm_proto_feed(&p, data[i]) == 0); /* polled after every byte: never full */
    } else {
      mm_proto_idle(&p);
    }
    if (idle_every && i % idle_every == 0) mm_proto_idle(&p);
    for (;;) {
      mm_proto_event e = mm_proto_poll(&p);
      if (e == MM_PROTO_NONE) break;
      CHECK(p.fill <= MM_PROTO_FRAME_MAX);
      if (e == MM_PROTO_FRAME) {
        CHECK(p.len <= MM_PROTO_MAX_PAYLOAD);
        CHECK(p.payload == p.buf + MM_PROTO_HEADER_SIZE);
        CHECK(mm_proto_crc16(p.buf + 2, MM_PROTO_HEADER_SIZE - 2 + p.len, 0xFFFFu) == p.crc);
      } else {
        CHECK(p.error >= MM_ERR_BAD_HEADER_CRC && p.error <= MM_ERR_TRUNCATED);
      }
    }
  }
  CHECK(p.stats.frames <= size / (MM_PROTO_HEADER_SIZE + MM_PROTO_CRC_SIZE) + 1);
  return 0;
}
