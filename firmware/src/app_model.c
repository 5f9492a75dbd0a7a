/* Model messages: CLASSIFY_FEATURES (int8 features in, int8 scores out),
 * MODEL_TAP (layer-by-layer checks) and BENCH part 2 (instructions per
 * inference and per layer). Byte layouts: docs/protocol.md. */
#include <stdio.h>
#include <string.h>

#include "mm_app.h"
#include "mm_cost.h"
#include "mm_nn_model.h"
#include "mm_proto.h"


#if MM_MODEL_PRESENT

#define RECORD_BYTES (MM_MODEL_OUTPUT_BYTES + 4u * MM_MODEL_N_LAYERS)

/* xorshift32: the random inputs of MODEL_TAP (twin in engine/runner.py). */
static uint32_t xorshift32(uint32_t x) {
  x ^= x << 13;
  x ^= x >> 17;
  x ^= x << 5;
  return x;
}

static uint32_t random_input(uint32_t state, int8_t *dst) {
  uint32_t i;
  for (i = 0; i < MM_MODEL_INPUT_BYTES; i += 4) {
    uint8_t b[4];
    state = xorshift32(state);
    mm_proto_put_u32(b, state);
    memcpy(dst + i, b, MM_MODEL_INPUT_BYTES - i < 4 ? MM_MODEL_INPUT_BYTES - i : 4);
  }
  return state;
}

/* One inference with per-layer CRCs: scores then the CRCs into out. */
static void run_record(uint8_t *out) {
  uint32_t crcs[MM_MODEL_N_LAYERS];
  int i;
  mm_nn_model_tap_crc(crcs);
  memcpy(out, mm_nn_model_run(), MM_MODEL_OUTPUT_BYTES);
  for (i = 0; i < MM_MODEL_N_LAYERS; i++) mm_proto_put_u32(out + MM_MODEL_OUTPUT_BYTES + 4 * i, crcs[i]);
}

static int classify(const uint8_t *payload, uint16_t len, mm_app_reply *reply) {
  uint8_t *out = reply->payload;
  uint16_t n, i;
  if (len == 0 || len % MM_MODEL_INPUT_BYTES) {
    return mm_app_refuse(reply, MM_ERR_BAD_PAYLOAD, (uint16_t)MM_MODEL_INPUT_BYTES);
  }
  n = (uint16_t)(len / MM_MODEL_INPUT_BYTES);
  for (i = 0; i < n; i++) {
    memcpy(mm_nn_model_input(), payload + (uint32_t)i * MM_MODEL_INPUT_BYTES,
           MM_MODEL_INPUT_BYTES);
    memcpy(out + (uint32_t)i * MM_MODEL_OUTPUT_BYTES, mm_nn_model_run(), MM_MODEL_OUTPUT_BYTES);
  }
  reply->len = (uint16_t)(n * MM_MODEL_OUTPUT_BYTES);
  return 1;
}

static int tap(const uint8_t *payload, uint16_t len, mm_app_reply *reply) {
  uint8_t *out = reply->payload;
  uint32_t n, i;
  if (len >= 1 && payload[0] == MM_TAP_CRC && len > 1 && (len - 1u) % MM_MODEL_INPUT_BYTES == 0) {
    n = (len - 1u) / MM_MODEL_INPUT_BYTES;
    if (n * RECORD_BYTES <= MM_PROTO_MAX_PAYLOAD) {
      for (i = 0; i < n; i++) {
        memcpy(mm_nn_model_input(), payload + 1 + i * MM_MODEL_INPUT_BYTES, MM_MODEL_INPUT_BYTES);
        run_record(out + i * RECORD_BYTES);
      }
      reply->len = (uint16_t)(n * RECORD_BYTES);
      return 1;
    }
  } else if (len == 7 && payload[0] == MM_TAP_RANDOM) {
    uint32_t state = mm_proto_get_u32(payload + 1);
    n = mm_proto_get_u16(payload + 5);
    if (state != 0 && n * RECORD_BYTES <= MM_PROTO_MAX_PAYLOAD) {
      for (i = 0; i < n; i++) {
        state = random_input(state, mm_nn_model_input());
        run_record(out + i * RECORD_BYTES);
      }
      reply->len = (uint16_t)(n * RECORD_BYTES);
      return 1;
    }
  } else if (len == 9 + MM_MODEL_INPUT_BYTES && payload[0] == MM_TAP_SLICE) {
    int layer = mm_proto_get_u16(payload + 1);
    uint32_t offset = mm_proto_get_u32(payload + 3), count = mm_proto_get_u16(payload + 7);
    uint32_t size = mm_nn_model_layer_bytes(layer);
    if (size && offset <= size && count <= size - offset && count <= MM_PROTO_MAX_PAYLOAD) {
      memcpy(mm_nn_model_input(), payload + 9, MM_MODEL_INPUT_BYTES);
      mm_nn_model_tap_slice(layer, offset, count, (int8_t *)out);
      mm_nn_model_run();
      reply->len = (uint16_t)count;
      return 1;
    }
  }
  return mm_app_refuse(reply, MM_ERR_BAD_PAYLOAD, len);
}

/* A stream of xorshift32 rows (MM_MODEL_INPUT_BYTES / MM_MODEL_INPUT_H bytes each) seen
 * through k windows sliding by hop rows: the first k - 1 windows run, the window w is
 * left in the model input for the caller to run. */
