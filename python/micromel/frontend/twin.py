"""The numpy twin of firmware/lib/mm_frontend: the same integers, stage by stage,
vectorised over all frames of a clip (a few ms per second of audio).

Every operation is spelled the way the C computes it; the names in comments are the
Cortex-M4 DSP instructions the C uses (its portable path computes the same integers):
  shadd(a, b) = (a + b) >> 1          SHADD16 (halving add, arithmetic shift = floor)
  cmul_q15(y, w) = (y w + 2^14) >> 15 SMLSD/SMLADX with a rounding accumulator, ASR 15
The stage functions take and return plain integer arrays so tests can compare every
intermediate with the C host build.
"""
from __future__ import annotations

import numpy as np
import scipy.sparse

from .config import FrontendConfig
from .tables import FrontendTables, LOG_TABLE_BITS, tables_for

ROUND15 = 1 << 14


def _bit_length(v: np.ndarray) -> np.ndarray:
    """Bit length of non-negative integers below 2^53 (exact through frexp)."""
    _, e = np.frexp(np.asarray(v, dtype=np.float64))
    return e.astype(np.int32)


# --- stage 1: normalisation shift and window --------------------------------------------
def segment_bits(x: np.ndarray, seg_len: int) -> np.ndarray:
    """Per segment of seg_len samples: bit length of OR(x ^ (x >> 15)), i.e. the smallest
    e with -2^e <= x < 2^e for every sample. x: int16 [n * seg_len]."""
    v = x.astype(np.int32).reshape(-1, seg_len)
    v = v ^ (v >> 15)
    return _bit_length(np.bitwise_or.reduce(v, axis=1))


def frame_shift(seg_bits_frames: np.ndarray, t: FrontendTables) -> np.ndarray:
    """The frame's shift f = max over its segments of (e_s + window bits_s) - 14, so that
    |x * win| < 2^(14 + f) and y = (x * win) >> f stays within [-2^14, 2^14]."""
    return (seg_bits_frames + t.seg_win_bits.astype(np.int32)).max(axis=-1) - 14


def window(frames: np.ndarray, shift: np.ndarray, t: FrontendTables) -> np.ndarray:
    """y = (x * win + 2^(f-1)) >> f  (SMLABB with a rounding accumulator, ASR).
    frames int16 [F, n_fft], shift int [F] (>= 1) -> int32 [F, n_fft]."""
    s = shift.astype(np.int32)[:, None]
    prod = frames.astype(np.int32) * t.window_q15.astype(np.int32)
    return (prod + (np.int32(1) << (s - 1))) >> s


# --- stage 2: complex FFT of M = N/2 points, radix-4 DIT ---------------------------------
def cmul_q15(yr, yi, wr, wi):
    """Rounded Q15 complex multiply (SMLSD / SMLADX with accumulator 2^14, ASR 15). All int32:
    |y| <= 2^14 sqrt(2) keeps every sum below 2^30."""
    return (yr * wr - yi * wi + ROUND15) >> 15, (yr * wi + yi * wr + ROUND15) >> 15


