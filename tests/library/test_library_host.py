"""An exported library in a user's project outside firmware/, built with the host compiler:
on real audio it computes exactly the twin's windows, scores, events (MM_API_STREAM) and soft
votes (MM_API_CLIP); the results do not depend on how the audio is cut into pushes; its
public header compiles as C99 and C++11 and a C++ program links against it."""
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from micromel.audio import load_audio
from micromel.clip import rules
from micromel.clip.reference import Reference
from micromel.data import debpkg
from micromel.modeldir import ModelDir
from micromel.segment.machine import segment_windows
from micromel.segment.run import host_window_results
from micromel.segment.timebase import Timebase
from userbuild import cmake_build, run, user_project

SR = 16000
FLAGS = "-O2 -Wall -Wextra -Werror"


@pytest.fixture(scope="module")
def stream_wav(tmp_path_factory):
    """28 s of real recordings: spoken phrases (hedgewars voice packs), real drum hits
    (hydrogen), a low noise bed between them and a stretch of digital silence."""
    voices = debpkg.fetch("hedgewars-data", quiet=True) / "usr/share/games/hedgewars/Data/Sounds/voices"
    words = sorted(voices.glob("British/*.ogg"))[:5] + sorted(voices.glob("Pirate/*.ogg"))[:4]
    kits = debpkg.fetch("hydrogen-data", quiet=True) / "usr/share/hydrogen/data/drumkits"
    hits = sorted(p for p in kits.rglob("*") if p.suffix.lower() in (".wav", ".flac"))[::9][:8]
    rng = np.random.default_rng(5)
    parts = []
    for i, w in enumerate(words):
        parts.append(rng.standard_normal(int(0.6 * SR)) * 40)
        parts.append(load_audio(w, SR).astype(float))
        if i < len(hits):
            parts.append(np.zeros(int(0.25 * SR)))
            parts.append(load_audio(hits[i], SR)[:SR].astype(float))
        if i == 4:
            parts.append(np.zeros(2 * SR))
    pcm = np.clip(np.concatenate(parts), -32768, 32767).astype(np.int16)
    path = tmp_path_factory.mktemp("audio") / "stream.wav"
    sf.write(path, pcm, SR, subtype="PCM_16")
    return path


def wav_events(tmp: Path, lib: Path) -> Path:
    """The library's host example, built as a user's own project (its source copied out)."""
    main = (lib / "examples" / "wav_events" / "wav_events.c").read_text()
    project = user_project(tmp / "user_app", lib, {"main.c": main})
    log = cmake_build(project, tmp / "build", FLAGS)
    assert "warning" not in log.lower()
    return tmp / "build" / "app"


def parse(out: str):
    windows, events, votes = [], [], []
    for line in out.splitlines():
        kind, *vals = line.split()
        nums = [int(v) for v in vals]
        {"window": windows, "event": events, "vote": votes}[kind].append(nums)
    return windows, events, votes


@pytest.mark.parametrize("kernels", ["auto", "dsp"])
def test_stream_windows_and_events_equal_the_twin(library, stream_wav, tmp_path, kernels):
    model = ModelDir.open("speech")
    app = wav_events(tmp_path, library("speech", kernels))
    windows, events, _ = parse(run([app, "--raw", "--windows", stream_wav]).stdout)

    p = model.segment_params()
    pcm = sf.read(stream_wav, dtype="int16")[0]
    twin = list(host_window_results([pcm[i:i + 4000] for i in range(0, len(pcm), 4000)], model, p))
    assert len(windows) == len(twin) > 250
    for k, ((scores, silent, _), w) in enumerate(zip(twin, windows)):
        assert w[:3] == [k, k * p.hop_samples, int(silent)]
        assert w[3:] == ([-128] * model.n_classes if silent else [int(s) for s in scores]), k
    assert sum(1 for _, silent, _ in twin if silent) > 10 and sum(1 for _, silent, _ in twin if not silent) > 100

    tb = Timebase.of(p)
    twin_events = segment_windows(iter(twin), p)
    assert len(twin_events) >= 5
    assert [e[:2] + e[4:] for e in events] == [[e.start, e.end, e.label, e.confidence]
                                              for e in twin_events]
    for e, t in zip(events, twin_events):   # times in samples: `micromel segment`'s, rounded down
        assert 0 <= tb.seconds(t.onset) * SR - e[2] < 1 and 0 <= tb.seconds(t.offset) * SR - e[3] < 1


