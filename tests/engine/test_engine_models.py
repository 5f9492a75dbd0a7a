"""The engine against TensorFlow Lite Micro on real converted models: the
numpy twin and the host build of the generated C (portable and DSP kernel
paths) must give every layer's output bit for bit; the arena must be small;
whatever the engine does not support must be refused in one line.

Models: the committed ones (models/*/) and a test set of small Keras
architectures converted here (micromel.engine.zoo: three fixed "kitchen
sinks", two random ones, one with edited quantization) that between them
use every supported op and option (test_the_test_set_covers_every_op...)."""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from micromel.errors import MicromelError

REPO = Path(__file__).resolve().parents[2]
GEN = REPO / "build" / "test-gen"     # stable: reruns build incrementally
COMMITTED = sorted(p.parent for p in (REPO / "models").glob("*/model.tflite")
                   if (p.parent / "config.json").exists())
N_COMMITTED = 1000      # random int8 inputs per committed model (plus real features)
N_TEST = 150            # per test-set model and kernel path


@pytest.fixture(scope="session")
def test_models():
    from micromel.engine import zoo

    return zoo.test_models()


def _compile(model_dir):
    from micromel import codegen
    from micromel.engine import compiler
    from micromel.modeldir import ModelDir

    return compiler.compile_model(ModelDir.open(model_dir))


