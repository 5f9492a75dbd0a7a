"""Development runs behind docs/training.md's log: train one training variant for several
seeds on a dataset and print each seed's clip accuracy on the test split (float and int8),
then the accuracy of the seeds' networks combined offline (summed log-probabilities).

    .venv/bin/python scripts/train_dev_runs.py data/drums 0,1,2,3 '{"arch": "dscnn-m4", "frontend": {"mel_htk": true}}'

The JSON holds TrainConfig fields (arch, frontend, epochs, ...). Nothing is written to models/;
this is a measuring tool, not part of `micromel train`.
"""
import json
import sys

import numpy as np

from micromel.train import evaluate
from micromel.train.config import TrainConfig
from micromel.train.features import eval_windows
from micromel.train.run import prepare_data, train_one


def clip_probs(model, cf, w, fr):
    x, ns, own = eval_windows(cf, w, fr)
    p = evaluate.predict_float(model, x[ns])
    owners = own[ns]
    out = np.zeros((len(cf), p.shape[1]))
    for i in range(len(cf)):
        sel = owners == i
        if sel.any():
            out[i] = p[sel].mean(axis=0)
    return out


def main() -> int:
    data, seeds = sys.argv[1], [int(s) for s in sys.argv[2].split(",")]
    opts = json.loads(sys.argv[3]) if len(sys.argv) > 3 else {}
    logp = []
    for seed in seeds:
        cfg = TrainConfig(**{**opts, "seed": seed})
        fcfg = cfg.frontend_config()
        ds, fr, tr, va, te = prepare_data(data, fcfg, cfg, quiet=True)
        res = train_one(ds, fr, fcfg, tr, va, None, cfg, quiet=True)
        probs = clip_probs(res["model"], te, cfg.window, fr)
        logp.append(np.log(probs + 1e-7))
        i8 = evaluate.evaluate_int8(res["flat"], te, cfg.window, fr, ds.labels)["accuracy"]
        print(f"seed {seed}: float {100 * np.mean(probs.argmax(1) == te.label):.1f}  "
              f"int8 {100 * i8:.1f}  epochs {res['epochs_run']}", flush=True)
    if len(logp) > 1:
        acc = np.mean(np.sum(logp, axis=0).argmax(1) == te.label)
        print(f"the {len(logp)} seeds' networks combined (float): {100 * acc:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
