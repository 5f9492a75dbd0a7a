"""A board behind an RFC 2217 server (how a labgrid exporter shares a USB serial port, through
ser2net): micromel talks to it over rfc2217:// without renegotiating the port per read. Plain
pyserial sends RFC 2217 subnegotiations (and waits >= 50 ms) whenever a link's timeout changes;
labgrid's pyserial fork does not; micromel sets the timeout once, so both behave alike."""
import pytest
import serial
import serial.rfc2217

from micromel.boards import firmware
from micromel.link.device import open_device
from micromel.link.emulator import Emulator, qemu_config

pytestmark = pytest.mark.emulator


def test_a_board_behind_rfc2217_answers_without_renegotiating_per_read(monkeypatch, rfc2217_bridge):
    emu = Emulator(firmware.build("emulate"), **qemu_config("emulate"), wait=False)
    try:
        bridge = rfc2217_bridge(f"socket://127.0.0.1:{emu.start()}")
        sent = []
        real = serial.rfc2217.Serial.rfc2217_send_subnegotiation

        def counted(self, option, value=b""):
            sent.append(option)
            return real(self, option, value)

        monkeypatch.setattr(serial.rfc2217.Serial, "rfc2217_send_subnegotiation", counted)
        with open_device(f"rfc2217://127.0.0.1:{bridge.port}") as dev:
            at_open = len(sent)        # the port settings, negotiated once when it opens
            assert at_open > 0
            for i in range(20):
                dev.ping(bytes([i]) * 64)
            assert dev.info(refresh=True)["target"] == "emulate"
            assert len(sent) == at_open, f"{len(sent) - at_open} subnegotiations after the port opened"
    finally:
        emu.stop()