def _inputs(shape, n, seed):
    """Random int8 inputs, half of them smooth (feature-like) rather than noise."""
    from micromel.engine import runner

    size = int(np.prod(shape))
    xs, _ = runner.random_inputs(seed, n, size)
    xs = xs.reshape((n,) + tuple(shape)).astype(np.int16)
    smooth = np.clip(np.cumsum(xs[n // 2:], axis=1) // 6, -128, 127)
    xs[n // 2:] = smooth
    return xs.astype(np.int8)


def _check_host(model_dir, xs, kernels, tmp_path, weights="auto"):
    """Host build vs TFLite Micro, every layer (CRC-32 per layer, then the
    whole tensor of the first layer that differs)."""
    from micromel import codegen
    from micromel.engine import compiler, runner
    from micromel.modeldir import ModelDir

    c = _compile(model_dir)
    gen = GEN / f"{Path(model_dir).name}-{kernels}-{weights}"
    codegen.export(ModelDir.open(model_dir), gen, kernels=kernels, weights=weights)
    host = runner.HostModel(c.plan, gen, Path(model_dir).resolve())
    assert host.kernels == ("portable" if kernels == "portable" else "dsp")
    tflm = runner.Tflm(c.plan)
    scores, crcs = host.run(xs)
    for i, x in enumerate(xs):
        ref_scores, ref_crcs = tflm.crcs(x)
        if not (np.array_equal(scores[i], ref_scores) and np.array_equal(crcs[i], ref_crcs)):
            diff = runner.first_difference(c.plan, tflm.run(x), lambda L: host.layer(x, L))
            pytest.fail(f"{Path(model_dir).name} ({kernels}) input {i}: {diff}")
    return c, host


# --- the numpy twin ------------------------------------------------------------
def test_twin_matches_tflm_every_layer(test_models):
    from micromel.engine import plan as planmod, runner

    for d in test_models + COMMITTED:
        c = _compile(d)
        tflm = runner.Tflm(c.plan)
        for x in _inputs(c.plan.input_shape, 10, 5):
            ref = tflm.run(x)
            mine = planmod.run(c.plan, x)
            for lay in c.plan.layers:
                assert np.array_equal(mine[lay.output], ref[lay.output]), (d.name, lay.index, lay.op)


# --- the host build ------------------------------------------------------------
@pytest.mark.parametrize("kernels,weights", [("portable", "auto"), ("dsp", "int8"),
                                             ("dsp", "int16")])
def test_host_build_bit_exact_on_test_set(test_models, kernels, weights, tmp_path):
    """The DSP layouts run on C twins of the assembly: both weight layouts."""
    for d in test_models:
        c = _compile(d)
        _check_host(d, _inputs(c.plan.input_shape, N_TEST, 11), kernels, tmp_path, weights)


@pytest.mark.skipif(not COMMITTED, reason="no committed model in models/")
@pytest.mark.parametrize("model_dir", COMMITTED, ids=[p.name for p in COMMITTED])
@pytest.mark.parametrize("kernels", ["portable", "dsp"])
def test_host_build_bit_exact_on_committed_models(model_dir, kernels, tmp_path):
    from micromel.engine import runner
    from micromel.modeldir import ModelDir

    c = _compile(model_dir)
    xs = _inputs(c.plan.input_shape, N_COMMITTED, 3)
    real = runner.real_windows(ModelDir.open(model_dir), 300).reshape((-1,) + tuple(c.plan.input_shape))
    assert len(real) >= 100
    _check_host(model_dir, np.concatenate([xs, real]), kernels, tmp_path)


# --- streaming inference --------------------------------------------------------------
def _sliding(c, n_windows, seed):
    """Windows sliding by the model's stream hop over a smooth random feature stream
    and, when the model has real features, over a real one; then windows that do not
    follow (the cache must start afresh) and a stretch that slides again."""
    from micromel.engine import stream

    t, hop = c.plan.input_shape[0], c.stream.hop
    rng = np.random.default_rng(seed)
    steps = rng.integers(-24, 25, size=(t + n_windows * hop,) + tuple(c.plan.input_shape[1:]))
    s = np.clip(np.cumsum(steps, axis=0) // 3, -128, 127).astype(np.int8)
    w = stream.sliding_windows(s, t, hop)
    return np.concatenate([w, w[2:4], w[:1], w[5:9], w[4:5]])


STREAM_MODELS = [d for d in COMMITTED if (json.loads((d / "config.json").read_text())
                                          .get("segment") or {}).get("hop_frames")]


@pytest.mark.skipif(not STREAM_MODELS, reason="no committed model with a segmentation hop")
@pytest.mark.parametrize("kernels", ["portable", "dsp"])
def test_streaming_bit_exact_per_window(test_models, kernels):
    """A streaming export (rows shared by windows sliding by the hop are reused) gives
    every window exactly what TFLite Micro computes for it on its own: the scores
    without taps (rows not needed are skipped), and every layer's output with taps
    (reused rows tapped from the caches); rows are really reused."""
    import ctypes
    from micromel import codegen
    from micromel.engine import compiler, runner
    from micromel.modeldir import ModelDir

    cached = []
    for d in STREAM_MODELS + [test_models[0]]:
        c = compiler.compile_model(ModelDir.open(d), stream=True)
        gen = GEN / f"{Path(d).name}-{kernels}-stream"
        codegen.export(ModelDir.open(d), gen, kernels=kernels, stream=True)
        host = runner.HostModel(c.plan, gen, Path(d).resolve())
        host.lib.mm_nn_model_reused_rows.restype = ctypes.c_uint32
        tflm = runner.Tflm(c.plan)
        xs = _sliding(c, 12, 5)
        before = host.lib.mm_nn_model_reused_rows()
        scores, _ = host.run(xs, crcs=False)
        reused = host.lib.mm_nn_model_reused_rows() - before
        _, crcs = host.run(xs)
        for i, x in enumerate(xs):
            ref_scores, ref_crcs = tflm.crcs(x)
            assert np.array_equal(scores[i], ref_scores), (d.name, kernels, i)
            if not np.array_equal(crcs[i], ref_crcs):
                pytest.fail(f"{d.name} ({kernels}) window {i}: layers "
                            f"{np.nonzero(crcs[i] != ref_crcs)[0].tolist()} differ")
        if c.stream.caches:
            assert reused > 0, d.name
            cached.append(d.name)
    assert cached       # models/speech keeps rows: the reuse above was checked at least once


# --- RAM ----------------------------------------------------------------------------
def test_arena_against_tflite_micro(test_models):
    """At most 0.6x TFLite Micro's arena for the committed models (the goal),
    and never more than TFLite Micro for any model; buffers that live at the
    same time never overlap (the planner's self-check runs in export)."""
    from micromel.engine import runner

    for d in test_models + COMMITTED:
        c = _compile(d)
        ours, theirs = c.sched.arena_bytes, runner.tflm_arena_bytes(c.plan.graph.raw)
        assert ours <= theirs, (d.name, ours, theirs)
        if d in COMMITTED:
            assert ours <= 0.6 * theirs, (d.name, ours, theirs)


# --- the test set covers everything ---------------------------------------------------
REQUIRED = {
    "CONV_2D stride 1", "CONV_2D stride 2", "CONV_2D SAME", "CONV_2D VALID", "CONV_2D NONE",
    "CONV_2D RELU", "CONV_2D RELU6", "CONV_2D 1x1", "CONV_2D 1x1 stride 2", "CONV_2D odd channels",
    "DEPTHWISE_CONV_2D stride 1", "DEPTHWISE_CONV_2D stride 2", "DEPTHWISE_CONV_2D SAME",
    "DEPTHWISE_CONV_2D VALID", "DEPTHWISE_CONV_2D NONE", "DEPTHWISE_CONV_2D RELU",
    "DEPTHWISE_CONV_2D RELU6", "DEPTHWISE_CONV_2D 3x3", "DEPTHWISE_CONV_2D 5x5",
    "DEPTHWISE_CONV_2D channels % 4 != 0", "FULLY_CONNECTED", "FULLY_CONNECTED RELU",
    "FULLY_CONNECTED bias", "FULLY_CONNECTED no bias", "AVERAGE_POOL_2D SAME",
    "AVERAGE_POOL_2D VALID", "AVERAGE_POOL_2D global", "MAX_POOL_2D SAME", "MAX_POOL_2D VALID",
    "MEAN", "MEAN keep_dims", "RESHAPE", "SOFTMAX", "ADD", "ADD RELU", "exact requantization",
    "clamped activation range", "streamed tensor",
    "CONV_2D window, full range", "CONV_2D window, clamped or exact", "CONV_2D window odd channels",
}


def _features(c):
    from micromel.engine import schedule

    f = set()
    for lay in c.plan.layers:
        p, op = lay.params, lay.op
        f.add(op)
        if lay.kind in ("conv", "dwconv"):
            f |= {f"{op} stride {p['stride'][0]}", f"{op} {p['padding']}", f"{op} {p['act']}",
                  f"{op} {p['kernel'][0]}x{p['kernel'][1]}"}
            if lay.kind == "conv" and p["kernel"] == (1, 1):
                f.add("CONV_2D 1x1" + (" stride 2" if p["stride"][0] == 2 else ""))
            if lay.kind == "conv" and lay.out_shape[2] % 2:
                f.add("CONV_2D odd channels")
            kd = c.kdata[lay.index]
            if kd.extra.get("window"):      # mm_nn_conv_window.c: its assembly, or its C
                full = not kd.exact and (p["act_min"], p["act_max"]) == (-128, 127)
                f.add("CONV_2D window, " + ("full range" if full else "clamped or exact"))
                if lay.out_shape[2] % 2:
                    f.add("CONV_2D window odd channels")
            if lay.kind == "dwconv" and lay.out_shape[2] % 4:
                f.add("DEPTHWISE_CONV_2D channels % 4 != 0")
        if lay.kind == "fc":
            f.add(f"FULLY_CONNECTED {p['act']}")
            f.add("FULLY_CONNECTED " + ("bias" if lay.bias.any() else "no bias"))
        if lay.kind in ("avgpool", "maxpool"):
            f.add(f"{op} " + ("global" if schedule.is_global_pool(lay) else p["padding"]))
        if lay.kind == "mean" and p["keep_dims"]:
            f.add("MEAN keep_dims")
        if lay.kind == "add" and p["act"] != "NONE":
            f.add(f"ADD {p['act']}")
        kd = c.kdata[lay.index]
        if kd.exact:
            f.add("exact requantization")
        if "act_min" in p and (p["act_min"], p["act_max"]) != (-128, 127):
            f.add("clamped activation range")
        if c.sched.places[lay.output].kind == "ring":
            f.add("streamed tensor")
    return f


def test_the_test_set_covers_every_op_and_option(test_models):
    seen = set()
    for d in test_models:
        seen |= _features(_compile(d))
    assert REQUIRED <= seen, sorted(REQUIRED - seen)


# --- what the engine refuses ---------------------------------------------------------
def _convert(model, tmp_path, name):
    from micromel.engine import zoo

    data = zoo.convert(model)
    shape = tuple(model.inputs[0].shape[1:])
    return zoo.write_model_dir(tmp_path / name, data, shape, int(model.outputs[0].shape[-1]), name)


def _refusal(model_dir):
    from micromel import codegen
    from micromel.engine import compiler
    from micromel.modeldir import ModelDir

    with pytest.raises(MicromelError) as e:
        compiler.compile_model(ModelDir.open(model_dir))
    msg = str(e.value)
    assert "\n" not in msg
    return msg


def test_unsupported_ops_and_options_are_refused_in_one_line(tmp_path):
    import keras
    from keras import layers as L

    def model(body):
        i = keras.Input((16, 12, 1), batch_size=1)
        x = body(i)
        x = L.Flatten()(x)
        return keras.Model(i, L.Dense(3, activation="softmax")(x))

    cases = {
        "dilation": (lambda i: L.Conv2D(4, 3, dilation_rate=2)(i), "dilation"),
        "tanh": (lambda i: L.Conv2D(4, 3, activation="tanh")(i), "TANH"),
        "pad": (lambda i: L.Conv2D(4, 3)(L.ZeroPadding2D(2)(i)), "PAD"),
        "multiplier": (lambda i: L.DepthwiseConv2D(3, depth_multiplier=2)(L.Conv2D(2, 1)(i)),
                       "depth multiplier 2"),
    }
    for name, (body, needle) in cases.items():
        msg = _refusal(_convert(model(body), tmp_path, name))
        assert needle in msg and "layer " in msg, msg


def test_input_contract_is_enforced(test_models, tmp_path):
    from micromel.engine import tflite, zoo

    src = test_models[0]
    bad = tmp_path / "bad-input"
    zoo.edit_quantization(src, bad, {})
    # rewrite the input tensor's scale to 0.5
    m = tflite.model_object((bad / "model.tflite").read_bytes())
    g = m.subgraphs[0]
    g.tensors[g.inputs[0]].quantization.scale = [0.5]
    (bad / "model.tflite").write_bytes(tflite.model_bytes(m))
    msg = _refusal(bad)
    assert "scale 1.0" in msg and "zero point 0" in msg


def test_board_budget_is_enforced(tmp_path):
    """A residual block on a 64x40 map keeps a 160 KB tensor alive: more RAM
    than the smallest board of the catalogue allows; export says so."""
    import keras
    from keras import layers as L
    from micromel.boards import catalogue
    from micromel import codegen
    from micromel.engine import compiler
    from micromel.modeldir import ModelDir

    i = keras.Input((64, 40, 1), batch_size=1)
    x = L.Conv2D(64, 3, padding="same", activation="relu")(i)
    y = L.Conv2D(64, 1)(x)
    x = L.Add()([x, y])
    x = L.GlobalAveragePooling2D()(x)
    d = _convert(keras.Model(i, L.Dense(3, activation="softmax")(x)), tmp_path, "big")
    small = min(catalogue.load_catalogue(), key=lambda b: b.ram_budget)
    with pytest.raises(MicromelError) as e:
        codegen.export(ModelDir.open(d), tmp_path / "gen", board=small.name)
    msg = str(e.value)
    assert small.name in msg and str(small.ram_budget) in msg and "arena" in msg


# --- the command and the generated files ----------------------------------------------
def test_export_command_writes_headers_only(test_models, tmp_path):
    from micromel import codegen

    d = test_models[0]
    out = tmp_path / "gen"
    r = subprocess.run([sys.executable, "-m", "micromel", "export", str(d), "--out", str(out),
                        "--json"], capture_output=True, text=True, cwd=REPO)
    assert r.returncode == 0, r.stderr
    summary = json.loads(r.stdout)
    assert summary["arena_bytes"] < summary["tflm_arena_bytes"]
    files = sorted(p.name for p in out.iterdir() if not p.name.startswith("."))
    assert all(f.endswith(".h") for f in files), files
    assert {"mm_model_config.h", "mm_model_data.h"} <= set(files)
    config = (out / "mm_model_config.h").read_text()
    assert "#define MM_MODEL_PRESENT 1" in config
    assert f"#define MM_MODEL_ARENA_BYTES {summary['arena_bytes']}u" in config
    # without a model: a "no model" config and no data header
    bare = tmp_path / "bare"
    codegen.write_build_headers(bare, None)
    assert "#define MM_MODEL_PRESENT 0" in (bare / "mm_model_config.h").read_text()
    assert not (bare / "mm_model_data.h").exists()
    # a refused model: one line on stderr, exit code 2
    r = subprocess.run([sys.executable, "-m", "micromel", "export", str(tmp_path / "nothing")],
                       capture_output=True, text=True, cwd=REPO)
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "Traceback" not in r.stderr
