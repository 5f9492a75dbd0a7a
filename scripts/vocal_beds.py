"""How much of the music tracks left out of the beds (sung vocals) micromel and silero-vad call
speech, beside the tracks kept (docs/segmentation.md, "Music with vocals").

    PYTHONPATH=python python scripts/vocal_beds.py models/speech

Prints, per group of held-out drascula-music tracks (the first EXCERPT_S seconds of each,
to keep it short), the share of the audio inside each
system's speech events (micromel with the model's segment config; silero-vad with its
defaults, threshold 0.5). Sung vocals are not speech in the streams' ground truth, so every
second counted here would be a false alarm had the track been a bed."""
from __future__ import annotations

import re
import sys
import tempfile
from pathlib import Path

from micromel.audio import load_audio, write_wav
from micromel.data import debpkg, speech_sources as S
from micromel.modeldir import ModelDir
from micromel.segment import peers, run

EXCERPT_S = 60.0
LEFT_OUT = re.compile(r"/track(1|2|29|30|31)\.ogg$")    # the rule's exclude (speech_sources.py)


def covered(events, seconds: float) -> float:
    return sum(min(b, seconds) - a for a, b in events if a < seconds)


def main(model_dir: str) -> None:
    model = ModelDir.open(model_dir)
    p = model.segment_params(model.segment)
    scorer, silero = run.Scorer(model), peers.Silero()
    src = S.by_name("drascula_music")
    root = debpkg.fetch(src.package, quiet=True, sha256=src.sha256)
    tracks = sorted((root / "usr/share/scummvm/drascula/audio").glob("track*.ogg"), key=lambda f: int(re.search(r"(\d+)", f.name).group(1)))
    totals: dict[str, list[float]] = {}
    for f in tracks:
        group = "left out (vocals)" if LEFT_OUT.search(str(f)) else "kept as beds"
        pcm = load_audio(f, p.sample_rate)[: int(EXCERPT_S * p.sample_rate)]
        seconds = len(pcm) / p.sample_rate
        with tempfile.TemporaryDirectory() as tmp:
            wav = Path(tmp) / "excerpt.wav"
            write_wav(wav, pcm, p.sample_rate)
            res = run.segment_file(wav, model, p, scorer)
        mm = covered([(e.start, e.end) for e in res.events if e.label == "speech"], seconds)
        si = covered(peers.silero_events(silero.probabilities(pcm), len(pcm)), seconds)
        t = totals.setdefault(group, [0.0, 0.0, 0.0])
        t[0], t[1], t[2] = t[0] + seconds, t[1] + mm, t[2] + si
        if group.startswith("left"):
            print(f"{f.name:12s} {seconds:6.1f} s  micromel {mm / seconds:5.1%}  silero-vad {si / seconds:5.1%}")
    for group, (sec, mm, si) in totals.items():
        print(f"{group:18s} {sec / 60:5.1f} min  micromel {mm / sec:5.1%}  silero-vad {si / sec:5.1%}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "models/speech")
