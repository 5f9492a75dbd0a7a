"""The peer named in issue 13: pyAudioAnalysis-style features + an RBF SVM, on the same
splits as micromel's drums model (a measuring tool, not part of `micromel train`).

Features (pyAudioAnalysis' ShortTermFeatures/MidTermFeatures layout, computed here with
numpy and librosa): 50 ms frames every 25 ms; zero-crossing rate, energy, energy entropy,
spectral centroid, spread, entropy, flux, roll-off, 13 MFCCs, 12 chroma bins and their
deviation (34), plus their deltas (68); mean and standard deviation over the clip: 136.
Standardised; SVM (RBF) with C chosen on the validation split from 0.1, 1, 10, 100.

    .venv/bin/python scripts/peer_svm.py data/drums              # Hydrogen test kits
    .venv/bin/python scripts/peer_svm.py data/drums --loso all   # each source held out
"""
import argparse
import sys

import numpy as np

from micromel.audio import load_audio
from micromel.data.datasets import load_dataset

SR, WIN, STEP, EPS = 16000, 800, 400, 1e-10


def short_term(x: np.ndarray) -> np.ndarray:
    import librosa

    x = x.astype(np.float64) / 32768.0
    if len(x) < WIN:
        x = np.pad(x, (0, WIN - len(x)))
    frames = librosa.util.frame(x, frame_length=WIN, hop_length=STEP).T
    spec = np.abs(np.fft.rfft(frames * np.hamming(WIN), axis=1)) / WIN
    freqs = np.fft.rfftfreq(WIN, 1 / SR)
    zcr = np.mean(np.abs(np.diff(np.sign(frames), axis=1)), axis=1) / 2
    energy = np.sum(frames ** 2, axis=1) / WIN
    sub = frames.reshape(len(frames), 10, -1)
    e_sub = np.sum(sub ** 2, axis=2) / (np.sum(frames ** 2, axis=1, keepdims=True) + EPS)
    e_ent = -np.sum(e_sub * np.log2(e_sub + EPS), axis=1)
    p = spec / (spec.sum(axis=1, keepdims=True) + EPS)
    centroid = (p * freqs).sum(axis=1)
    spread = np.sqrt((p * (freqs - centroid[:, None]) ** 2).sum(axis=1))
    s_sub = spec.reshape(len(spec), -1)[:, : (spec.shape[1] // 10) * 10].reshape(len(spec), 10, -1)
    s_sub = np.sum(s_sub ** 2, axis=2)
    s_sub /= s_sub.sum(axis=1, keepdims=True) + EPS
    s_ent = -np.sum(s_sub * np.log2(s_sub + EPS), axis=1)
    flux = np.concatenate([[0.0], np.sum((p[1:] - p[:-1]) ** 2, axis=1)])
    cums = np.cumsum(spec ** 2, axis=1)
    rolloff = np.argmax(cums >= 0.9 * cums[:, -1:], axis=1) / spec.shape[1]
    mfcc = librosa.feature.mfcc(y=x, sr=SR, n_mfcc=13, n_fft=WIN, hop_length=STEP, center=False).T
    chroma = librosa.feature.chroma_stft(S=spec.T ** 2, sr=SR, n_fft=WIN).T
    n = min(len(frames), len(mfcc))
    f = np.column_stack([zcr[:n], energy[:n], e_ent[:n], centroid[:n], spread[:n], s_ent[:n],
                         flux[:n], rolloff[:n], mfcc[:n], chroma[:n], chroma[:n].std(axis=1)])
    return np.column_stack([f, np.vstack([np.zeros(f.shape[1]), np.diff(f, axis=0)])])


def clip_features(path) -> np.ndarray:
    f = short_term(load_audio(path, SR))
    return np.concatenate([f.mean(axis=0), f.std(axis=0)])


def fit_score(X, y, split, train_mask, test_mask) -> float:
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    val = (split == "val") & train_mask
    tr = (split == "train") & train_mask
    scaler = StandardScaler().fit(X[tr])
    best = max((SVC(C=c, kernel="rbf").fit(scaler.transform(X[tr]), y[tr]).score(
        scaler.transform(X[val]), y[val]), c) for c in (0.1, 1.0, 10.0, 100.0))
    final = SVC(C=best[1], kernel="rbf").fit(scaler.transform(X[tr | val]), y[tr | val])
    return float(final.score(scaler.transform(X[test_mask]), y[test_mask]))


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("data")
    ap.add_argument("--loso", default="")
    a = ap.parse_args()
    ds = load_dataset(a.data)
    X = np.array([clip_features(p) for p, _, _ in ds.items])
    y = np.array([lab for _, lab, _ in ds.items])
    split = np.array([s for _, _, s in ds.items])
    src = np.array(ds.source_names())
    acc = fit_score(X, y, split, split != "test", split == "test")
    print(f"test split ({int(np.sum(split == 'test'))} clips): SVM accuracy {100 * acc:.1f}%")
    names = sorted(set(src)) if a.loso == "all" else [n for n in a.loso.split(",") if n]
    accs = []
    for name in names:
        held = src == name      # as Dataset.hold_out: the others lose their test clips
        accs.append(fit_score(X, y, split, ~held & (split != "test"), held))
        print(f"{name} held out ({int(held.sum())} clips): SVM accuracy {100 * accs[-1]:.1f}%")
    if accs:
        print(f"mean over {len(accs)} held-out sources: {100 * np.mean(accs):.1f}%")
    return 0


if __name__ == "__main__":
    sys.exit(main())