def test_clip_votes_equal_the_twin(library, tmp_path):
    """Drum hits as clips (some shorter than one window: padded as the app pads them)."""
    model = ModelDir.open("drums")
    ref = Reference(model)
    app = wav_events(tmp_path, library("drums"))
    kits = debpkg.fetch("hydrogen-data", quiet=True) / "usr/share/hydrogen/data/drumkits"
    files = sorted(p for p in kits.rglob("*") if p.suffix.lower() in (".wav", ".flac"))[::7][:14]
    voted = 0
    for i, f in enumerate(files):
        pcm = load_audio(f, SR)[: (3000 if i % 4 == 0 else 3 * SR)]
        wav = tmp_path / f"clip{i}.wav"
        sf.write(wav, pcm, SR, subtype="PCM_16")
        windows, events, votes = parse(run([app, "--clip", "--raw", "--windows", wav]).stdout)
        r = ref.clip(pcm)
        assert not events and len(windows) == len(r.scores) >= 1
        for k, (w, s, ok) in enumerate(zip(windows, r.scores, r.nonsilent)):
            assert w[:3] == [k, k * model.window.hop_frames * model.frontend.hop_length, int(not ok)]
            assert w[3:] == ([int(v) for v in s] if ok else [-128] * model.n_classes)
        assert votes == [[r.vote, int(r.nonsilent.sum())] + [int(a) for a in r.acc]]
        voted += r.vote >= 0
    assert voted >= 10
    # a silent clip: no vote, which the example names by the generated MM_API_SILENT
    sf.write(tmp_path / "quiet.wav", np.zeros(SR, np.int16), SR, subtype="PCM_16")
    assert ref.clip(np.zeros(SR, np.float32)).vote == rules.SILENCE
    assert run([app, "--clip", "--raw", tmp_path / "quiet.wav"]).stdout.split()[:3] == ["vote", str(rules.SILENCE), "0"]
    assert run([app, "--clip", tmp_path / "quiet.wav"]).stdout == "clip: silence (0 windows voted)\n"


CXX_MAIN = r'''
// A C++ user program: the public header from C++, audio pushed in blocks of uneven sizes.
#include <cstdio>
#include <cstdlib>
#include <vector>
#include "@NAME@.h"

// The porting layer: a user's cycle counter replaces the weak default (each call +1000).
extern "C" uint32_t mm_api_port_cycles(void) {
  static uint32_t t;
  return t += 1000;
}

static void on_window(const mm_api_window *w, void *) {
  if (w->cycles != (w->silent ? 0u : 1000u)) std::exit(3);
  std::printf("window %lu %llu %u", (unsigned long)w->index, (unsigned long long)w->start_sample,
              (unsigned)w->silent);
  for (int c = 0; c < MM_API_N_CLASSES; c++) std::printf(" %d", w->scores[c]);
  std::printf("\n");
}
static void on_event(const mm_api_event *e, void *) {
  std::printf("event %lu %lu %llu %llu %u %u\n", (unsigned long)e->first_window,
              (unsigned long)e->end_window, (unsigned long long)e->start_sample,
              (unsigned long long)e->end_sample, (unsigned)e->label, (unsigned)e->confidence);
}

int main() {
  static mm_api_ctx rec;
  static_assert(MM_API_STATE_BYTES == sizeof(mm_api_ctx), "state size");
  std::vector<int16_t> pcm;
  int16_t s;
  while (std::fread(&s, 2, 1, stdin) == 1) pcm.push_back(s);
  const mm_api_handlers h = {on_window, on_event, nullptr};
  if (mm_api_init(&rec, MM_API_STREAM, &h) != MM_API_OK) return 1;
  static const size_t sizes[] = {1, 255, 256, 257, 3, 4000, 0, 1537, 77};
  size_t at = 0;
  for (int k = 0; at < pcm.size(); k++) {
    size_t n = sizes[k % 9] < pcm.size() - at ? sizes[k % 9] : pcm.size() - at;
    if (mm_api_push(&rec, pcm.data() + at, n) < 0) return 1;
    at += n;
  }
  if (mm_api_push(&rec, nullptr, 1) != MM_API_ERR_ARG || mm_api_finish(&rec) < 0) return 1;
  if (mm_api_push(&rec, pcm.data(), 1) != MM_API_ERR_STATE) return 1;  // finished: reset first
  return mm_api_label(MM_API_N_CLASSES) == nullptr && mm_api_label(-1) == nullptr ? 0 : 1;
}
'''


