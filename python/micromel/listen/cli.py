"""Commands `micromel listen` (the board recognises what its own audio input hears, live) and
`micromel record` (capture the board's audio input into a dataset folder)."""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from .. import cliargs
from ..audio import write_wav
from ..errors import MicromelError
from ..link.device import open_device
from ..link.model_device import is_emulated, open_model_device
from ..modeldir import ModelDir
from ..paths import build_dir
from ..segment import output, uncertain
from . import config, run
from .session import SOURCES, Listener

FORMATS = ("json", "audacity", "tsv")


class StatusLine:
    """One status line on stderr: rewritten in place on a terminal, else printed at the end."""

    def __init__(self, quiet: bool):
        self.tty = sys.stderr.isatty() and not quiet
        self.last = ""

    def show(self, st) -> None:
        self.last = st.line()
        if self.tty:
            print("\r" + self.last + "\x1b[K", end="", file=sys.stderr, flush=True)

    def above(self, text: str) -> None:
        """Print a line on stdout without tearing the status line."""
        if self.tty:
            print("\r\x1b[K", end="", file=sys.stderr, flush=True)
        print(text, flush=True)
        if self.tty and self.last:
            print(self.last, end="", file=sys.stderr, flush=True)

    def done(self) -> None:
        if self.tty:
            print("\r\x1b[K", end="", file=sys.stderr, flush=True)
        if self.last:
            print(self.last, file=sys.stderr)


def _source(args) -> str:
    """The audio input the options name (refusing combinations that would ignore one)."""
    emulated = is_emulated(args.device)
    if args.mic and not emulated:
        raise MicromelError("--mic: only the emulated board plays a file through its microphone; "
                            "a real board listens to its own (drop --mic)")
    if args.realtime and not emulated:
        raise MicromelError(f"--realtime: paces an emulator micromel starts (--device emulate or "
                            f"emulate:ENV); --device {args.device} is not one (drop --realtime)")
    source = args.source or ("file" if args.mic else "mic" if not emulated else None)
    if source is None:
        raise MicromelError("--device emulate: give --mic FILE (what the emulated microphone "
                            "plays) or --source tone|noise|silence")
    if source == "file" and not args.mic:
        raise MicromelError("--source file needs --mic FILE")
    if args.mic and source != "file":
        raise MicromelError(f"--mic {args.mic} and --source {source}: the microphone plays the "
                            "file only with --source file (or no --source); drop one")
    return source


def _generator_options(args, source: str) -> None:
    """--tone-hz and --amplitude set the board's signal generator: refused with another
    source (they would be ignored), then their defaults filled in."""
    args.tone_hz = cliargs.needs(args, "tone_hz", source == "tone", "the frequency of --source "
                                 f"tone, not of {source}; drop it (or give --source tone)",
                                 config.TONE_HZ)
    args.amplitude = cliargs.needs(args, "amplitude", source in ("tone", "noise"), "the level of "
                                   f"--source tone|noise, not of {source}; drop it", config.AMPLITUDE)


def _check_tone(args, source: str, rate: int) -> None:
    if source == "tone" and args.tone_hz >= rate // 2:
        raise MicromelError(f"--tone-hz {args.tone_hz}: at or above half the sample rate "
                            f"({rate} Hz) the tone aliases; give less than {rate // 2}")


def _outputs(out: Path | None, formats: set, stem: str, label: str, force: bool) -> None:
    """Refuse before listening if an output would be overwritten."""
    if out is None:
        return
    for f in output.output_paths(out, [stem], formats, label):
        cliargs.new_file(f, "--out", force)


