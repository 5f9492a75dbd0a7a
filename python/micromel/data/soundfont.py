"""Drum one-shots rendered from General MIDI soundfonts (SF2) with the fluidsynth CLI.

Every drum kit of a font (a preset in bank 128) plays one note per GM key of the five
classes (GM_DRUM_KEYS) and velocity (VELOCITIES) on MIDI channel 10, rendered offline
(`fluidsynth -F`, reverb and chorus off, 44.1 kHz float). Rendering, not extracting the raw
samples, because a kit re-pitches one sample over several keys (toms), layers samples and
applies envelopes and filters that only a synthesizer reproduces. Presets whose key map is
not GM (sound effects, metronome, marching, CM-64, GS's Orchestra set) are skipped.

Timing: a note every STEP_S seconds; 0.1 s before each note an all-sound-off (CC 120) stops
the previous one, so no tail leaks into the next one-shot; the note is released after
NOTE_S; the first CUT_S seconds after each note-on are the one-shot.
"""
from __future__ import annotations

import re
import struct
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf

from ..errors import MicromelError

# GM percussion keys of the five classes; 37 (side stick) and every other key are left out.
GM_DRUM_KEYS = {35: "kick", 36: "kick", 38: "snare", 40: "snare",
                42: "hihat", 44: "hihat", 46: "hihat",
                41: "tom", 43: "tom", 45: "tom", 47: "tom", 48: "tom", 50: "tom",
                49: "cymbal", 51: "cymbal", 52: "cymbal", 53: "cymbal", 55: "cymbal", 57: "cymbal",
                59: "cymbal"}
VELOCITIES = (127, 90, 55)
NON_GM_PRESET = re.compile(r"sfx|metronome|marching|cm-64", re.I)
# GS's Orchestra set (program 48, "Orchestra Kit" / "Orchestral") plays timpani on keys 41-53,
# not toms, hi-hats and cymbals: FluidR3, GeneralUser, sf_GMbank and A320U name their samples
# there "Timpani ..."; kept, they were timpani labelled hihat, tom and cymbal
GS_ORCHESTRA_PROGRAM = 48
RENDER_RATE = 44100
STEP_S, NOTE_S, CUT_S = 2.3, 1.2, 2.0
TICKS_PER_S = 960                 # 480 ticks per beat at 500000 us per beat
DRUM_CHANNEL = 9                  # MIDI channel 10
MISSING = ("fluidsynth: not found; `micromel dataset drums` renders the soundfont kits with it: "
           "apt-get install fluidsynth (or --sources hydrogen,samples)")


def fluidsynth_version() -> str:
    """fluidsynth's version line (recorded with a dataset rendered by it)."""
    try:
        out = subprocess.run(["fluidsynth", "--version"], capture_output=True, text=True).stdout
    except FileNotFoundError:
        raise MicromelError(MISSING) from None
    return (out.splitlines() or ["unknown"])[0].strip()


def drum_presets(sf2: Path) -> list[tuple[int, str]]:
    """(program, name) of the GM drum kits of an SF2 file: bank-128 presets, sorted, without
    the non-GM ones. Reads the RIFF chunk list and the preset headers only."""
    presets = []
    try:
        with open(sf2, "rb") as f:
            riff, _size, form = struct.unpack("<4sI4s", f.read(12))
            if riff != b"RIFF" or form != b"sfbk":
                raise MicromelError(f"{sf2}: not a SoundFont 2 file")
            while True:
                head = f.read(8)
                if len(head) < 8:
                    break
                cid, size = struct.unpack("<4sI", head)
                if cid == b"LIST" and f.read(4) == b"pdta":
                    end = f.tell() + size - 4
                    while f.tell() < end:
                        sid, ssize = struct.unpack("<4sI", f.read(8))
                        if sid == b"phdr":
                            data = f.read(ssize)
                            for k in range(0, len(data) - 38 + 1, 38):
                                name, program, bank = struct.unpack_from("<20sHH", data, k)
                                presets.append((bank, program, name.split(b"\0")[0].decode("latin-1")))
                            break
                        f.seek(ssize + (ssize & 1), 1)
                    break
                f.seek(size + (size & 1) - (4 if cid == b"LIST" else 0), 1)
    except (OSError, struct.error) as e:
        raise MicromelError(f"{sf2}: cannot read the soundfont ({e})") from None
    kits = sorted((p, n.strip()) for b, p, n in presets[:-1] if b == 128)   # last: "EOP"
    return [(p, n) for p, n in kits if not NON_GM_PRESET.search(n) and p != GS_ORCHESTRA_PROGRAM]


def _vlq(n: int) -> bytes:
    out = [n & 0x7F]
    n >>= 7
    while n:
        out.append(0x80 | (n & 0x7F))
        n >>= 7
    return bytes(reversed(out))


def midi_file(program: int, notes: list[tuple[int, int]]) -> tuple[bytes, list[float]]:
    """A type-0 Standard MIDI File playing `notes` (key, velocity) with `program` on the drum
    channel, and each note-on's time in seconds."""
    ch = DRUM_CHANNEL
    events = [(0.0, bytes([0xFF, 0x51, 0x03]) + (500000).to_bytes(3, "big"))]
    for cc, v in ((7, 127), (11, 127), (91, 0), (93, 0), (10, 64)):   # volume, expression, no fx, centre
        events.append((0.0, bytes([0xB0 | ch, cc, v])))
    events.append((0.5, bytes([0xC0 | ch, program])))
    onsets = []
    t = 1.0
    for key, vel in notes:
        events.append((t - 0.1, bytes([0xB0 | ch, 120, 0])))          # all sound off
        events.append((t, bytes([0x90 | ch, key, vel])))
        events.append((t + NOTE_S, bytes([0x80 | ch, key, 0])))
        onsets.append(t)
        t += STEP_S
    events.append((t + 0.5, bytes([0xFF, 0x2F, 0x00])))                # end of track
    track, last = b"", 0
    for when, msg in events:
        tick = int(round(when * TICKS_PER_S))
        track += _vlq(tick - last) + msg
        last = tick
    head = b"MThd" + struct.pack(">IHHH", 6, 0, 1, 480)
    return head + b"MTrk" + struct.pack(">I", len(track)) + track, onsets


def render_kit(sf2: Path, program: int, notes: list[tuple[int, int]]) -> list[np.ndarray]:
    """The first CUT_S seconds after each note-on of `notes` played by kit `program` of the
    font: float mono/stereo arrays at RENDER_RATE, one per note."""
    smf, onsets = midi_file(program, notes)
    with tempfile.TemporaryDirectory(prefix="micromel-sf2-") as tmp:
        mid, wav = Path(tmp) / "kit.mid", Path(tmp) / "kit.wav"
        mid.write_bytes(smf)
        cmd = ["fluidsynth", "-n", "-i", "-q", "-R", "0", "-C", "0", "-g", "0.4",
               "-r", str(RENDER_RATE), "-o", "synth.polyphony=256", "-o", "audio.file.format=float",
               "-o", "audio.file.type=wav", "-F", str(wav), str(sf2), str(mid)]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True)
        except FileNotFoundError:
            raise MicromelError(MISSING) from None
        if proc.returncode != 0 or not wav.is_file():
            msg = (proc.stderr.strip().splitlines() or ["no output"])[-1]
            raise MicromelError(f"{sf2}: fluidsynth failed on program {program} ({msg})")
        y, rate = sf.read(str(wav), dtype="float64", always_2d=True)
    n = int(CUT_S * rate)
    return [y[int(round(t * rate)):int(round(t * rate)) + n] for t in onsets]
