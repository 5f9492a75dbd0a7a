"""The real-time budget of listening (micromel.boards.realtime): every catalogue board is
measured on an emulated core that runs its code, every board gets a verdict for every
committed model, and the budget agrees with what a listening emulated board measures."""
from pathlib import Path

import pytest

from micromel import codegen
from micromel.boards import catalogue, firmware, realtime
from micromel.link.model_device import open_model_device
from micromel.listen import run
from micromel.listen.session import Listener
from micromel.modeldir import ModelDir
from micromel.paths import MODELS_DIR

CATALOGUE = catalogue.load_catalogue()
MODELS = sorted(p.parent for p in Path(MODELS_DIR).glob("*/config.json")
                if (p.parent / "model.tflite").exists())


def test_every_board_has_an_emulated_core_with_its_code():
    for b in CATALOGUE:
        env = realtime.measuring_env(b)
        assert env is not None, b.name
        mine = firmware.board_json(firmware.env_board(b.offline_env))
        theirs = firmware.board_json(firmware.env_board(env))
        assert theirs["micromel"].get("qemu_machine"), env
        for key in ("cpu", "march", "mabi"):
            assert mine["build"].get(key) == theirs["build"].get(key), (b.name, env, key)
        assert mine["micromel"].get("dsp") == theirs["micromel"].get("dsp"), (b.name, env)
    assert realtime.measuring_env(next(b for b in CATALOGUE if b.name == "rp2040")) == "emulate_m0plus"


def test_verdicts():
    b = CATALOGUE[0]
    cost = realtime.Cost("emulate", 1e6, 1e6)
    clock = b.clock_hz
    def verdict(per_s):
        return realtime.Budget(b, realtime.Cost("x", per_s, 0.0), 10.0).verdict
    assert verdict(0.5 * clock) == "ok" and verdict(0.8 * clock) == "warn"
    assert verdict(1.01 * clock) == "FAIL" and realtime.Budget(b, cost, 1.0).per_second == 2e6
    assert realtime.Budget(b, None, 1.0).verdict == "unknown"


@pytest.mark.slow
@pytest.mark.emulator
@pytest.mark.parametrize("model_dir", MODELS, ids=lambda p: p.name)
def test_every_board_gets_a_real_time_verdict(model_dir):
    model = ModelDir.open(model_dir)
    gen = codegen.default_gen_dir(model, "export")
    compiled = codegen.export(model, gen)
    items = realtime.budgets(CATALOGUE, model, compiled.plan, gen)
    assert [i.board.name for i in items] == [b.name for b in CATALOGUE]
    for i in items:
        assert i.verdict in ("ok", "warn", "FAIL") and i.load > 0, i.board.name
    text = realtime.format_text(items)
    assert all(b.name in text for b in CATALOGUE)
    # the same code gives the same instructions: the M4F boards share the emulated M4's costs
    m4 = [i for i in items if i.board.name in ("stm32l476", "nrf52840", "mps2-an386")]
    assert len({i.per_second for i in m4}) == 1


@pytest.mark.emulator
def test_budget_matches_what_the_listening_board_measures(tmp_path):
    """The budget (BENCH costs) against the whole listening pipeline on the emulated M4,
    noise from its generator (every window through the model), unpaced."""
    model = ModelDir.open(Path(MODELS_DIR) / "drums")
    gen = codegen.default_gen_dir(model, "export")
    compiled = codegen.export(model, gen)
    board = next(b for b in CATALOGUE if b.name == "mps2-an386")
    (budget,) = realtime.budgets([board], model, compiled.plan, gen)
    p = model.segment_params()
    with open_model_device("emulate", model) as dev:
        res = run.listen(Listener(dev), "noise", seconds=6, unpaced=True, amplitude=8000)
    st = res.status
    assert st.inferences == st.windows > 30
    measured = st.steady_load(p.sample_rate / p.hop_samples)
    # the listening loop adds the gate's energies, the segmenter, the ring and the outputs
    assert budget.load < measured < budget.load * 1.05, (budget.load, measured)