def fft_radix4(re: np.ndarray, im: np.ndarray, t: FrontendTables) -> tuple[np.ndarray, np.ndarray]:
    """Radix-4 decimation-in-time FFT of z = re + j im ([F, M], values within int16) given in
    natural order; returns Z = FFT_M(z) / (M/4) in natural order as int32 [F, M] each.
    The C's window stage writes the input in digit-reversed order (t.fft_perm) and runs
    the first stage (L = 4) itself; each stage of length L
    (q = L/4) combines the four sub-transforms F0..F3 of every group of L:
        B = F1[n] w^n, C = F2[n] w^2n, D = F3[n] w^3n   (cmul_q15; skipped for n = 0)
        16-bit stages:  t0 = (A+C)>>1  t1 = (A-C)>>1  t2 = (B+D)>>1  t3 = (B-D)>>1  SHADD16/SHSUB16
                        X[n] = (t0+t2)>>1, X[n+q] = (t1 - j t3)>>1 (SHSAX),
                        X[n+2q] = (t0-t2)>>1, X[n+3q] = (t1 + j t3)>>1 (SHASX)
        last stage: the same sums without any shift, exact in 32 bits."""
    n_frames, n = re.shape
    inv = np.empty(n, dtype=np.intp)
    inv[t.fft_perm.astype(np.intp)] = np.arange(n)
    re = np.ascontiguousarray(re[:, inv], dtype=np.int32)   # buffer position p holds pair inv[p]
    im = np.ascontiguousarray(im[:, inv], dtype=np.int32)
    tw_re = t.twiddle_re.astype(np.int32)
    tw_im = t.twiddle_im.astype(np.int32)
    length = 4
    while length <= n:
        q = length // 4
        shape = (n_frames, n // length, 4, q)
        r, i = re.reshape(shape), im.reshape(shape)
        ar, ai = r[:, :, 0], i[:, :, 0]
        (br, bi), (cr, ci), (dr, di) = [(r[:, :, k], i[:, :, k]) for k in (1, 2, 3)]
        if q > 1:
            rot = []
            for k, (xr, xi) in zip((1, 2, 3), ((br, bi), (cr, ci), (dr, di))):
                idx = k * np.arange(q) * (n // length)
                zr, zi = cmul_q15(xr, xi, tw_re[idx], tw_im[idx])
                zr[..., 0], zi[..., 0] = xr[..., 0], xi[..., 0]
                rot.append((zr, zi))
            (br, bi), (cr, ci), (dr, di) = rot
        out_r = np.empty(shape, dtype=np.int32)
        out_i = np.empty(shape, dtype=np.int32)
        if length == n:
            t0r, t0i, t1r, t1i = ar + cr, ai + ci, ar - cr, ai - ci
            t2r, t2i, t3r, t3i = br + dr, bi + di, br - dr, bi - di
            out_r[:, :, 0], out_i[:, :, 0] = t0r + t2r, t0i + t2i
            out_r[:, :, 1], out_i[:, :, 1] = t1r + t3i, t1i - t3r
            out_r[:, :, 2], out_i[:, :, 2] = t0r - t2r, t0i - t2i
            out_r[:, :, 3], out_i[:, :, 3] = t1r - t3i, t1i + t3r
        else:
            t0r, t0i, t1r, t1i = (ar + cr) >> 1, (ai + ci) >> 1, (ar - cr) >> 1, (ai - ci) >> 1
            t2r, t2i, t3r, t3i = (br + dr) >> 1, (bi + di) >> 1, (br - dr) >> 1, (bi - di) >> 1
            out_r[:, :, 0], out_i[:, :, 0] = (t0r + t2r) >> 1, (t0i + t2i) >> 1
            out_r[:, :, 1], out_i[:, :, 1] = (t1r + t3i) >> 1, (t1i - t3r) >> 1
            out_r[:, :, 2], out_i[:, :, 2] = (t0r - t2r) >> 1, (t0i - t2i) >> 1
            out_r[:, :, 3], out_i[:, :, 3] = (t1r - t3i) >> 1, (t1i + t3r) >> 1
        re, im = out_r.reshape(n_frames, n), out_i.reshape(n_frames, n)
        length *= 4
    return re, im


# --- stage 3: real-FFT split and power spectrum ------------------------------------------
def smulwb(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """SMULWB/SMULWT: (32-bit a * 16-bit b) >> 16, floor."""
    return ((a.astype(np.int64) * b) >> 16).astype(np.int64)


def split_power(zr: np.ndarray, zi: np.ndarray, t: FrontendTables) -> np.ndarray:
    """Power of the N-point real FFT bins 0..M (uint32 [F, M+1]; bins 0 and M are left 0,
    the filterbank never uses them) from Z = FFT_M(z)/(M/4) (int32 [F, M], natural order).
    Bins k and M-k (1 <= k <= M/2) share one complex product:
        A = Z[k] + conj Z[M-k],  B = Z[k] - conj Z[M-k]         (32-bit adds)
        u = T_k B / 2: u.re = smulwb(B.re, T.re) - smulwb(B.im, T.im),
                       u.im = smulwb(B.re, T.im) + smulwb(B.im, T.re)
        h = A >> 1
        X[k]   = ((h.re + u.re) >> 1, (h.im + u.im) >> 1)
        X[M-k] = ((h.re - u.re) >> 1, (u.im - h.im) >> 1)     (k < M/2 only)
        P = Re X^2 + Im X^2 (below 2^32: tables.py checks the bound)."""
    m = t.fft_n
    k = np.arange(1, m // 2 + 1)
    zr = zr.astype(np.int64)
    zi = zi.astype(np.int64)
    kr, ki, mr, mi = zr[:, k], zi[:, k], zr[:, m - k], zi[:, m - k]
    ar, ai = kr + mr, ki - mi
    br, bi = kr - mr, ki + mi
    tr, ti = t.split_re[k].astype(np.int64), t.split_im[k].astype(np.int64)
    ur = smulwb(br, tr) - smulwb(bi, ti)
    ui = smulwb(br, ti) + smulwb(bi, tr)
    hr, hi = ar >> 1, ai >> 1
    p = np.zeros((zr.shape[0], m + 1), dtype=np.int64)
    xr, xi = (hr + ur) >> 1, (hi + ui) >> 1
    p[:, k] = xr * xr + xi * xi
    # mirror bins M-k for k < M/2 (k = M/2 is its own mirror and keeps the first formula)
    xr, xi = ((hr - ur) >> 1)[:, :-1], ((ui - hi) >> 1)[:, :-1]
    p[:, m - k[:-1]] = xr * xr + xi * xi
    return p.astype(np.uint32)


# --- stage 4: sparse mel filterbank ------------------------------------------------------
def filterbank(power: np.ndarray, t: FrontendTables) -> np.ndarray:
    """acc[m] = sum_k melw[m, k] * P[k] in 64 bits (UMLAL). power uint32 [F, M+1] ->
    int64 [F, n_mels]. Every product is below 2^48 and every sum below 2^53, so the float64
    sparse product is exact whatever the summation order."""
    w = _sparse_weights(t)
    return np.rint((w @ power.T.astype(np.float64)).T).astype(np.int64)


def _sparse_weights(t: FrontendTables):
    cached = getattr(t, "_sparse", None)
    if cached is None:
        dense = t.mel_matrix().astype(np.float64)
        if dense.sum(axis=1).max() * 2.0 ** 32 >= 2.0 ** 53:
            raise ValueError("filterbank sums could exceed 2^53")
        cached = scipy.sparse.csr_matrix(dense)
        object.__setattr__(t, "_sparse", cached)
    return cached


# --- stage 5: log and int8 output --------------------------------------------------------
def log_q8(acc: np.ndarray, shift: np.ndarray, t: FrontendTables) -> np.ndarray:
    """int8 output of the mel energies acc (int64 [F, n_mels]) of frames with shift f:
        p = bit length of acc - 1;  m = acc normalised to [2^30, 2^31)
        i = (m - 2^30) >> 24, r = ((m - 2^30) >> 8) & 0xFFFF    (6 table bits)
        L = (p + 2 f + log_offset) << 16  +  T[i] + (((T[i+1] - T[i]) * r) >> 16)
        q = clip((L * out_mult + out_bias) >> 32, -128, 127);  acc == 0 -> -128."""
    acc = np.asarray(acc, dtype=np.int64)
    zero = acc <= 0
    a = np.where(zero, 1, acc)
    p = (_bit_length(a) - 1).astype(np.int64)
    m = np.where(p >= 30, a >> np.maximum(p - 30, 0), a << np.maximum(30 - p, 0))
    frac = m - (1 << 30)
    idx = frac >> (30 - LOG_TABLE_BITS)
    r = (frac >> (14 - LOG_TABLE_BITS)) & 0xFFFF
    lt = t.log_table.astype(np.int64)
    lg = lt[idx] + (((lt[idx + 1] - lt[idx]) * r) >> 16)
    ex = p + 2 * np.asarray(shift, dtype=np.int64)[:, None] + t.log_offset
    L = (ex << 16) + lg
    q = (L * t.out_mult + t.out_bias) >> 32
    q = np.where(zero, -128, q)
    return np.clip(q, -128, 127).astype(np.int8)


# --- whole frames ------------------------------------------------------------------------
def frames_of(pcm: np.ndarray, cfg: FrontendConfig) -> np.ndarray:
    """int16 [F, n_fft] view of the frames of a clip (frame f = samples [f*hop, f*hop+n_fft))."""
    n = cfg.n_frames(len(pcm))
    if n == 0:
        return np.zeros((0, cfg.n_fft), dtype=np.int16)
    return np.lib.stride_tricks.sliding_window_view(pcm, cfg.n_fft)[::cfg.hop_length][:n]


def run_stages(pcm: np.ndarray, cfg: FrontendConfig) -> dict[str, np.ndarray]:
    """Every intermediate of every frame of a clip (for tests against the C stages)."""
    t = tables_for(cfg)
    pcm = _as_int16(pcm)
    n = cfg.n_frames(len(pcm))
    out: dict[str, np.ndarray] = {}
    if n == 0:
        out["features"] = np.zeros((0, cfg.n_mels), dtype=np.int8)
        return out
    used = pcm[: (n - 1) * cfg.hop_length + cfg.n_fft]
    seg_bits = segment_bits(used, t.seg_len)
    per_hop = cfg.hop_length // t.seg_len
    per_frame = cfg.n_fft // t.seg_len
    idx = np.arange(n)[:, None] * per_hop + np.arange(per_frame)[None, :]
    shift = frame_shift(seg_bits[idx], t)
    y = window(frames_of(pcm, cfg), shift, t)
    zr, zi = fft_radix4(y[:, 0::2], y[:, 1::2], t)
    power = split_power(zr, zi, t)
    acc = filterbank(power, t)
    out.update(shift=shift, windowed=y, fft_re=zr, fft_im=zi, power=power, mel=acc,
               features=log_q8(acc, shift, t))
    return out


def _as_int16(pcm) -> np.ndarray:
    a = np.asarray(pcm)
    if a.dtype != np.int16:
        if a.dtype.kind not in "iu" or a.size and (a.min() < -32768 or a.max() > 32767):
            raise ValueError("pcm must be int16 samples")
        a = a.astype(np.int16)
    if a.ndim != 1:
        raise ValueError("pcm must be one-dimensional (mono)")
    return np.ascontiguousarray(a)


def features(pcm: np.ndarray, cfg: FrontendConfig | None = None) -> np.ndarray:
    """int8 log-mel features [n_frames, n_mels] of a whole clip of int16 PCM, exactly as the
    device computes them streaming from a reset state. n_frames = 1 + (N - n_fft) // hop
    (0 if N < n_fft)."""
    cfg = cfg or FrontendConfig()
    return run_stages(pcm, cfg)["features"]


class StreamingFrontend:
    """The front end fed in chunks of any size: keeps the samples the next frames need and
    returns the frames each chunk completes. Chunked input gives the same frames as
    features() on the whole clip."""

    def __init__(self, cfg: FrontendConfig | None = None):
        self.cfg = cfg or FrontendConfig()
        self.reset()

    def reset(self) -> None:
        self._buf = np.zeros(0, dtype=np.int16)

    @property
    def pending(self) -> int:
        """Samples held toward the next frame."""
        return int(self._buf.size)

    def process(self, chunk: np.ndarray) -> np.ndarray:
        buf = np.concatenate([self._buf, _as_int16(chunk)])
        n = self.cfg.n_frames(len(buf))
        out = features(buf, self.cfg) if n else np.zeros((0, self.cfg.n_mels), dtype=np.int8)
        self._buf = buf[n * self.cfg.hop_length:].copy()
        return out
