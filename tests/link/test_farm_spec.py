"""The farm device spec, checked before anything talks to a coordinator (no labgrid needed):
what `--device labgrid:...` accepts, and the one-line errors for what it does not."""
import argparse

import pytest

from micromel.cli import main
from micromel.errors import MicromelError
from micromel.link.farm import FarmSpec, hold, parse_spec, resolve_args


@pytest.mark.parametrize("text, tags, count, place", [
    ("labgrid:rack3-board7", {"name": "rack3-board7"}, 1, "rack3-board7"),
    ("labgrid:board=mps2-an386", {"board": "mps2-an386"}, 1, None),
    ("labgrid:board=mps2-an386,2", {"board": "mps2-an386"}, 2, None),
    ("labgrid:board=stm32l476,lab=north,3", {"board": "stm32l476", "lab": "north"}, 3, None),
])
def test_specs(text, tags, count, place):
    assert parse_spec(text) == FarmSpec(text, tags, count, place)


@pytest.mark.parametrize("text, message", [
    ("labgrid:", "use labgrid:PLACE or labgrid:TAG=VALUE"),
    ("labgrid:board=x,0", "at least 1"),
    ("labgrid:a,b", "use labgrid:PLACE or labgrid:TAG=VALUE"),
    ("labgrid:place,2", "use labgrid:PLACE or labgrid:TAG=VALUE"),       # one named place is one board
    ("labgrid:Board=x", "tag names are lower case"),
    ("labgrid:b=x", "tag names are lower case"),                        # labgrid: two characters or more
    ("labgrid:board=", "each given once with a value"),
    ("labgrid:board=x,board=y", "each given once with a value"),
    ("labgrid:board=x,,2", "use labgrid:PLACE or labgrid:TAG=VALUE"),
])
def test_bad_specs_are_one_line_errors(text, message):
    with pytest.raises(MicromelError, match=message) as e:
        parse_spec(text)
    assert str(e.value).startswith(f"--device {text}:") and "\n" not in str(e.value)


def test_local_specs_pass_through_without_a_coordinator():
    with hold(["emulate", "/dev/ttyACM0", "socket://127.0.0.1:4000"]) as specs:
        assert specs == ["emulate", "/dev/ttyACM0", "socket://127.0.0.1:4000"]
    args = argparse.Namespace(device="emulate")
    with resolve_args(args):
        assert args.device == "emulate"


def test_a_single_device_command_refuses_a_count_and_a_place_twice_is_refused():
    with pytest.raises(MicromelError, match="this command uses one board; drop the count"):
        with resolve_args(argparse.Namespace(device="labgrid:board=x,2")):
            pass
    with pytest.raises(MicromelError, match="a place given twice"):
        with hold(["labgrid:p1", "labgrid:p1"]):
            pass


def test_cli_reports_a_bad_spec_in_one_line(capsys):
    assert main(["device", "info", "--device", "labgrid:Board=x"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("micromel: error: --device labgrid:Board=x:") and err.count("\n") == 1


@pytest.mark.parametrize("env, says", [
    # the option's own check (cliargs.non_negative_float), then what to do
    ({"MICROMEL_FARM_WAIT": "abc"}, "MICROMEL_FARM_WAIT=abc: 'abc' is not a number; set it to a "
                                    "number of seconds >= 0, or give micromel --farm-wait SECONDS"),
    ({"MICROMEL_FARM_WAIT": "-5"}, "MICROMEL_FARM_WAIT=-5: -5.0: must be at least 0.0; set it"),
    ({"MICROMEL_FARM_WAIT": "inf"}, "MICROMEL_FARM_WAIT=inf: 'inf': give a finite number; set it"),
    ({"LG_COORDINATOR": "127.0.0.1:notaport"}, "coordinator 127.0.0.1:notaport ($LG_COORDINATOR "
                                               "or micromel --coordinator): Port could not be cast"),
    ({"LG_COORDINATOR": "127.0.0.1:70000"}, "Port out of range 0-65535; give HOST, HOST:PORT or "
                                            "[IPv6]:PORT"),
    ({"LG_COORDINATOR": "[::1]:abc"}, "coordinator [::1]:abc ($LG_COORDINATOR"),
    ({"LG_COORDINATOR": "::1"}, "coordinator ::1 ($LG_COORDINATOR"),     # IPv6 needs [::1]
])
def test_farm_settings_from_the_environment_are_one_line_errors(env, says, monkeypatch, capsys):
    """They were a ValueError traceback (exit 1), or accepted (a wait of -5 s); the checks
    come before any coordinator is asked, and before labgrid is needed."""
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    assert main(["device", "info", "--device", "labgrid:board=mps2-an386"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("micromel: error: ") and says in err and err.count("\n") == 1, err


def test_coordinator_option_with_a_bad_port_is_one_line(monkeypatch, capsys):
    monkeypatch.setenv("LG_COORDINATOR", "127.0.0.1:1")   # restored after main() sets it
    assert main(["--coordinator", "127.0.0.1:notaport", "device", "info", "--device",
                 "labgrid:x"]) == 2
    err = capsys.readouterr().err
    assert "Port could not be cast to integer value as 'notaport'" in err, err
    assert err.count("\n") == 1, err


def test_good_coordinator_addresses_pass(monkeypatch):
    from micromel.link.labgrid_session import coordinator_address

    for address in ("127.0.0.1:20408", "[::1]:20408", "farm.example", "farm.example:5000"):
        monkeypatch.setenv("LG_COORDINATOR", address)
        assert coordinator_address() == address