def test_cxx_program_and_any_push_sizes_give_the_same_results(library, stream_wav, tmp_path):
    lib = library("speech")
    app = wav_events(tmp_path / "c", lib)
    want = run([app, "--raw", "--windows", stream_wav]).stdout
    project = user_project(tmp_path / "cxx", lib, {"main.cpp": CXX_MAIN.replace("@NAME@", lib.name)},
                           lang="C CXX")
    log = cmake_build(project, tmp_path / "cxx_build", FLAGS, extra=("-DCMAKE_CXX_STANDARD=11",))
    assert "warning" not in log.lower()
    raw = sf.read(stream_wav, dtype="int16")[0].astype("<i2").tobytes()
    got = run_stdin(tmp_path / "cxx_build" / "app", raw)
    assert got == want and want.count("event") >= 5


def run_stdin(exe, data: bytes) -> str:
    proc = subprocess.run([str(exe)], input=data, capture_output=True)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.decode()


@pytest.mark.parametrize("std", ["gcc -x c -std=c99", "g++ -x c++ -std=c++11"])
def test_public_header_compiles_as_c99_and_cxx11(library, tmp_path, std):
    lib = library("drums")
    src = tmp_path / "t.c"
    src.write_text(f'#include "{lib.name}.h"\nint f(void);\nint f(void) {{ return MM_API_N_CLASSES; }}\n')
    run([*std.split(), "-pedantic-errors", "-Wall", "-Wextra", "-Werror", "-fsyntax-only",
         f"-I{lib / 'src'}", src])


FEATURES_MAIN = r"""/* Windows of int8 features on stdin -> the int8 scores of each on stdout. */
#include <stdio.h>
#include "@NAME@.h"
int main(void) {
  static int8_t f[MM_API_FEATURE_BYTES];
  int8_t s[MM_API_N_CLASSES];
  while (fread(f, 1, sizeof f, stdin) == sizeof f) {
    int top = mm_api_classify_features(f, s);
    printf("%d", top);
    for (int c = 0; c < MM_API_N_CLASSES; c++) printf(" %d", s[c]);
    printf("\n");
  }
  return mm_api_classify_features(NULL, s) == MM_API_ERR_ARG ? 0 : 1;
}
"""


def test_one_window_of_features_equals_the_twin(library, tmp_path):
    """The entry point for users who compute features themselves: TFLite Micro's scores."""
    model = ModelDir.open("drums")
    ref = Reference(model)
    lib = library("drums")
    project = user_project(tmp_path / "user_app", lib, {"main.c": FEATURES_MAIN.replace("@NAME@", lib.name)})
    log = cmake_build(project, tmp_path / "build", FLAGS)
    assert "warning" not in log.lower()
    kits = debpkg.fetch("hydrogen-data", quiet=True) / "usr/share/hydrogen/data/drumkits"
    files = sorted(p for p in kits.rglob("*") if p.suffix.lower() in (".wav", ".flac"))[1::11][:6]
    wins = np.concatenate([ref.clip(load_audio(f, SR)[: 2 * SR]).windows for f in files])
    rng = np.random.default_rng(3)
    wins = np.concatenate([wins, rng.integers(-128, 128, (4,) + wins.shape[1:], dtype=np.int8)])
    got = run_stdin(tmp_path / "build" / "app", wins.astype(np.int8).tobytes()).splitlines()
    assert len(got) == len(wins) >= 10
    for line, w in zip(got, wins):
        scores = ref.scores(w)
        assert line.split() == [str(int(np.argmax(scores)))] + [str(int(v)) for v in scores]


def test_event_names_follow_the_rejection_rule_as_segment_names_them(library, stream_wav,
                                                                      tmp_path):
    """models/drums has a rejection rule (config.json "reject"): an event it refuses is
    "unknown" in `micromel segment` and `listen`; the examples printed the event's raw class
    (mm_api_label(e->label)) until they asked mm_api_event_answer."""
    from micromel.segment.run import timed_events
    model = ModelDir.open("drums")
    app = wav_events(tmp_path, library("drums"))
    printed = [line.split("\t")[2] for line in run([app, stream_wav]).stdout.splitlines()
               if line.count("\t") == 3]
    p = model.segment_params()
    pcm = sf.read(stream_wav, dtype="int16")[0]
    twin = segment_windows(host_window_results([pcm[i:i + 4000] for i in range(0, len(pcm), 4000)],
                                               model, p), p)
    names = [e.label for e in timed_events(model, twin, p)]
    assert printed == names and "unknown" in names and len(set(names)) > 2, (printed, names)
