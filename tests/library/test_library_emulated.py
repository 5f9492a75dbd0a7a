"""The exported library in a user's image on the emulated Cortex-M4F (QEMU mps2-an386, the DSP
kernels): built by `pio ci` against the packed library, it runs real recordings held in flash
and computes exactly the twin's windows, scores and events (the program compares them with
the twin's, embedded beside the audio, and exits through semihosting with the verdict)."""
import shutil
import subprocess

import numpy as np
import pytest

from micromel.audio import load_audio
from micromel.data import debpkg
from micromel.library import sizes
from micromel.modeldir import ModelDir
from micromel.segment.machine import segment_windows
from micromel.segment.run import host_window_results
from userbuild import needs_arm, pio_ci

SR = 16000
MAIN = r"""/* A user's program: the recordings of audio.h pushed in blocks of 160 samples, every
 * window and event compared with the twin's (expected.h). Exit code: 0 all equal, 1 a window
 * differs, 2 an event differs, 3 a count differs, 4 an API error. */
#include <stdint.h>
#include "@NAME@.h"
#include "audio.h"
#include "expected.h"

void mm_board_exit(int code); /* the board's startup (semihosting on the emulated board) */

static uint32_t windows, events;
static int verdict;

static void on_window(const mm_api_window *w, void *user) {
  (void)user;
  if (w->index != windows || windows >= N_WINDOWS || w->silent != silent[windows]) verdict = 1;
  for (int c = 0; !verdict && c < MM_API_N_CLASSES; c++) {
    if (w->scores[c] != scores[windows][c]) verdict = 1;
  }
  windows++;
}

static void on_event(const mm_api_event *e, void *user) {
  (void)user;
  if (events >= N_EVENTS || e->first_window != event[events][0] || e->end_window != event[events][1] ||
      e->label != event[events][2] || e->confidence != event[events][3]) verdict = verdict ? verdict : 2;
  events++;
}

int main(void) {
  static mm_api_ctx rec;
  const mm_api_handlers h = {on_window, on_event, 0};
  int rc = mm_api_init(&rec, MM_API_STREAM, &h);
  for (uint32_t at = 0; rc >= 0 && at < N_SAMPLES; at += 160) {
    rc = mm_api_push(&rec, pcm + at, N_SAMPLES - at < 160 ? N_SAMPLES - at : 160);
  }
  if (rc >= 0) rc = mm_api_finish(&rec);
  if (!verdict && (windows != N_WINDOWS || events != N_EVENTS)) verdict = 3;
  mm_board_exit(rc < 0 ? 4 : verdict);
  return 0;
}
"""


def c_array(ctype: str, name: str, values) -> str:
    vals = ", ".join(str(int(v)) for v in np.asarray(values).reshape(-1))
    dims = "".join(f"[{d}]" for d in np.asarray(values).shape)
    return f"static const {ctype} {name}{dims} = {{{vals}}};\n"


@needs_arm
@pytest.mark.emulator
@pytest.mark.skipif(shutil.which("qemu-system-arm") is None, reason="qemu-system-arm not installed")
def test_user_image_on_the_emulated_m4f_equals_the_twin(library, tmp_path):
    model = ModelDir.open("speech")
    voices = debpkg.fetch("hedgewars-data", quiet=True) / "usr/share/games/hedgewars/Data/Sounds/voices"
    kits = debpkg.fetch("hydrogen-data", quiet=True) / "usr/share/hydrogen/data/drumkits"
    hit = sorted(p for p in kits.rglob("*") if p.suffix.lower() in (".wav", ".flac"))[20]
    parts = [np.zeros(SR // 2), load_audio(sorted(voices.glob("Classic/*.ogg"))[3], SR),
             np.zeros(SR // 3), load_audio(hit, SR)[:SR], load_audio(sorted(voices.glob("Default_ru/*.ogg"))[5], SR),
             np.zeros(2 * SR)]
    pcm = np.clip(np.concatenate([np.asarray(p, float) for p in parts]), -32768, 32767).astype(np.int16)
    p = model.segment_params()
    twin = list(host_window_results([pcm], model, p))
    events = segment_windows(iter(twin), p)
    assert len(twin) > 30 and events and any(s is not None for s, *_ in twin) and any(sil for _, sil, *_ in twin)

    lib = library("speech")
    scores = [s if s is not None else [-128] * model.n_classes for s, *_ in twin]
    sources = {
        "main.c": MAIN.replace("@NAME@", lib.name),
        "audio.h": f"#define N_SAMPLES {len(pcm)}u\n" + c_array("int16_t", "pcm", pcm),
        "expected.h": (f"#define N_WINDOWS {len(twin)}u\n#define N_EVENTS {len(events)}u\n"
                       + c_array("uint8_t", "silent", [int(sil) for _, sil, *_ in twin])
                       + c_array("int8_t", "scores", scores)
                       + c_array("uint32_t", "event", [[e.start, e.end, e.label, e.confidence]
                                                       for e in events])),
    }
    rc, out, elf = pio_ci(tmp_path, sources, sizes.pack(lib, tmp_path / "pack"), "mps2_an386")
    assert rc == 0, out
    run = subprocess.run(["qemu-system-arm", "-M", "mps2-an386", "-nographic", "-monitor", "none",
                          "-serial", "null", "-semihosting-config", "enable=on,target=native",
                          "-kernel", str(elf)], capture_output=True, timeout=300)
    assert run.returncode == 0, (run.returncode, run.stderr[-500:])
