/* Host port: the firmware application and the protocol parser as a shared
 * library, driven from Python through ctypes (python/micromel/link/host.py).
 * Bytes the application writes are collected in out[] for mm_host_read. */
#include <stdio.h>
#include <string.h>

#include "mm_app.h"
#include "mm_audio.h"
#include "mm_port.h"
#include "mm_proto.h"

const char mm_port_target[] = MM_TARGET_NAME;
const char mm_port_core[] = MM_CORE_NAME;

#define HOST_OUT_SIZE (1u << 20)
static uint8_t out[HOST_OUT_SIZE];
static size_t out_fill;
static size_t out_lost;

void mm_port_write(const uint8_t *data, size_t n) {
  size_t room = HOST_OUT_SIZE - out_fill;
  size_t k = n < room ? n : room;
  memcpy(out + out_fill, data, k);
  out_fill += k;
  out_lost += n - k;
}

/* --- the application ------------------------------------------------------ */
void mm_host_app_init(void) {
  out_fill = 0;
  out_lost = 0;
  mm_app_init();
}

void mm_host_app_rx(const uint8_t *data, size_t n) {
  for (size_t i = 0; i < n; i++) mm_app_rx(data[i]);
}

void mm_host_app_idle(void) { mm_app_idle(); }

/* Turns of the main loop: the app's listening work (unpaced sources only: the host build
 * has no board clock). Returns how many turns found the app listening. */
int mm_host_app_poll(int turns) {
  int busy = 0;
  for (int i = 0; i < turns; i++) busy += mm_app_poll();
  return busy;
}

/* The FILE source of mm_audio reads host files with stdio here. */
#define HOST_FILES 4
static FILE *files[HOST_FILES];

int mm_port_file_open(const char *path) {
  for (int i = 0; i < HOST_FILES; i++) {
    if (!files[i]) {
      files[i] = fopen(path, "rb");
      return files[i] ? i : -1;
    }
  }
  return -1;
}

uint32_t mm_port_file_read(int fd, void *buf, uint32_t n) {
  return (fd >= 0 && fd < HOST_FILES && files[fd]) ? (uint32_t)fread(buf, 1, n, files[fd]) : 0u;
}

void mm_port_file_close(int fd) {
  if (fd >= 0 && fd < HOST_FILES && files[fd]) fclose(files[fd]);
  if (fd >= 0 && fd < HOST_FILES) files[fd] = NULL;
}

/* Copy out up to cap bytes of what the application wrote; returns the count. */
size_t mm_host_app_read(uint8_t *dst, size_t cap) {
  size_t k = out_fill < cap ? out_fill : cap;
  memcpy(dst, out, k);
  memmove(out, out + k, out_fill - k);
  out_fill -= k;
  return k;
}

size_t mm_host_app_lost(void) { return out_lost; }

/* --- the parser alone, for unit tests ------------------------------------- */
static mm_proto_parser test_parser;

void mm_host_parser_init(void) { mm_proto_init(&test_parser); }

/* Feed n bytes (and an idle timeout after them if idle != 0). Each event is
 * written to ev[] as 8 bytes: kind (1 frame, 2 error), type or error code,
 * seq, detail/len lo, hi, and 3 zero bytes. Returns the number of events. */
size_t mm_host_parser_run(const uint8_t *data, size_t n, int idle, uint8_t *ev, size_t max_ev) {
  size_t count = 0;
  for (size_t i = 0; i <= n; i++) {
    if (i < n) {
      if (mm_proto_feed(&test_parser, data[i]) != 0) return (size_t)-1;
    } else if (idle) {
      mm_proto_idle(&test_parser);
    } else {
      break;
    }
    for (;;) {
      mm_proto_event e = mm_proto_poll(&test_parser);
      if (e == MM_PROTO_NONE) break;
      if (count < max_ev) {
        uint8_t *o = ev + 8 * count;
        memset(o, 0, 8);
        o[0] = (uint8_t)e;
        if (e == MM_PROTO_FRAME) {
          o[1] = test_parser.type;
          o[2] = test_parser.seq;
          o[3] = (uint8_t)test_parser.len;
          o[4] = (uint8_t)(test_parser.len >> 8);
        } else {
          o[1] = test_parser.error;
          o[2] = test_parser.err_seq;
          o[3] = (uint8_t)test_parser.err_detail;
          o[4] = (uint8_t)(test_parser.err_detail >> 8);
        }
      }
      count++;
    }
  }
  return count;
}

const mm_proto_stats *mm_host_parser_stats(void) { return &test_parser.stats; }
size_t mm_host_parser_buffered(void) { return test_parser.fill; }
unsigned mm_host_max_payload(void) { return MM_PROTO_MAX_PAYLOAD; }
