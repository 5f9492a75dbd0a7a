/* Declarations only (see Arduino.h here): the PDM library of ArduinoCore-mbed
 * (libraries/PDM/src/PDM.h), the Nano 33 BLE Sense's microphone. */
#ifndef PDM_H_DECLARATIONS
#define PDM_H_DECLARATIONS
#include <Arduino.h>

class PDMClass {
 public:
  PDMClass(int dinPin, int clkPin, int pwrPin);
  virtual ~PDMClass();
  int begin(int channels, int sampleRate);
  void end();
  virtual int available();
  virtual int read(void *buffer, size_t size);
  void onReceive(void (*)(void));
  void setGain(int gain);
  void setBufferSize(int bufferSize);
};

extern PDMClass PDM;
#endif
