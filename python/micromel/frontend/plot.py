"""The comparison plot of `micromel features --plot`: twin and librosa log-mel and their
difference."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from . import reference
from .config import FrontendConfig
from .twin import features


def plot_comparison(pcm: np.ndarray, cfg: FrontendConfig, path: Path, title: str = "") -> dict:
    import matplotlib    # lazy: heavy, only for plots

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    q = features(pcm, cfg)
    ref = reference.logmel_db(pcm, cfg)
    twin_db = cfg.dequantize(q)
    ok, total = reference.fidelity(q, ref, cfg)
    pct = 100.0 * ok / total if total else 100.0
    lo = cfg.out_zero_db - 128 * cfg.out_step_db
    hi = cfg.out_zero_db + 127 * cfg.out_step_db
    t_end = len(q) * cfg.hop_length / cfg.sample_rate
    extent = [0, t_end, 0, cfg.n_mels]
    fig, axes = plt.subplots(3, 1, figsize=(9, 8), sharex=True, constrained_layout=True)
    for ax, data, name in ((axes[0], twin_db, "twin (int8, dequantised)"),
                           (axes[1], ref, "librosa (float)")):
        im = ax.imshow(data.T, origin="lower", aspect="auto", extent=extent, vmin=lo, vmax=hi,
                       cmap="magma")
        ax.set_title(name)
        ax.set_ylabel("mel band")
        fig.colorbar(im, ax=ax, label="dB")
    diff = twin_db - ref
    lim = 3 * cfg.out_step_db
    im = axes[2].imshow(diff.T, origin="lower", aspect="auto", extent=extent, vmin=-lim, vmax=lim,
                        cmap="coolwarm")
    axes[2].set_title(f"twin - librosa: {pct:.2f}% of bins within 60 dB of the window maximum "
                      f"are within one step ({cfg.out_step_db} dB)")
    axes[2].set_ylabel("mel band")
    axes[2].set_xlabel("time (s)")
    fig.colorbar(im, ax=axes[2], label="dB")
    if title:
        fig.suptitle(title)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return {"within_step_pct": pct, "bins": total}
