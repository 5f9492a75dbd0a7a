"""The peers `micromel evaluate-segments` runs on the same streams: speech detectors a user
could pick instead of micromel. Each takes int16 mono PCM at 16 kHz and returns (onset,
offset) events in seconds.

- auditok (PyPI, energy only): `auditok.split` with 50 ms analysis windows, trailing silence
  dropped, the given energy threshold (its dB scale), maximum silence and minimum duration.
  Run over a grid of thresholds and maximum silences; its best setting is reported.
- WebRTC VAD (PyPI `webrtcvad-wheels`, the fixed-point GMM VAD of WebRTC): its decision per
  30 ms frame at aggressiveness 0-3; speech frames joined into events, gaps shorter than
  JOIN_S merged (as auditok's maximum silence), events shorter than MIN_S dropped.
- silero-vad (PyPI `silero-vad`, the ONNX model its wheel ships, run with onnxruntime: no
  torch): its speech probability per 32 ms frame (512 samples and 64 of context, the LSTM
  state carried), then silero's own rule (`get_speech_timestamps`: start at
  p >= threshold, end after min_silence at p < threshold - 0.15, drop shorter than
  min_speech, pad by speech_pad), with silero's defaults; also over a threshold grid.
  Install without torch: `pip install --no-deps silero-vad onnxruntime`."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

from ..errors import MicromelError

SR = 16000
JOIN_S = 0.3
MIN_S = 0.1


def runs_to_events(active: np.ndarray, frame_s: float, join_s: float = 0.0,
                   min_s: float = 0.0) -> list[tuple[float, float]]:
    """Runs of active frames as (onset, offset) seconds; gaps shorter than join_s merged,
    events shorter than min_s dropped."""
    a = np.concatenate([[False], np.asarray(active, bool), [False]])
    d = np.flatnonzero(a[1:] != a[:-1])
    out: list[list[float]] = []
    for s, e in zip(d[::2], d[1::2]):
        on, off = s * frame_s, e * frame_s
        if out and on - out[-1][1] < join_s:
            out[-1][1] = off
        else:
            out.append([on, off])
    return [(a, b) for a, b in out if b - a >= min_s]


# --------------------------------------------------------------------------------------
def auditok_events(wav: Path, threshold: float, max_silence: float, min_duration: float,
                   max_duration: float = 3600.0) -> list[tuple[float, float]]:
    import auditok    # lazy: only for the peer comparison

    regions = auditok.split(str(wav), min_dur=max(min_duration, 0.05), max_dur=max_duration,
                            max_silence=max_silence, drop_trailing_silence=True,
                            energy_threshold=threshold, analysis_window=0.05)
    return [(float(r.start), float(r.end)) for r in regions]


def check_installed(which) -> None:
    """Before any stream is read: each peer asked for has its packages, or one line says how
    to install them and how to leave the peer out (silero-vad's wheel is installed apart:
    its declared dependencies pull torch)."""
    needs = {"webrtc": (("webrtcvad", "pip install 'micromel[peers]'"),),
             "silero": (("onnxruntime", "pip install 'micromel[peers]'"),
                        ("silero_vad", "pip install --no-deps silero-vad"))}
    for peer in which:
        todo = [cmd for module, cmd in needs.get(peer, ()) if importlib.util.find_spec(module) is None]
        if todo:
            rest = ",".join(w for w in which if w != peer) or "''"
            raise MicromelError(f"--peers: {peer} is not installed ({'; '.join(todo)}); or leave "
                                f"it out: --peers {rest}")


def _require(module: str, peer: str) -> None:
    """The optional peers' packages (micromel[peers]) are not installed with micromel."""
    if importlib.util.find_spec(module) is None:
        raise MicromelError(f"{peer} is not installed: pip install 'micromel[peers]'")


# --------------------------------------------------------------------------------------
def webrtc_events(pcm: np.ndarray, mode: int, frame_ms: int = 30) -> list[tuple[float, float]]:
    _require("webrtcvad", "WebRTC VAD")
    import webrtcvad    # lazy: only for the peer comparison
    vad = webrtcvad.Vad(mode)
    n = SR * frame_ms // 1000
    pcm = np.asarray(pcm, dtype="<i2")
    frames = len(pcm) // n
    active = np.array([vad.is_speech(pcm[k * n:(k + 1) * n].tobytes(), SR) for k in range(frames)])
    return runs_to_events(active, n / SR, JOIN_S, MIN_S)