def cmd_listen(args) -> int:
    model = ModelDir.open(args.model_dir)
    model.tflite_bytes          # a folder without its model is refused before any work
    p = model.segment_params()
    source = _source(args)
    _generator_options(args, source)
    _check_tone(args, source, p.sample_rate)
    formats = cliargs.formats_with_out(args, FORMATS)
    label = next((lab for lab in model.labels if lab not in model.segment.background_labels),
                 model.labels[0])
    stem = Path(args.mic).stem if source == "file" else f"listen-{source}-{time.strftime('%Y%m%d-%H%M%S')}"
    out = Path(args.out) if args.out else None
    _outputs(out, formats, stem, label, args.force)
    if args.save_uncertain and source != "file":
        raise MicromelError("--save-uncertain: needs the audio on this computer (--source file "
                            "--mic FILE); a board's own microphone does not send its audio")
    args.uncertain = uncertain.check_options(args, [stem])
    mic = None
    if source == "file":
        mic = run.prepare_mic(args.mic, p.sample_rate, build_dir() / "listen", args.seconds)
        for note in mic.notes:
            print(f"note: {note}", file=sys.stderr)
    line = StatusLine(args.quiet)
    with open_model_device(args.device, model, realtime=args.realtime) as dev:
        lst = Listener(dev)
        if source not in lst.sources:
            raise MicromelError(f"--source {source}: {dev.name} offers {', '.join(lst.sources)}")
        labels = list(model.labels)

        def on_event(raw):
            if not args.quiet:
                line.above(run.event_line(run.timed_events([raw], labels, p, model.reject)[0]))

        res = run.listen(lst, source, str(mic.pcm.resolve()) if mic else "", args.seconds,
                         unpaced=args.unpaced, tone_hz=args.tone_hz, amplitude=args.amplitude,
                         on_event=on_event, on_status=line.show,
                         want_windows=bool(args.save_uncertain))
    line.done()
    st = res.status
    note = run.overrun_note(st, p.sample_rate / p.hop_samples)
    if note:
        print(f"micromel: {note}", file=sys.stderr)
    elif mic is not None and not res.stopped:
        if (st.samples, st.checksum) != (mic.n_samples, mic.checksum):
            raise MicromelError(f"{dev.name}: the emulated microphone delivered {st.samples} samples "
                                f"(checksum {st.checksum:08x}), the file holds {mic.n_samples} "
                                f"(checksum {mic.checksum:08x})")
    fr = res.as_file_result(f"{stem}.wav" if mic is None else args.mic, labels, p,
                            mic.notes if mic else [], model.reject)
    if args.save_uncertain:
        # the device's window scores, in window order (one run: a file is one stream)
        scores = [None] * (1 + max((w[1] for w in res.windows), default=-1))
        for _, index, silent, sc in res.windows:
            scores[index] = None if silent else np.asarray(sc, np.int8)
        picks = uncertain.pick(scores, args.uncertain, p.hop_samples, p.window_samples)
        saved = uncertain.save(Path(args.mic), picks, Path(args.save_uncertain), p.sample_rate)
        print(f"{Path(args.mic).name}: {len(saved)} least sure windows in {args.save_uncertain}",
              file=sys.stderr)
    if out is not None:
        written = output.write_outputs(fr, out, formats)
        if "tsv" in formats:
            written.append(output.write_tsv([fr], label, out / output.tsv_name(label)))
        print(f"wrote {', '.join(str(w) for w in written)}", file=sys.stderr)
    elif args.quiet:
        for e in fr.events:
            print(run.event_line(e))
    return 1 if st.overruns else 0


def cmd_record(args) -> int:
    out = cliargs.out_folder(args.out, "--out", "DATASET/LABEL/")
    label = out.resolve().name
    if not label:           # "/": the clips would be named "-<time>.wav", labelled ''
        raise MicromelError(f"--out {args.out}: its folder name is the clips' label; give "
                            "DATASET/LABEL/")
    if not args.seconds:
        raise MicromelError("record: give --seconds, how much audio to record")
    source = _source(args)
    _generator_options(args, source)
    mic = None
    dev = open_device(args.device, realtime=args.realtime) if is_emulated(args.device) \
        else open_device(args.device)
    with dev:
        lst = Listener(dev)
        if source not in lst.sources:
            raise MicromelError(f"--source {source}: {dev.name} offers {', '.join(lst.sources)}")
        rate = int(dev.info().get("audio_rate", 16000))
        _check_tone(args, source, rate)
        if source == "file":
            mic = run.prepare_mic(args.mic, rate, build_dir() / "listen", args.seconds)
        line = StatusLine(args.quiet)
        pieces, st = run.record(lst, source, args.seconds, str(mic.pcm.resolve()) if mic else "",
                                args.tone_hz, args.amplitude, on_status=line.show,
                                unpaced=args.unpaced)
    line.done()
    stamp = time.strftime("%Y%m%d-%H%M%S")
    clip = int(round(args.clip_seconds * rate)) if args.clip_seconds else None
    clips = [pc[a:a + clip] for pc in pieces for a in range(0, len(pc), clip)] if clip else pieces
    paths = [out / f"{label}-{stamp}-{k:03d}.wav" for k in range(len(clips))]
    for path in paths:
        cliargs.new_file(path, "--out")
    for path, pcm in zip(paths, clips):
        write_wav(path, pcm, rate)
    seconds = sum(len(c) for c in clips) / rate
    print(f"wrote {len(paths)} file(s), {seconds:.2f} s, into {out}/ (label {label!r})",
          file=sys.stderr)
    note = run.overrun_note(st)
    if note:
        print(f"micromel: {note}; each stretch without loss went into its own file",
              file=sys.stderr)
    return 1 if st.overruns else 0


