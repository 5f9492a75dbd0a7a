"""The numbers of docs/training.md's recipe table from model folders trained with
`micromel train ... --loso all` (a reading tool: it prints what their metrics.json hold).

    .venv/bin/python scripts/loso_table.py build/abl/A build/abl/F models/drums
"""
import json
import sys
from pathlib import Path

from micromel.train.evaluate import loso_table


def main() -> int:
    for folder in sys.argv[1:]:
        m = json.loads((Path(folder) / "metrics.json").read_text())
        rows, mean = loso_table(m.get("loso") or [])
        held = "  ".join(f"{s} {100 * a:.1f}" for s, _, _, a in rows)
        test = m["test_int8"]["accuracy"]
        print(f"{folder}: test split {100 * test:.1f}%" + (f" | held out: {held} | mean {100 * mean:.1f}%"
                                                          if rows else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
