"""Open-set rejection on the emulated board: a model with a rejection rule answers class or
"unknown" on the device exactly as the host reference does (clip/reject.py ==
firmware/lib/mm_clip mm_clip_decide through the generated header), clip by clip."""
import numpy as np
import pytest
import soundfile as sf

from micromel.audio import load_audio
from micromel.clip import reject
from micromel.clip.reference import Reference
from micromel.data import debpkg
from micromel.hil.classify import classify_files
from micromel.modeldir import ModelDir

pytestmark = pytest.mark.emulator


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    root = debpkg.fetch("hydrogen-data") / "usr/share/hydrogen/data/drumkits"
    files = sorted(p for p in root.rglob("*") if p.suffix.lower() in (".wav", ".flac"))[:8]
    out = tmp_path_factory.mktemp("clips")
    paths = []
    for i, f in enumerate(files):
        path = out / f"clip{i}.wav"
        sf.write(path, load_audio(f, 16000)[: 8000 + 2000 * (i % 3)], 16000, subtype="PCM_16")
        paths.append(path)
    sf.write(out / "silence.wav", np.zeros(9000, np.int16), 16000, subtype="PCM_16")
    return paths + [out / "silence.wav"]


def test_device_answers_unknown_exactly_like_the_twin(tmp_path, clips):
    from micromel.engine import zoo

    model = ModelDir.open(zoo.make("drums", tmp_path / "m", seed=5, input_shape=(32, 40, 1)))
    ref = Reference(model)
    # a rule between the clips' mean top probabilities: some clips pass, some are unknown
    stats = [reject.clip_stats(c.acc[None, :], np.array([int(c.nonsilent.sum())]))
             for c in map(ref.clip, (load_audio(p, 16000) for p in clips))]
    tops = sorted(int(t[1][0]) for t in stats if t[1][0] >= 0)
    assert len(set(tops)) >= 2, tops
    rule = reject.RejectConfig(min_top=tops[len(tops) // 2])
    model = model.replace(reject=rule).save()

    host = classify_files(model, clips)
    dev = classify_files(model, clips, device="emulate")
    assert [r["label"] for r in dev] == [r["label"] for r in host]
    assert [r["windows"] for r in dev] == [r["windows"] for r in host]
    labels = [r["label"] for r in host]
    assert reject.UNKNOWN_LABEL in labels and "(silence)" in labels
    assert any(lab in model.labels for lab in labels)

    # a floor per class (MM_CLIP_REJECT_MIN_TOP as an array): the same floor for the class the
    # clips vote, one no clip reaches for every other class; the answers stay those of the
    # single floor only if the device reads the voted class's entry
    voted = {int(t[0][0]) for t in stats if t[0][0] >= 0}
    floors = tuple(rule.min_top if c in voted else 256 for c in range(model.n_classes))
    assert len(voted) < model.n_classes and len(set(floors)) == 2
    per_class = model.replace(reject=reject.RejectConfig(class_min_top=floors)).save()
    assert per_class.hash != model.hash
    dev2 = classify_files(per_class, clips, device="emulate")
    assert [r["label"] for r in dev2] == [r["label"] for r in classify_files(per_class, clips)]
    assert [r["label"] for r in dev2] == labels