def _input_options(p) -> None:
    p.add_argument("--device", required=True, help=cliargs.DEVICE_HELP)
    p.add_argument("--mic", metavar="FILE",
                   help="--device emulate: the file the emulated microphone plays (any audio "
                        "file; decoded and resampled as `micromel segment` reads it)")
    p.add_argument("--source", choices=sorted(SOURCES),
                   help="the audio input: mic (a real board's default), file (with --mic), or "
                        "the board's signal generator (tone, noise, silence)")
    p.add_argument("--seconds", type=cliargs.at_least(float, 0.0, "a number", above=True,
                                                       maximum=config.SECONDS_MAX),
                   help=f"stop after this much audio, at most {config.SECONDS_MAX:g} (default: "
                        "the end of --mic FILE, or never for a microphone or the generator: "
                        "Ctrl-C stops; `record` needs it)")
    p.add_argument("--realtime", action="store_true",
                   help="--device emulate: run the emulated board in real time (QEMU "
                        "-icount align=on; default: as fast as the host emulates, with the same "
                        "instruction counts)")
    p.add_argument("--tone-hz", type=cliargs.at_least(int, 1, "a whole number",
                                                      maximum=config.TONE_HZ_MAX),
                   help=f"--source tone: frequency (default {config.TONE_HZ})")
    p.add_argument("--amplitude", type=cliargs.at_least(int, 1, "a whole number",
                                                        maximum=config.AMPLITUDE_MAX),
                   help=f"--source tone|noise: peak value of the int16 samples (default "
                        f"{config.AMPLITUDE})")
    p.add_argument("--unpaced", action="store_true",
                   help="feed file or generator audio as fast as the device takes it (no "
                        "real-time deadlines: boards without an audio timer, benchmarks)")
    p.add_argument("--quiet", action="store_true", help="no live events or status line")


def _clip_seconds(text: str) -> float:
    """0 (no split) or at least 0.1 s: a shorter length would write thousands of clips, each
    too short for a window."""
    v = cliargs.non_negative_float(text)
    if 0 < v < 0.1:
        raise argparse.ArgumentTypeError(f"{v}: must be 0 (no split) or at least 0.1")
    return v


def register(sub) -> None:
    s = sub.add_parser(
        "listen", help="the board recognises what its own audio input hears, live",
        description="The device listens to its microphone (an emulated board: --mic FILE "
                    "through its emulated microphone, or its signal generator), runs the "
                    "front end, the model and the segmenter in real time, and reports events "
                    "as they close, its CPU load, overruns and latency. The events are those "
                    "`micromel segment` computes for the same audio. Exit code 1 if audio was "
                    "lost to overruns.")
    s.add_argument("model_dir", metavar="MODEL_DIR", help="model folder (e.g. models/speech)")
    _input_options(s)
    s.add_argument("--out", help="output folder: events as `micromel segment` writes them")
    s.add_argument("--format", action="append", choices=FORMATS,
                   help="what to write into --out (repeatable; default all)")
    s.add_argument("--force", action="store_true", help="overwrite outputs that exist")
    uncertain.add_options(s)
    s.set_defaults(func=cmd_listen)

    r = sub.add_parser(
        "record", help="capture the board's audio input into WAV files of a dataset folder",
        description="Record SECONDS of the device's audio input (its microphone; on the "
                    "emulated board --mic FILE or the generator) into DATASET/LABEL/ as 16-bit "
                    "WAV files, for training with the sensor itself. Audio lost to overruns "
                    "(a link too slow for the audio) is reported; each stretch without loss "
                    "goes into its own file.")
    _input_options(r)
    r.add_argument("--out", required=True, metavar="DIR/LABEL/",
                   help="the class folder of a dataset (created if missing)")
    r.add_argument("--clip-seconds", type=_clip_seconds,
                   help="split the recording into clips of this length (at least 0.1 s; 0: "
                        "one file per stretch without loss, as without the option)")
    r.set_defaults(func=cmd_record)
