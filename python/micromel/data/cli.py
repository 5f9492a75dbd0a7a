"""Commands `micromel dataset drums|speech|streams|add-other|check`: build the built-in datasets
reproducibly from Debian packages, or check a user's dataset."""
from __future__ import annotations

from pathlib import Path

from .. import cliargs
from .beds import build_beds
from .datasets import SPLITS, load_dataset, summary_table
from .drum_sources import FAMILIES
from .drums import build_drums
from .labels import build_from_labels
from .other import UNKNOWN_DIR, add_other
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


def cmd_dataset_from_labels(args) -> int:
    manifest = build_from_labels(args.recordings, Path(args.out), window_frames=args.window_frames,
                                 hop_s=args.hop, min_coverage=args.min_coverage,
                                 background=args.background_label, quiet=args.quiet)
    ds = load_dataset(manifest)
    rows = [{"label": lab, "split": s} for _, lab, s in ds.items]
    print(summary_table(rows, ds.labels))
    print(f"wrote {len(rows)} clips and {manifest}")
    return 0


def cmd_dataset_add_other(args) -> int:
    counts = add_other(args.data, args.other_from, Path(args.out), label=args.label,
                       per_source=args.per_source, unknown_per_source=args.unknown_per_source,
                       seed=args.seed)
    print(f"wrote {args.out}: the dataset plus '{args.label}' ({counts.get('train', 0)} train, "
          f"{counts.get('val', 0)} val clips); {counts.get('unknown', 0)} clips of held-out "
          f"sources in {Path(args.out) / UNKNOWN_DIR} for `micromel reject --unknown`")
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
    build_speech(Path(args.out), window_frames=args.window_frames, centre_frames=args.centre_frames,
                 counts=counts, seed=args.seed, quiet=args.quiet)
    return 0


def cmd_dataset_streams(args) -> int:
    build_streams(Path(args.out), n_streams=args.count, seconds=args.seconds, seed=args.seed,
                  split=args.split, quiet=args.quiet, force=args.force)
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

    sp = dsub.add_parser("speech", help="speech/non-speech clips mixed from many Debian packages "
                                        "(speech, music, ambience, effects; held-out sources = test)")
    sp.add_argument("--out", default="data/speech", help="output folder (default data/speech)")
    sp.add_argument("--window-frames", type=cliargs.positive_int, default=32,
                    help="frames of the model window the clips are cut for (train with the same)")
    sp.add_argument("--centre-frames", type=cliargs.positive_int, default=6,
                    help="frames of the centre slice a clip's label describes: the segmentation "
                         "hop (default 6)")
    sp.add_argument("--train", type=cliargs.positive_int, default=16000, help="training clips")
    sp.add_argument("--val", type=cliargs.positive_int, default=2000, help="validation clips")
    sp.add_argument("--test", type=cliargs.positive_int, default=3000, help="test clips")
    sp.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    sp.add_argument("--quiet", action="store_true", help="no progress bars")
    sp.set_defaults(func=cmd_dataset_speech)

    st = dsub.add_parser("streams", help="evaluation streams: held-out words and effects over music, "
                                         "ambience and noise beds (with .events.tsv ground truth)")
    st.add_argument("--out", default="data/speech_streams",
                    help="output folder (default data/speech_streams)")
    st.add_argument("--count", type=cliargs.positive_int, default=24,
                    help="streams (default 24: half music beds, half ambience or noise)")
    st.add_argument("--seconds", type=cliargs.positive_float, default=60.0,
                    help="length of each (default 60)")
    st.add_argument("--split", default="test", choices=["train", "val", "test"],
                    help="whose sources: test = the held-out sources (default), val = the "
                         "validation sources (for tuning)")
    st.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    st.add_argument("--force", action="store_true",
                    help="replace the streams already in --out (refused without it)")
    st.add_argument("--quiet", action="store_true", help="no progress bars")
    st.set_defaults(func=cmd_dataset_streams)

    fl = dsub.add_parser("from-labels", help="clips of long recordings labelled in Audacity "
                                              "(rec.wav + rec.txt label track), split by recording")
    fl.add_argument("recordings", nargs="+", metavar="DIR_OR_FILE",
                    help="recordings with a label track beside them, or folders of them")
    fl.add_argument("--out", required=True, help="the dataset folder to write")
    fl.add_argument("--window-frames", type=cliargs.positive_int, default=32,
                    help="frames of the model window the clips are cut for (train with the same)")
    fl.add_argument("--hop", type=cliargs.at_least(float, 0.001, "seconds"),
                    help="seconds between clip starts (default half a clip)")
    fl.add_argument("--min-coverage", type=cliargs.finite_float, default=0.5,
                    help="share of a clip a label must cover to name it (default 0.5)")
    fl.add_argument("--background-label", metavar="NAME",
                    help="label of clips no label touches (default: such clips are dropped)")
    fl.add_argument("--quiet", action="store_true", help="no per-recording lines")
    fl.set_defaults(func=cmd_dataset_from_labels)

    ao = dsub.add_parser("add-other", help="a copy of a dataset plus a class of sounds of none of "
                                           "its classes, from another dataset's sources")
    ao.add_argument("data", metavar="DATA", help="the dataset (a manifest with splits)")
    ao.add_argument("--from", dest="other_from", required=True, metavar="OTHER",
                    help="dataset with a source column whose clips are none of DATA's classes "
                         "(e.g. data/speech); its test sources are held out (written to unknown/)")
    ao.add_argument("--out", required=True, help="new dataset folder")
    ao.add_argument("--label", default="other", help="the new class's name (default other)")
    ao.add_argument("--per-source", type=cliargs.positive_int, default=8,
                    help="clips per source of OTHER in each of train and val (default 8)")
    ao.add_argument("--unknown-per-source", type=cliargs.at_least(int, 0, "a whole number"),
                    default=12,
                    help="clips per held-out (test) source written to unknown/ (default 12)")
    ao.add_argument("--seed", type=int, default=0, help="seed of the draw (default 0)")
    ao.set_defaults(func=cmd_dataset_add_other)

    chk = dsub.add_parser("check", help="validate a dataset folder or manifest and count its files")
    chk.add_argument("data", help="folder with one sub-folder per class, or a CSV/TSV manifest")
    chk.set_defaults(func=cmd_dataset_check)