#define ROW_BYTES (MM_MODEL_INPUT_BYTES / MM_MODEL_INPUT_H)
static uint32_t random_rows(uint32_t state, int8_t *dst, uint32_t rows) {
  uint32_t i;
  for (i = 0; i < rows * ROW_BYTES; i++) {
    state = xorshift32(state);
    dst[i] = (int8_t)(state >> 24);
  }
  return state;
}

static void slide(uint32_t k, uint32_t hop, int8_t *win) {
  uint32_t state = 1u, j;
  mm_nn_model_stream_reset();
  state = random_rows(state, win, MM_MODEL_INPUT_H);
  for (j = 0; j < k; j++) {
    if (j) {
      memmove(win, win + hop * ROW_BYTES, (MM_MODEL_INPUT_H - hop) * ROW_BYTES);
      state = random_rows(state, win + (MM_MODEL_INPUT_H - hop) * ROW_BYTES, hop);
    }
    memcpy(mm_nn_model_input(), win, MM_MODEL_INPUT_BYTES);
    if (j + 1 < k) mm_nn_model_run();
  }
}

/* BENCH part 2: one run as is (total), one with per-layer costs. Raw
 * mm_cost counts; INFO's counter_num/den convert them. With u8 k, u8 hop: the
 * k-th of k windows sliding by hop rows over a random stream (what a streaming
 * export reuses from the windows before). */
static int bench(const uint8_t *payload, uint16_t len, mm_app_reply *reply) {
  static uint64_t costs[MM_MODEL_N_LAYERS];
  uint8_t *out = reply->payload;
  uint64_t t0, total;
  int i;
  const int sliding = len == 3 && payload[1] >= 1 && payload[2] >= 1 &&
                      payload[2] < MM_MODEL_INPUT_H && MM_MODEL_INPUT_BYTES <= MM_PROTO_MAX_PAYLOAD;
  if (sliding) {
    slide(payload[1], payload[2], (int8_t *)out);
  } else if (len == 1 + MM_MODEL_INPUT_BYTES) {
    memcpy(mm_nn_model_input(), payload + 1, MM_MODEL_INPUT_BYTES);
  } else if (len == 1) {
    random_input(1u, mm_nn_model_input());
  } else {
    return mm_app_refuse(reply, MM_ERR_BAD_PAYLOAD, len);
  }
  t0 = mm_cost_now();
  mm_nn_model_run();
  total = mm_cost_now() - t0;
  if (sliding) {
    slide(payload[1], payload[2], (int8_t *)out);
  } else if (len == 1) {
    random_input(1u, mm_nn_model_input());
  } else {
    memcpy(mm_nn_model_input(), payload + 1, MM_MODEL_INPUT_BYTES);
  }
  memset(costs, 0, sizeof costs);
  mm_nn_model_profile(costs);
  mm_nn_model_run();
  mm_nn_model_profile(0);
  out[0] = MM_BENCH_PART_MODEL;
  out[1] = 0;
  mm_proto_put_u16(out + 2, MM_MODEL_N_LAYERS);
  mm_proto_put_u64(out + 4, total);
  for (i = 0; i < MM_MODEL_N_LAYERS; i++) mm_proto_put_u64(out + 12 + 8 * i, costs[i]);
  reply->len = (uint16_t)(12 + 8 * MM_MODEL_N_LAYERS);
  return 1;
}

int mm_app_model_handle(uint8_t type, const uint8_t *payload, uint16_t len, mm_app_reply *reply) {
  switch (type) {
    case MM_MSG_CLASSIFY_FEATURES:
      return classify(payload, len, reply);
    case MM_MSG_MODEL_TAP:
      return tap(payload, len, reply);
    case MM_MSG_BENCH:
      if (len < 1 || payload[0] != MM_BENCH_PART_MODEL) return 0;
      return bench(payload, len, reply);
    default:
      return 0;
  }
}

int mm_app_model_info(char *out, int cap) {
  int n = snprintf(out, (size_t)cap,
                   "model=%s\nmodel_hash=%s\nlabels=%s\nn_classes=%u\ninput_shape=%ux%ux%u\n"
                   "arena_bytes=%lu\nmodel_layers=%u\nmodel_macs=%lu\nkernels=%s\n",
                   MM_MODEL_NAME, MM_MODEL_HASH, MM_MODEL_LABELS, (unsigned)MM_MODEL_N_CLASSES,
                   (unsigned)MM_MODEL_INPUT_H, (unsigned)MM_MODEL_INPUT_W,
                   (unsigned)MM_MODEL_INPUT_C, (unsigned long)MM_MODEL_ARENA_BYTES,
                   (unsigned)MM_MODEL_N_LAYERS, (unsigned long)MM_MODEL_MACS, mm_nn_model_kernels);
  if (n < 0) return 0;
  return n < cap ? n : cap - 1;
}

#else /* no model in this firmware */

int mm_app_model_handle(uint8_t type, const uint8_t *payload, uint16_t len, mm_app_reply *reply) {
  if (type == MM_MSG_CLASSIFY_FEATURES || type == MM_MSG_MODEL_TAP ||
      (type == MM_MSG_BENCH && len >= 1 && payload[0] == MM_BENCH_PART_MODEL)) {
    return mm_app_refuse(reply, MM_ERR_UNSUPPORTED, type);
  }
  return 0;
}

int mm_app_model_info(char *out, int cap) {
  int n = snprintf(out, (size_t)cap, "model=none\n");
  if (n < 0) return 0;
  return n < cap ? n : cap - 1;
}

#endif
