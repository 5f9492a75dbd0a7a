/* nano33ble_mic: the @NAME@ library listening to the PDM microphone of an Arduino
 * Nano 33 BLE Sense (board package "Arduino Mbed OS Nano Boards", its PDM library),
 * printing every event on Serial (115200 baud) as it closes:
 *
 *   0.512 0.896 kick 0.83          start and end (seconds since reset), label, confidence
 *
 * The PDM interrupt only copies samples into a ring; loop() pushes them to the
 * recognizer, so the model never runs inside the interrupt. Audio that arrives while
 * the ring is full is counted and reported ("overrun ..."), never dropped silently. */
#include <PDM.h>

#include "@NAME@.h"

#if MM_API_SAMPLE_RATE != 16000
#error "the Nano 33 BLE Sense's PDM library records at 16000 Hz: export a 16 kHz model"
#endif

static mm_api_ctx rec;        /* the recognizer's whole state */
#define RING 8192u            /* samples (0.5 s at 16 kHz), a power of two */
static int16_t ring[RING];
static volatile uint32_t head, tail; /* samples written by the interrupt, read by loop() */
static volatile uint32_t lost;       /* samples the ring had no room for */

static void on_pdm() {
  static int16_t buf[256];
  int bytes = PDM.available();
  while (bytes > 0) {
    int n = PDM.read(buf, bytes > (int)sizeof buf ? (int)sizeof buf : bytes) / 2;
    if (n <= 0) break;
    bytes -= 2 * n;
    for (int i = 0; i < n; i++) {
      if (head - tail < RING) {
        ring[head % RING] = buf[i];
        head = head + 1;
      } else {
        lost = lost + 1;
      }
    }
  }
}

static void on_event(const mm_api_event *e, void *) {
  Serial.print((double)e->start_sample / MM_API_SAMPLE_RATE, 3);
  Serial.print(' ');
  Serial.print((double)e->end_sample / MM_API_SAMPLE_RATE, 3);
  Serial.print(' ');
  Serial.print(mm_api_label(mm_api_event_answer(e)));   // "unknown" if the rule refuses
  Serial.print(' ');
  Serial.println(e->confidence / 256.0, 2);
}

void setup() {
  Serial.begin(115200);
  while (!Serial) {
  }
  static const mm_api_handlers handlers = {NULL, on_event, NULL};
  int rc = mm_api_init(&rec, MM_API_STREAM, &handlers);
  Serial.print("micromel ");
  Serial.print(MM_API_MODEL_NAME " " MM_API_MODEL_HASH ": " MM_API_LABELS " -> ");
  Serial.println(mm_api_strerror(rc));
  PDM.onReceive(on_pdm);
  if (rc != MM_API_OK || !PDM.begin(1, MM_API_SAMPLE_RATE)) {
    Serial.println("cannot start (recognizer or PDM microphone)");
    while (1) {
    }
  }
}

void loop() {
  static uint32_t reported;
  uint32_t h = head;
  while (tail != h) {
    uint32_t at = tail % RING, n = h - tail;
    if (n > RING - at) n = RING - at; /* the contiguous part */
    mm_api_push(&rec, ring + at, n);
    tail = tail + n;
  }
  if (lost != reported) {
    reported = lost;
    Serial.print("overrun: ");
    Serial.print((unsigned long)reported);
    Serial.println(" samples lost in total (the recognizer fell behind)");
  }
}
