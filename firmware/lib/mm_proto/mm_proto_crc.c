/* CRCs of the protocol: CRC-8/SMBUS for the header, CRC-16/CCITT-FALSE for
 * the frame. Bitwise loops: a 256-entry table would cost 512 bytes of flash
 * to save a few hundred instructions per frame, which the UART dwarfs. */
#include "mm_proto.h"

uint8_t mm_proto_crc8(const uint8_t *data, size_t n, uint8_t crc) {
  for (size_t i = 0; i < n; i++) {
    crc ^= data[i];
    for (int b = 0; b < 8; b++) {
      crc = (crc & 0x80u) ? (uint8_t)((crc << 1) ^ 0x07u) : (uint8_t)(crc << 1);
    }
  }
  return crc;
}

uint16_t mm_proto_crc16(const uint8_t *data, size_t n, uint16_t crc) {
  for (size_t i = 0; i < n; i++) {
    crc ^= (uint16_t)((uint16_t)data[i] << 8);
    for (int b = 0; b < 8; b++) {
      crc = (crc & 0x8000u) ? (uint16_t)((crc << 1) ^ 0x1021u) : (uint16_t)(crc << 1);
    }
  }
  return crc;
}
