/* Declarations only, for a compile check of the exported library's Arduino sketch where no
 * Arduino core is installed (tests/library/test_library_arduino.py): the signatures the
 * sketch uses, as ArduinoCore-API (Print, HardwareSerial) declares them. Nothing runs. */
#ifndef ARDUINO_H_DECLARATIONS
#define ARDUINO_H_DECLARATIONS
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define DEC 10

class Print {
 public:
  size_t print(const char[]);
  size_t print(char);
  size_t print(int, int = DEC);
  size_t print(unsigned long, int = DEC);
  size_t print(double, int = 2);
  size_t println(const char[]);
  size_t println(double, int = 2);
  size_t println(void);
};

class HardwareSerial : public Print {
 public:
  void begin(unsigned long baudrate);
  operator bool();
};

extern HardwareSerial Serial;
#endif
