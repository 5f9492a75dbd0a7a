/* The firmware application: protocol dispatch over a byte link. Board ports
 * call mm_app_init once, then mm_app_rx for every received byte and
 * mm_app_idle when the link has been quiet for MM_PROTO_IDLE_TIMEOUT_MS. */
#ifndef MM_APP_H
#define MM_APP_H

#include <stdint.h>

void mm_app_init(void);
void mm_app_rx(uint8_t byte);
void mm_app_idle(void);

/* --- for message groups in their own files (src/app_*.c) ---------------- */
/* The reply payload buffer: MM_PROTO_MAX_PAYLOAD bytes. */
uint8_t *mm_app_reply_payload(void);
/* Send the reply payload as a frame of the given type and length. */
void mm_app_send(uint8_t type, uint8_t seq, uint16_t len);
void mm_app_send_error(uint8_t code, uint8_t seq, uint16_t detail);

/* Hooks a message group defines to take part (weak defaults in app.c):
 * handle: return 1 if the type is theirs (and a reply was sent), else 0.
 * info:   append "key=value\n" lines to out[cap]; return bytes written. */
int mm_app_frontend_handle(uint8_t type, uint8_t seq, const uint8_t *payload, uint16_t len);
int mm_app_model_handle(uint8_t type, uint8_t seq, const uint8_t *payload, uint16_t len);
int mm_app_frontend_info(char *out, int cap);
int mm_app_model_info(char *out, int cap);
/* The audio messages (src/app_audio.c, always built). */
int mm_app_audio_handle(uint8_t type, uint8_t seq, const uint8_t *payload, uint16_t len);
int mm_app_audio_info(char *out, int cap);

#endif
