"""`micromel farm board` restarts QEMU when it exits, and gives up (the command ends, saying
why) when QEMU cannot come back: here its UART port taken by another program meanwhile. It
retried every 0.2 s forever: the other program's socket passed for QEMU's, and QEMU exited."""
import socket
import threading

import pytest

from micromel.boards import firmware
from micromel.errors import MicromelError
from micromel.link import farm_board

pytestmark = pytest.mark.emulator


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_board_whose_qemu_cannot_restart_ends_saying_why():
    board = farm_board.EmulatedFarmBoard("emulate", firmware.build("emulate"), _free_port())
    said, ended = [], {}

    def serve():
        try:
            board.serve(_free_port(), "127.0.0.1", said.append)
        except MicromelError as e:
            ended["error"] = str(e)

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    try:
        for _ in range(300):
            if any("board up" in s for s in said):
                break
            t.join(0.1)
        assert any("board up" in s for s in said), said
        with board.lock:            # the watchdog waits: QEMU gone, its port taken
            board.emu.proc.kill()
            board.emu.proc.wait(10)
            thief = socket.create_server(("127.0.0.1", board.emu.port))
        t.join(60)
        assert not t.is_alive(), said
    finally:
        board.stopping = True
        if "thief" in locals():
            thief.close()
    assert board.restarts == farm_board.RESTART_TRIES, said
    assert sum(s.startswith("restart failed") for s in said) == farm_board.RESTART_TRIES, said
    assert ended["error"].startswith(f"emulate board on UART port {board.emu.port}: QEMU did not "
                                     f"restart in {farm_board.RESTART_TRIES} tries"), ended
    assert f"serial port {board.emu.port} is in use by another program" in ended["error"], ended
