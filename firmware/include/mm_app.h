/* The firmware application: protocol dispatch over a byte link. Board ports
 * call mm_app_init once, then mm_app_rx for every received byte, mm_app_poll on
 * every turn of their main loop, and mm_app_idle when the link has been quiet
 * for MM_PROTO_IDLE_TIMEOUT_MS. */
#ifndef MM_APP_H
#define MM_APP_H

#include <stdint.h>

void mm_app_init(void);
void mm_app_rx(uint8_t byte);
void mm_app_idle(void);
/* Work between messages (continuous listening): ports call it on every turn of their main
 * loop. Returns 1 while the app is listening: an emulated board must then not sleep (WFI
 * under QEMU's -icount makes virtual time follow the host's clock), 0 when it may. */
int mm_app_poll(void);

/* --- for message groups in their own files (src/app_*.c) ---------------- */
/* The reply to one request. app.c hands each group the reply payload buffer; the group
 * fills it and sets len, or refuses the request (error, detail); app.c then frames and
 * sends it. Groups never call back into app.c. */
typedef struct {
  uint8_t *payload; /* MM_PROTO_MAX_PAYLOAD bytes: the reply payload is built here */
  uint16_t len;     /* reply payload bytes */
  uint8_t error;    /* 0, or an MM_ERR_* code: an ERROR frame with `detail` goes out instead */
  uint16_t detail;
} mm_app_reply;

/* Refuse the request: sets the reply's error; returns 1 (the request was handled). */
static inline int mm_app_refuse(mm_app_reply *reply, uint8_t error, uint16_t detail) {
  reply->error = error;
  reply->detail = detail;
  return 1;
}

/* Hooks a message group defines to take part (weak defaults in app.c):
 * handle: return 1 if the type is the group's (reply filled in), else 0.
 * info:   append "key=value\n" lines to out[cap]; return bytes written. */
int mm_app_frontend_handle(uint8_t type, const uint8_t *payload, uint16_t len, mm_app_reply *reply);
int mm_app_model_handle(uint8_t type, const uint8_t *payload, uint16_t len, mm_app_reply *reply);
int mm_app_frontend_info(char *out, int cap);
int mm_app_model_info(char *out, int cap);
/* The audio messages (src/app_audio.c, always built). */
int mm_app_audio_handle(uint8_t type, const uint8_t *payload, uint16_t len, mm_app_reply *reply);
int mm_app_audio_info(char *out, int cap);
/* Listening (src/app_listen.c): the LISTEN message, start at boot (MM_LISTEN_AT_BOOT), and
 * its unsolicited output, one piece per call of mm_app_listen_poll: a frame of type *type
 * (MM_APP_OUT_FRAME, payload in out), bytes to write as they are (MM_APP_OUT_TEXT), nothing
 * now (MM_APP_OUT_BUSY: listening), or not listening (MM_APP_OUT_IDLE). */
enum { MM_APP_OUT_IDLE, MM_APP_OUT_BUSY, MM_APP_OUT_FRAME, MM_APP_OUT_TEXT };
int mm_app_listen_handle(uint8_t type, const uint8_t *payload, uint16_t len, mm_app_reply *reply);
int mm_app_listen_info(char *out, int cap);
int mm_app_listen_poll(mm_app_reply *out, uint8_t *type);
void mm_app_listen_init(void);

#endif
