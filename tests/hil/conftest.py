"""Fixtures shared by the host-in-the-loop tests (verify on local emulators, verify through a
labgrid farm; one per session): a small drums model, a dozen real drum hits labelled with its
classes, and one clean audio-mode verify run the other runs are compared with."""
import numpy as np
import pytest
import soundfile as sf

from micromel.data import debpkg
from micromel.modeldir import ModelDir


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory):
    from micromel.engine import zoo

    return zoo.make("drums", tmp_path_factory.mktemp("model") / "m", seed=3, input_shape=(64, 40, 1))


@pytest.fixture(scope="session")
def model(model_dir):
    return ModelDir.open(model_dir)


@pytest.fixture(scope="session")
def dataset(tmp_path_factory, model_dir):
    """Real drum hits, shortened, labelled with the test model's classes."""
    root = debpkg.fetch("hydrogen-data") / "usr/share/hydrogen/data/drumkits"
    files = sorted(p for p in root.rglob("*") if p.suffix.lower() in (".wav", ".flac"))[:10]
    out = tmp_path_factory.mktemp("data")
    labels = list(ModelDir.open(model_dir).labels)
    rows = ["path,label,split"]
    from micromel.audio import load_audio

    for i, f in enumerate(files):
        pcm = load_audio(f, 16000)[: 16000 + 4000 * (i % 4)]   # 1.0 .. 1.75 s
        name = f"clip{i:02d}.wav"
        sf.write(out / name, pcm, 16000, subtype="PCM_16")
        rows.append(f"{name},{labels[i % len(labels)]},test")
    # edge cases: a short clip (padded to one window), digital silence
    sf.write(out / "short.wav", load_audio(files[0], 16000)[:3000], 16000, subtype="PCM_16")
    sf.write(out / "silence.wav", np.zeros(20000, np.int16), 16000, subtype="PCM_16")
    rows += [f"short.wav,{labels[0]},test", f"silence.wav,{labels[1]},test"]
    (out / "manifest.csv").write_text("\n".join(rows) + "\n")
    return out / "manifest.csv"


# summary fields that do not depend on timing: equal for any two runs of the same clips
STABLE = ("clips_total", "clips_verified", "clips_bit_exact", "features_mismatches",
          "scores_mismatches", "windows", "silent_windows", "accuracy_device",
          "accuracy_reference", "predictions_agree", "confusion_device", "first_mismatch")


@pytest.fixture(scope="session")
def audio_run(model, dataset, tmp_path_factory):
    """One uninterrupted audio-mode verify: (summary, report folder)."""
    from micromel.hil.verify import run_verify

    report = tmp_path_factory.mktemp("audio_run")
    return run_verify(model, str(dataset), ["emulate"], mode="audio", report_dir=report,
                      progress=False), report


@pytest.fixture(scope="session")
def stable():
    return STABLE
