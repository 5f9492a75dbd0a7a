// Board port for real boards under PlatformIO's Arduino framework: the USB
// (or ST-Link virtual COM) serial port is the host link. Builds only where
// PlatformIO's registry is reachable (docs/boards.md).
#include <Arduino.h>

extern "C" {
#include "mm_app.h"
#include "mm_cost.h"
#include "mm_port.h"
#include "mm_proto.h"
}

extern "C" const char mm_port_target[] = MM_TARGET_NAME;
extern "C" const char mm_port_core[] = MM_CORE_NAME;

extern "C" void mm_port_write(const uint8_t *data, size_t n) { Serial.write(data, n); }

static unsigned long last_rx;

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
