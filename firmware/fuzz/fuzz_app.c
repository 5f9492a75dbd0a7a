/* libFuzzer target: the firmware application (src/app*.c) with a model, fed whole frames:
 * the chunk handling of STREAM and CLASSIFY_AUDIO (flags, chunk indexes, odd lengths,
 * padding, a clip message inside a stream, retransmissions), FEATURES, CLASSIFY_FEATURES,
 * MODEL_TAP slices, PING/INFO/STATS and raw garbage between frames.
 *
 * Input: records of [u8 op][u8 seq][u16 len][len bytes]. op selects a message type from
 * TYPES (or, past the table, raw bytes sent as they are; or an idle timeout); the record's
 * bytes become the payload of a frame with a correct CRC, so the fuzzer reaches the
 * handlers instead of stopping at the CRC. The reply stream must parse as valid frames. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mm_app.h"
#include "mm_port.h"
#include "mm_proto.h"

#define CHECK(c) do { if (!(c)) abort(); } while (0)

const char mm_port_target[] = "fuzz";
const char mm_port_core[] = "host";

/* Every reply the application writes goes through a host-side parser: it must be whole,
 * valid frames (the device never sends garbage). */
static mm_proto_parser replies;

void mm_port_write(const uint8_t *data, size_t n) {
  for (size_t i = 0; i < n; i++) {
    CHECK(mm_proto_feed(&replies, data[i]) == 0);
    for (;;) {
      mm_proto_event e = mm_proto_poll(&replies);
      if (e == MM_PROTO_NONE) break;
      CHECK(e == MM_PROTO_FRAME);
    }
  }
}

/* Not BENCH or MODEL_TAP op 2: they run a second of audio or N inferences per message,
 * costs no input controls that only slow the fuzzer down (their parsing is a few bytes). */
static const uint8_t TYPES[] = {MM_MSG_STREAM, MM_MSG_CLASSIFY_AUDIO, MM_MSG_FEATURES,
                                MM_MSG_FEATURES_RESET, MM_MSG_CLASSIFY_FEATURES, MM_MSG_PING,
                                MM_MSG_INFO, MM_MSG_STATS, MM_MSG_MODEL_TAP, 0x55};
#define N_TYPES (sizeof TYPES)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static uint8_t frame[MM_PROTO_FRAME_MAX];
  mm_proto_init(&replies);
  mm_app_init();
  /* a fresh clip and front end for every input: the run depends on the input alone */
  static const uint8_t start_clip[] = {MM_AUDIO_FLAG_START};
  size_t n = mm_proto_encode(frame, sizeof frame, MM_MSG_CLASSIFY_AUDIO, 0, start_clip, 1);
  for (size_t i = 0; i < n; i++) mm_app_rx(frame[i]);
  n = mm_proto_encode(frame, sizeof frame, MM_MSG_FEATURES_RESET, 0, NULL, 0);
  for (size_t i = 0; i < n; i++) mm_app_rx(frame[i]);
  size_t pos = 0;
  while (pos + 4 <= size) {
    uint8_t op = data[pos], seq = data[pos + 1];
    size_t len = (size_t)(data[pos + 2] | data[pos + 3] << 8);
    pos += 4;
    if (len > size - pos) len = size - pos;
    if (len > MM_PROTO_MAX_PAYLOAD) len = MM_PROTO_MAX_PAYLOAD;
    const uint8_t *body = data + pos;
    pos += len;
    if (op % 16 < N_TYPES) {
      uint8_t type = TYPES[op % 16];
      if (type == MM_MSG_MODEL_TAP && len >= 1 && body[0] == MM_TAP_RANDOM) continue;
      n = mm_proto_encode(frame, sizeof frame, type, seq, body, (uint16_t)len);
      /* op bit 4: send the frame twice (a retransmission) */
      for (int k = 0; k < 1 + ((op >> 4) & 1); k++) {
        for (size_t i = 0; i < n; i++) mm_app_rx(frame[i]);
      }
    } else if (op % 16 == 15) {
      mm_app_idle();
    } else {
      for (size_t i = 0; i < len; i++) mm_app_rx(body[i]);
    }
  }
  mm_app_idle();
  return 0;
}
