"""Commands `micromel device info|ping|proxy`: talk to a device (emulated, tty, URL or farm
board), or put a lossy link in front of one; `micromel farm board`: serve an emulated board
to a labgrid farm from an exporter host."""
from __future__ import annotations

import json
import socket
import time
from pathlib import Path

from .. import cliargs
from ..boards import firmware
from ..errors import MicromelError
from ..modeldir import ModelDir
from . import protocol
from .device import open_device
from .emulator import Emulator, check_emulated
from .farm_board import EmulatedFarmBoard, is_elf
from .farm_leases import SignalGuard
from .model_device import prepare_firmware
from .proxy import Impairment, LossyProxy, parse_socket_url


def cmd_device_info(args) -> int:
    with open_device(args.device) as dev:
        info = dev.info()
    if args.json:
        print(json.dumps(protocol.info_as_json(info), indent=2))
    else:
        width = max(len(k) for k in info)
        for k, v in info.items():
            print(f"{k:<{width}}  {v}")
    return 0


def cmd_device_ping(args) -> int:
    with open_device(args.device) as dev:
        limit = int(dev.info().get("max_payload", protocol.FIRMWARE_MAX_PAYLOAD))
        if args.size > limit:
            raise MicromelError(f"--size {args.size}: {dev.name} takes payloads of at most "
                                f"{limit} bytes")
        payload = (bytes(range(256)) * (args.size // 256 + 1))[:args.size]
        times = [dev.ping(payload) for _ in range(args.count)]
    times.sort()
    print(f"{args.count} pings, median {1000 * times[len(times) // 2]:.2f} ms, "
          f"max {1000 * times[-1]:.2f} ms")
    return 0


def _check_listen(address: str, ports) -> None:
    """--bind must be an address of this host and the ports free there: checked before any
    build (a traceback after one, or QEMU restarted forever on a port in use)."""
    for port, option in ((0, None), *ports):
        try:
            with socket.socket() as s:
                s.bind((address, port))
        except OSError as e:
            if option is None:
                raise MicromelError(f"--bind {address}: cannot listen there ({e.strerror or e}); "
                                    "give an address of this host (default 127.0.0.1)") from None
            raise MicromelError(f"{option} {port}: cannot listen on it at {address} "
                                f"({e.strerror or e}); give a free port") from None


def cmd_farm_board(args) -> int:
    if args.uart_port == args.ctl_port:
        raise MicromelError(f"--uart-port and --ctl-port: both {args.ctl_port}; give two ports "
                            "(QEMU's UART and the control port each listen on their own)")
    _check_listen(args.bind, ((args.uart_port, "--uart-port"), (args.ctl_port, "--ctl-port")))
    check_emulated(args.env, f"--env {args.env}")   # before a build: a real board's would be for nothing
    elf = _elf_file(args.elf) if args.elf else firmware.build(args.env)
    board = EmulatedFarmBoard(args.env, elf, args.uart_port, args.bind)
    guard = SignalGuard()   # SIGTERM from a supervisor stops QEMU too
    guard.install()
    try:   # Ctrl-C: QEMU stops (serve's finally) and micromel exits 130, as every command does
        board.serve(args.ctl_port, args.bind, say=lambda t: print(f"micromel farm board: {t}", flush=True))
    finally:
        guard.restore()
    return 0


def _elf_file(path: str) -> Path:
    """--elf: a readable ELF file, checked before QEMU boots it (QEMU would restart it in a
    loop and report a register dump)."""
    try:
        with open(path, "rb") as f:
            magic = f.read(4)
    except IsADirectoryError:
        raise MicromelError(f"--elf {path}: a folder, not an ELF file; give the firmware's .elf "
                            "(micromel build prints where it is)") from None
    except OSError as e:
        raise MicromelError(f"--elf {path}: cannot read it ({e.strerror}); give the firmware's "
                            "ELF (micromel build prints where it is)") from None
    if not is_elf(magic):
        raise MicromelError(f"--elf {path}: not an ELF file; give the firmware's .elf "
                            "(micromel build prints where it is)")
    return Path(path)


def _upstream(args):
    """(host, port) the proxy forwards to, and the emulator it started (or None)."""
    if args.device != "emulate":
        if args.model:
            raise MicromelError("--model: only with --device emulate (a running device already "
                                "has its firmware)")
        return parse_socket_url(args.device), None
    elf = prepare_firmware("emulate", ModelDir.open(args.model)) if args.model \
        else firmware.build("emulate")
    machine = firmware.board_json(firmware.env_board("emulate"))["micromel"]["qemu_machine"]
    emu = Emulator(elf, machine, wait=False)
    return ("127.0.0.1", emu.start()), emu


def cmd_device_proxy(args) -> int:
    imp = Impairment(args.loss, args.flip, args.dup, args.delay_ms)
    upstream, emu = _upstream(args)
    proxy = LossyProxy(upstream, imp, port=args.listen, seed=args.seed)
    print(f"lossy link to {upstream[0]}:{upstream[1]} on {proxy.url} (loss {imp.loss}, flip "
          f"{imp.flip}, dup {imp.dup}, delay {imp.delay_ms} ms, seed {args.seed}); "
          "Ctrl-C stops it", flush=True)
    try:
        while emu is None or emu.alive():
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        proxy.close()
        if emu:
            emu.stop()
    print(json.dumps(proxy.stats()))
    return 0


def register(sub) -> None:
    dsub = cliargs.group_actions(sub, "device")
    info = dsub.add_parser("info", help="print the firmware's INFO")
    info.add_argument("--device", default="emulate", help=cliargs.DEVICE_HELP + " (default emulate)")
    info.add_argument("--json", action="store_true", help="print JSON")
    info.set_defaults(func=cmd_device_info)
    ping = dsub.add_parser("ping", help="round-trip PINGs")
    ping.add_argument("--device", default="emulate", help=cliargs.DEVICE_HELP + " (default emulate)")
    ping.add_argument("--count", type=cliargs.positive_int, default=20, help="pings (default 20)")
    ping.add_argument("--size", type=cliargs.at_least(int, 0, "a whole number",
                                                      maximum=protocol.FIRMWARE_MAX_PAYLOAD),
                      default=64, help="payload bytes (default 64; at most the device's "
                                       "max_payload, `micromel device info`)")
    ping.set_defaults(func=cmd_device_ping)
    px = dsub.add_parser("proxy", help="a lossy serial link (drops, bit flips, duplicates, delay) "
                                       "in front of a device, for testing")
    px.add_argument("--device", default="emulate",
                    help="'emulate' (boots the emulated board) or socket://127.0.0.1:PORT")
    px.add_argument("--model", help="with --device emulate: the model folder whose firmware boots "
                                    "(default: the firmware without a model)")
    px.add_argument("--listen", type=cliargs.at_least(int, 0, "a TCP port number", maximum=65535),
                    default=0,
                    help="port to listen on at 127.0.0.1 (default: a free one, printed)")
    prob = cliargs.at_least(float, 0.0, "a probability")
    px.add_argument("--loss", type=prob, default=0.0, help="probability that a byte is dropped")
    px.add_argument("--flip", type=prob, default=0.0,
                    help="probability that a byte is corrupted (one bit flipped)")
    px.add_argument("--dup", type=prob, default=0.0, help="probability that a byte is duplicated")
    px.add_argument("--delay-ms", type=cliargs.non_negative_float, default=0.0,
                    help="delay added to every block forwarded (ms)")
    px.add_argument("--seed", type=int, default=0, help="seed of the impairments (default 0)")
    px.set_defaults(func=cmd_device_proxy)

    farm = sub.add_parser("farm", help="serve an emulated board to a labgrid board farm (docs/farm.md)")
    fsub = farm.add_subparsers(dest="farm_command", metavar="ACTION")
    farm.set_defaults(func=None, group_parser=farm)
    b = fsub.add_parser("board", help="on an exporter host: boot the micromel firmware in QEMU, its UART "
                                      "on a raw TCP port for labgrid-exporter, flashable over a control port",
                        description="Run one emulated board for a labgrid farm. Export UART_PORT as a "
                                    "NetworkSerialPort named 'uart' (protocol raw) and CTL_PORT as one named "
                                    "'ctl' in the same resource group (boards/farm/exporter.yaml).")
    b.add_argument("--env", default="emulate", help="emulated firmware environment (default emulate)")
    b.add_argument("--uart-port", type=cliargs.tcp_port, required=True, help="TCP port of the board's UART")
    b.add_argument("--ctl-port", type=cliargs.tcp_port, required=True,
                   help="TCP port of the control port (LOAD an ELF, RESET, STATUS)")
    b.add_argument("--bind", default="127.0.0.1",
                   help="address both ports listen on: the exporter host's farm address on a real farm "
                        "(default 127.0.0.1)")
    b.add_argument("--elf", help="boot this ELF (default: the environment's firmware without a model; "
                                 "clients upload their model's)")
    b.set_defaults(func=cmd_farm_board)
