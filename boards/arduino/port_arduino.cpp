// Board port for real boards under PlatformIO's Arduino framework: the USB
// (or ST-Link virtual COM) serial port is the host link. Builds only where
// PlatformIO's registry is reachable (docs/boards.md).
#include <Arduino.h>

extern "C" {
#include "mm_app.h"
#include "mm_audio.h"
#include "mm_cost.h"
#include "mm_port.h"
#include "mm_proto.h"
}

extern "C" const char mm_port_target[] = MM_TARGET_NAME;
extern "C" const char mm_port_core[] = MM_CORE_NAME;

extern "C" void mm_port_write(const uint8_t *data, size_t n) { Serial.write(data, n); }

static unsigned long last_rx;

#if defined(MM_AUDIO_MIC) && defined(ARDUINO_ARDUINO_NANO33BLE)
// The Nano 33 BLE Sense's PDM microphone through the mbed core's PDM library (its callback
// runs in the PDM interrupt): whole halves go to mm_audio, like the bare-metal driver
// (boards/nrf52840/mic_pdm.c) does. Not built here: it needs PlatformIO's registry.
#include <PDM.h>

static int16_t half_buf[MM_AUDIO_HALF];
static size_t half_fill;

static void on_pdm(void) {
  int n = PDM.available();
  while (n > 0) {
    size_t want = 2 * (MM_AUDIO_HALF - half_fill);
    int got = PDM.read((uint8_t *)(half_buf + half_fill), (int)((size_t)n < want ? (size_t)n : want));
    if (got <= 0) break;
    n -= got;
    half_fill += (size_t)got / 2;
    if (half_fill == MM_AUDIO_HALF) {
      mm_audio_deliver(half_buf, MM_AUDIO_HALF);
      half_fill = 0;
    }
  }
}

extern "C" int mm_port_mic_start(uint32_t rate, uint32_t half) {
  if (half != MM_AUDIO_HALF) return -1;
  half_fill = 0;
  PDM.onReceive(on_pdm);
  PDM.setBufferSize(2 * MM_AUDIO_HALF);
  return PDM.begin(1, (int)rate) ? 0 : -1;
}

extern "C" void mm_port_mic_stop(void) { PDM.end(); }
#endif

void setup() {
  Serial.begin(115200);
  mm_cost_init();
  mm_app_init();
  last_rx = millis();
}

void loop() {
  while (Serial.available() > 0) {
    mm_app_rx((uint8_t)Serial.read());
    last_rx = millis();
  }
  mm_app_poll(); // listening: the next block, or an output
  if (millis() - last_rx > MM_PROTO_IDLE_TIMEOUT_MS) {
    mm_app_idle();
    last_rx = millis();
  }
}