# --------------------------------------------------------------------------------------
SILERO_DEFAULTS = {"threshold": 0.5, "min_speech_ms": 250, "min_silence_ms": 100, "speech_pad_ms": 30}
SILERO_FRAME = 512
SILERO_CONTEXT = 64


def silero_model_path() -> Path:
    """silero_vad.onnx inside the installed silero-vad wheel (its package is not imported:
    that would import torch)."""
    spec = importlib.util.find_spec("silero_vad")
    if spec is None or not spec.submodule_search_locations:
        raise MicromelError("silero-vad: not installed; pip install --no-deps silero-vad onnxruntime")
    p = Path(list(spec.submodule_search_locations)[0]) / "data" / "silero_vad.onnx"
    if not p.is_file():
        raise MicromelError(f"silero-vad: {p} is missing; reinstall silero-vad")
    return p


class Silero:
    """silero-vad's ONNX model: speech probability per 32 ms frame of a 16 kHz stream."""

    def __init__(self, path: Path | None = None):
        _require("onnxruntime", "silero-vad")
        import onnxruntime    # lazy: only for the peer comparison
        opts = onnxruntime.SessionOptions()
        opts.inter_op_num_threads = 1
        opts.intra_op_num_threads = 1
        self.session = onnxruntime.InferenceSession(str(path or silero_model_path()), sess_options=opts,
                                                    providers=["CPUExecutionProvider"])

    def probabilities(self, pcm: np.ndarray) -> np.ndarray:
        x = np.asarray(pcm, dtype=np.float32) / 32768.0
        frames = -(-len(x) // SILERO_FRAME)
        x = np.pad(x, (SILERO_CONTEXT, frames * SILERO_FRAME - len(x)))
        state = np.zeros((2, 1, 128), dtype=np.float32)
        sr = np.array(SR, dtype=np.int64)
        out = np.zeros(frames, dtype=np.float32)
        for k in range(frames):
            chunk = x[k * SILERO_FRAME: (k + 1) * SILERO_FRAME + SILERO_CONTEXT][None, :]
            p, state = self.session.run(None, {"input": chunk, "state": state, "sr": sr})
            out[k] = float(p.reshape(-1)[0])
        return out


def silero_events(probs: np.ndarray, n_samples: int, threshold: float = 0.5, min_speech_ms: int = 250,
                  min_silence_ms: int = 100, speech_pad_ms: int = 30) -> list[tuple[float, float]]:
    """silero's get_speech_timestamps rule (module doc) on per-frame probabilities."""
    neg = max(threshold - 0.15, 0.01)
    min_speech = SR * min_speech_ms / 1000
    min_silence = SR * min_silence_ms / 1000
    pad = int(SR * speech_pad_ms / 1000)
    speeches, start, temp_end, on = [], 0, 0, False
    for k, p in enumerate(probs):
        s = SILERO_FRAME * k
        if p >= threshold:
            temp_end = 0
            if not on:
                on, start = True, s
            continue
        if on and p < neg:
            temp_end = temp_end or s
            if s - temp_end >= min_silence:
                if temp_end - start > min_speech:
                    speeches.append([start, temp_end])
                on, temp_end = False, 0
    if on and n_samples - start > min_speech:
        speeches.append([start, n_samples])
    for i, sp in enumerate(speeches):          # silero's padding: half the gap when it is short
        if i == 0:
            sp[0] = max(0, sp[0] - pad)
        if i < len(speeches) - 1:
            gap = speeches[i + 1][0] - sp[1]
            if gap < 2 * pad:
                sp[1] += gap // 2
                speeches[i + 1][0] = max(0, speeches[i + 1][0] - gap // 2)
            else:
                sp[1] = min(n_samples, sp[1] + pad)
                speeches[i + 1][0] = max(0, speeches[i + 1][0] - pad)
        else:
            sp[1] = min(n_samples, sp[1] + pad)
    return [(a / SR, b / SR) for a, b in speeches]
