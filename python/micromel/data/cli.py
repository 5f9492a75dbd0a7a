"""Commands `micromel dataset drums|speech|streams|check`: build the built-in datasets
reproducibly from Debian packages, or check a user's dataset."""
from __future__ import annotations

from pathlib import Path

from .. import cliargs
from .beds import build_beds
from .datasets import SPLITS, load_dataset, summary_table
from .drum_sources import FAMILIES
from .drums import build_drums
from .project import init_project
from .speech import build_speech
from .streams import build_streams


def cmd_dataset_drums(args) -> int:
    sources = FAMILIES if args.sources == "all" else args.sources.split(",")
    build_drums(Path(args.out), sources=sources, quiet=args.quiet)
    return 0


def cmd_dataset_beds(args) -> int:
    build_beds(Path(args.out), quiet=args.quiet)
    return 0


def cmd_dataset_check(args) -> int:
    ds = load_dataset(args.data)
    rows = [{"label": lab, "split": s} for _, lab, s in ds.items]
    print(f"{ds.source}: {len(ds.items)} files, {len(ds.labels)} classes"
          + ("" if ds.has_splits else " (no split column: split by a hash of each path)"))
    print(summary_table(rows, ds.labels))
    empty = [f"{lab} ({s})" for s in SPLITS for lab, c in ds.counts()[s].items() if c == 0]
    if empty:
        print("no files for: " + ", ".join(empty))
    return 0


def cmd_dataset_speech(args) -> int:
    counts = {"train": args.train, "val": args.val, "test": args.test}
    build_speech(Path(args.out), window_frames=args.window_frames, counts=counts,
                 seed=args.seed, quiet=args.quiet)
    return 0


def cmd_dataset_streams(args) -> int:
    build_streams(Path(args.out), n_streams=args.count, seconds=args.seconds, seed=args.seed,
                  split=args.split, quiet=args.quiet)
    return 0


def cmd_init(args) -> int:
    made, kept = init_project(Path(args.folder), examples=not args.no_examples)
    for item in made:
        print(f"created {Path(args.folder) / item}")
    for item in kept:
        print(f"kept    {Path(args.folder) / item} (exists)")
    return 0


def register(sub) -> None:
    i = sub.add_parser("init", help="create a project folder: data/, models/ (with the example "
                                    "models), README")
    i.add_argument("folder", nargs="?", default=".", help="the project folder (default: here)")
    i.add_argument("--no-examples", action="store_true",
                   help="do not copy the example models (drums, speech) into models/")
    i.set_defaults(func=cmd_init)

    dsub = cliargs.group_actions(sub, "dataset")
    drums = dsub.add_parser("drums", help="the 5-class drums dataset: one-shots from Debian's "
                                          "Hydrogen kits, GM soundfonts and sample folders")
    drums.add_argument("--out", default="data/drums", help="output folder (default data/drums)")
    drums.add_argument("--sources", default="all",
                       help="source families, comma-separated: %s (default all; hydrogen "
                            "alone needs no soundfont rendering)" % ", ".join(FAMILIES))
    drums.add_argument("--quiet", action="store_true", help="no progress bars")
    drums.set_defaults(func=cmd_dataset_drums)

    beds = dsub.add_parser("beds", help="background recordings (ambience, city machines, tonal "
                                        "instruments; neither drums nor speech) for "
                                        "micromel train --background")
    beds.add_argument("--out", default="data/beds", help="output folder (default data/beds)")
    beds.add_argument("--quiet", action="store_true", help="no progress messages")
    beds.set_defaults(func=cmd_dataset_beds)

    sp = dsub.add_parser("speech", help="speech/non-speech clips from Debian's "
                                        "tuxpaint-stamps-default and hydrogen-drumkits")
    sp.add_argument("--out", default="data/speech", help="output folder (default data/speech)")
    sp.add_argument("--window-frames", type=cliargs.positive_int, default=32,
                    help="frames of the model window the clips are cut for (train with the same)")
    sp.add_argument("--train", type=cliargs.positive_int, default=6000, help="training clips")
    sp.add_argument("--val", type=cliargs.positive_int, default=800, help="validation clips")
    sp.add_argument("--test", type=cliargs.positive_int, default=1200, help="test clips")
    sp.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    sp.add_argument("--quiet", action="store_true", help="no progress bars")
    sp.set_defaults(func=cmd_dataset_speech)

    st = dsub.add_parser("streams", help="evaluation streams: held-out sounds on noise beds "
                                         "at known times (with .events.tsv ground truth)")
    st.add_argument("--out", default="data/speech_streams",
                    help="output folder (default data/speech_streams)")
    st.add_argument("--count", type=cliargs.positive_int, default=10, help="streams (default 10)")
    st.add_argument("--seconds", type=float, default=60.0, help="length of each (default 60)")
    st.add_argument("--split", default="test", choices=["train", "val", "test"],
                    help="which split's sounds to use (default test)")
    st.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    st.add_argument("--quiet", action="store_true", help="no progress bars")
    st.set_defaults(func=cmd_dataset_streams)

    chk = dsub.add_parser("check", help="validate a dataset folder or manifest and count its files")
    chk.add_argument("data", help="folder with one sub-folder per class, or a CSV/TSV manifest")
    chk.set_defaults(func=cmd_dataset_check)
