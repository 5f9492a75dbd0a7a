"""Every integer table and constant of the fixed-point front end, derived from a
FrontendConfig. The numpy twin (twin.py) and the C front end (through the generated
header, header.py) use exactly these numbers.

Scaling chain of one frame (x: int16 samples, y_f = x / 32768 the float signal librosa sees,
N = n_fft, M = N/2 the complex FFT length):
  window    y[n] = (x[n] * win[n] + 2^(f-1)) >> f, |y| <= 2^14, with the per-frame shift f
            chosen from per-segment bounds of |x| (see twin.py); y ~ y_f * w * 2^(30 - f)
  fft       z[n] = y[2n] + j y[2n+1] (int16 pairs); radix-4 DIT, /4 per stage in 16 bits
            except the last stage, which sums exactly in 32 bits: Z = FFT_M(z) / (M/4)
  split     A = Z[k] + conj Z[M-k], B = Z[k] - conj Z[M-k], u = T_k B / 2 (SMULWB),
            T_k = -j e^{-2 pi j k / N} in Q15; X[k] = ((A >> 1) + u) >> 1 ~ FFT_N(y) / (M/2)
  power     P[k] = Re X^2 + Im X^2 (uint32) ~ P_f[k] * 2^(2(30 - f)) / (M/2)^2
  filterbank acc[m] = sum_k melw[m, k] * P[k] (64 bits), melw = round(librosa weights * 2^mel_shift)
  log       log2(mel_f) = log2(acc) + 2 f + log_offset, log_offset = -60 + 2 log2(M/2) - mel_shift
  output    q = clip(floor((L * out_mult + out_bias) / 2^32), -128, 127), L = log2(mel_f) in Q16
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from math import gcd

import numpy as np
import scipy.signal

from .config import FrontendConfig

LOG_TABLE_BITS = 6          # log2(1 + i / 64) table, linear interpolation in between
LOG_FRAC_BITS = 16          # L is log2 in Q16
SEGMENT_MAX = 32            # samples per normalisation segment (at most)
WINDOW_PEAK_BITS = 15       # window Q15: values < 2^15


@dataclass(frozen=True)
class FrontendTables:
    cfg: FrontendConfig
    window_q15: np.ndarray      # int16 [n_fft]
    seg_len: int                # samples per normalisation segment
    seg_win_bits: np.ndarray    # uint8 [n_fft / seg_len]: bit length of the segment's max window
    fft_n: int                  # complex FFT length N/2
    fft_stages: int             # radix-4 stages
    twiddle_re: np.ndarray      # int16 [3 * fft_n / 4]: W_{N/2}^k, Q15
    twiddle_im: np.ndarray
    fft_perm: np.ndarray        # uint16 [fft_n]: the FFT buffer position of input pair n (digit reversal)
    bin_lo: int                 # first and one-past-last FFT bin the filterbank uses
    bin_hi: int
    split_re: np.ndarray        # int16 [fft_n/2 + 1]: T_k = -j e^{-2 pi j k / N}, Q15, k = 0..M/2
    split_im: np.ndarray
    input_bound: float          # worst-case sum |y| of a frame (for the overflow checks)
    mel_shift: int              # mel weights are float weights * 2^mel_shift
    # Triangular filters overlap in pairs: bins [bin_lo, bin_hi) fall into n_mels + 1
    # segments; a bin of segment s feeds band s - 1 (falling slope, weight mel_w_down) and
    # band s (rising slope, weight mel_w_up); band -1 and band n_mels do not exist (weight 0).
    mel_seg_end: np.ndarray     # uint16 [n_mels + 1]: one past the last bin of segment s
    mel_w_down: np.ndarray      # uint16 [bin_hi - bin_lo]
    mel_w_up: np.ndarray        # uint16 [bin_hi - bin_lo]
    log_table: np.ndarray       # uint32 [2^LOG_TABLE_BITS + 1]: log2(1 + i/2^bits) in Q16
    log_offset: int             # added to log2(acc) (integer part) before output scaling
    out_mult: int               # int32: 10 log10(2) / out_step_db in Q16
    out_bias: int               # int64: -out_zero_db / out_step_db in Q32, + 2^31 (rounding)

    @property
    def n_weights(self) -> int:
        return int(np.count_nonzero(self.mel_w_down) + np.count_nonzero(self.mel_w_up))

    def mel_matrix(self) -> np.ndarray:
        """The quantised filterbank as a dense (n_mels, n_bins) int64 matrix."""
        n_mels = self.cfg.n_mels
        m = np.zeros((n_mels + 2, self.cfg.n_bins), dtype=np.int64)   # rows: band -1 .. n_mels
        k = self.bin_lo
        for seg, end in enumerate(self.mel_seg_end):
            for kk in range(k, int(end)):
                m[seg, kk] += self.mel_w_down[kk - self.bin_lo]          # band seg - 1
                m[seg + 1, kk] += self.mel_w_up[kk - self.bin_lo]        # band seg
            k = int(end)
        return m[1:n_mels + 1]


def q15(v: np.ndarray) -> np.ndarray:
    return np.clip(np.round(np.asarray(v, dtype=np.float64) * 32768.0), -32768, 32767).astype(np.int16)


def window_float(cfg: FrontendConfig) -> np.ndarray:
    """The analysis window librosa uses (periodic, fftbins=True)."""
    return scipy.signal.get_window(cfg.window, cfg.n_fft, fftbins=True)


def mel_float(cfg: FrontendConfig) -> np.ndarray:
    import librosa

    return librosa.filters.mel(sr=cfg.sample_rate, n_fft=cfg.n_fft, n_mels=cfg.n_mels,
                               fmin=cfg.fmin, fmax=cfg.fmax, htk=cfg.mel_htk,
                               norm="slaney" if cfg.mel_norm == "slaney" else None,
                               dtype=np.float64)


def digit_reverse_perm(n: int) -> np.ndarray:
    """Base-4 digit reversal of 0..n-1 (n a power of 4): the radix-4 DIT FFT reads its
    input in this order and leaves its output in natural order."""
    digits = (n.bit_length() - 1) // 2
    out = []
    for k in range(n):
        r, v = 0, k
        for _ in range(digits):
            r, v = (r << 2) | (v & 3), v >> 2
        out.append(r)
    return np.array(out, dtype=np.uint16)


def _overlap_pairs(melq: np.ndarray, lo: int, hi: int):
    """Segments of the pairwise-overlapping filterbank (see FrontendTables): bin k is in
    segment s(k) = the highest band it feeds so far (non-decreasing), so it feeds bands
    s - 1 and s at most. Raises if a bin feeds other bands (not a triangular filterbank)."""
    n_mels = melq.shape[0]
    seg = np.zeros(hi - lo, dtype=np.int64)
    s = 0
    for k in range(lo, hi):
        bands = np.nonzero(melq[:, k])[0]
        if bands.size:
            s = max(s, int(bands.max()))
            if bands.min() < s - 1 or bands.size > 2:
                raise ValueError(f"bin {k} feeds bands {list(bands)}: not a triangular filterbank")
        seg[k - lo] = s
    if np.any(np.diff(seg) < 0):
        raise ValueError("filterbank segments are not monotone")
    w_down = np.zeros(hi - lo, dtype=np.uint16)
    w_up = np.zeros(hi - lo, dtype=np.uint16)
    for k in range(lo, hi):
        s = int(seg[k - lo])
        if s - 1 >= 0:
            w_down[k - lo] = melq[s - 1, k]
        if s < n_mels:
            w_up[k - lo] = melq[s, k]
        other = melq[:, k].sum() - int(w_down[k - lo]) - int(w_up[k - lo])
        if other:
            raise ValueError(f"bin {k}: weights outside bands {s - 1}, {s}")
    seg_end = np.array([lo + int(np.searchsorted(seg, s, side="right")) for s in range(n_mels + 1)],
                       dtype=np.uint16)
    return seg_end, w_down, w_up


@lru_cache(maxsize=16)
def tables_for(cfg: FrontendConfig) -> FrontendTables:
    n = cfg.n_fft
    half = n // 2
    stages = (half.bit_length() - 1) // 2

    win = q15(window_float(cfg))
    seg = gcd(gcd(cfg.hop_length, n), SEGMENT_MAX)
    seg_max = np.abs(win.astype(np.int32)).reshape(-1, seg).max(axis=1)
    seg_bits = np.array([int(v).bit_length() for v in seg_max], dtype=np.uint8)
    if seg_bits.max() != WINDOW_PEAK_BITS:
        raise ValueError("window peak must be in [2^14, 2^15) for the normalisation bound")

    k = np.arange(3 * half // 4)
    tw = np.exp(-2j * np.pi * k / half)

    mel = mel_float(cfg)
    mel_shift = int(np.floor(np.log2(32767.0 / mel.max())))
    melq = np.round(mel * 2.0 ** mel_shift).astype(np.int64)
    for b in range(cfg.n_mels):
        if not melq[b].any():
            raise ValueError(f"mel band {b} is empty after quantisation: use fewer bands or a "
                             "longer FFT")
    used = np.nonzero(melq.any(axis=0))[0]
    bin_lo, bin_hi = int(used[0]), int(used[-1]) + 1
    seg_end, w_down, w_up = _overlap_pairs(melq, bin_lo, bin_hi)
    if bin_lo < 1 or bin_hi > half:
        raise ValueError("the filterbank must not use the DC or Nyquist bin")
    split = -1j * np.exp(-2j * np.pi * np.arange(half // 2 + 1) / n)

    # Overflow bounds: |y[n]| <= min(2^14, 2^(14 - segment window bits) * win[n]), so
    # |X[k]| <= sum |y| / (M/2), and P must fit 32 bits unsigned.
    seg_of = np.repeat(np.arange(n // seg), seg)
    bound = float(np.minimum(2.0 ** 14, 2.0 ** (14 - seg_bits[seg_of].astype(np.float64))
                             * np.abs(win.astype(np.float64))).sum())
    if (bound / (half // 2) + 8) ** 2 >= 2.0 ** 32:   # + a few LSB of rounding
        raise ValueError("window too wide for the 32-bit power spectrum")

    log_table = np.round(np.log2(1.0 + np.arange(2 ** LOG_TABLE_BITS + 1) / 2 ** LOG_TABLE_BITS)
                         * 2 ** LOG_FRAC_BITS).astype(np.uint32)
    # log2(mel_f) = log2(acc) + 2 f + log_offset, with P = P_f * 2^(60 - 2 f) / (M/2)^2
    log_offset = -60 + 2 * ((half // 2).bit_length() - 1) - mel_shift
    out_mult = int(round(10.0 * np.log10(2.0) / cfg.out_step_db * 2 ** 16))
    out_bias = int(round(-cfg.out_zero_db / cfg.out_step_db * 2 ** 32)) + 2 ** 31

    return FrontendTables(
        cfg=cfg, window_q15=win, seg_len=seg, seg_win_bits=seg_bits,
        fft_n=half, fft_stages=stages,
        twiddle_re=q15(tw.real), twiddle_im=q15(tw.imag),
        fft_perm=digit_reverse_perm(half),
        bin_lo=bin_lo, bin_hi=bin_hi,
        split_re=q15(split.real), split_im=q15(split.imag), input_bound=bound,
        mel_shift=mel_shift, mel_seg_end=seg_end, mel_w_down=w_down, mel_w_up=w_up,
        log_table=log_table, log_offset=log_offset, out_mult=out_mult, out_bias=out_bias,
    )
