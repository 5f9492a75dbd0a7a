"""Training settings: `TrainConfig` (what `micromel train` takes) and `AugmentConfig` (the
data augmentation). A model folder keeps them as its training record: config.json["train"]
holds TrainConfig without `window` and `frontend`, which the folder stores once, at its top
level (micromel.modeldir)."""
from __future__ import annotations

import hashlib
import math
from dataclasses import asdict, dataclass, field, fields, replace

from ..cliargs import shown
from ..clip.rules import WindowConfig
from ..errors import MicromelError
from ..frontend.config import FrontendConfig
from ..jsonconfig import Settings, from_dict
from .models import member_archs

# An ensemble's k-th network is trained with seed + k * MEMBER_SEED_STEP.
MEMBER_SEED_STEP = 1000


# The room-and-microphone steps switched off (what the recipe was before they existed).
ROOM_STEPS_OFF = {"bed_p": 0.0, "bed_snr_db": (0.0, 20.0), "reverb_p": 0.0, "rt60_s": (0.15, 0.9),
                  "phone_p": 0.0, "cheap_mic_p": 0.0}


@dataclass(frozen=True)
class AugmentConfig(Settings):
    WHAT = "augment config"

    variants: int = 4                 # augmented copies of each training clip (0 = none)
    peak_dbfs: tuple[float, float] = (-40.0, -1.0)     # level of an augmented copy: its peak, drawn uniformly
    eq_p: float = 0.5
    noise_p: float = 0.5
    noise_snr_db: tuple[float, float] = (10.0, 40.0)
    shift_p: float = 0.7
    background_p: float = 0.5         # mix another training clip underneath ...
    background_db: tuple[float, float] = (-24.0, -6.0)   # ... this far below the clip (peak to peak)
    shift_ms: tuple[float, float] = (0.0, 250.0)
    time_masks: int = 2
    time_mask_frames: int = 6
    freq_masks: int = 2
    freq_mask_bins: int = 4
    mixup_alpha: float = 0.2
    mixup_p: float = 0.5
    # the room and the microphone (docs/training.md, "The recipe for sound from elsewhere"):
    # a bed of recorded noise, music or ambience (TrainConfig.backgrounds; off without them)
    # under the clip at an SNR, a simulated room's reverberation, a telephone band, a cheap
    # microphone's response. Defaults measured on the drums families (docs/training.md)
    bed_p: float = 0.5
    bed_snr_db: tuple[float, float] = (0.0, 20.0)
    reverb_p: float = 0.5
    rt60_s: tuple[float, float] = (0.15, 0.9)
    phone_p: float = 0.15
    cheap_mic_p: float = 0.3
    # the voice or instrument itself: speed perturbation (resampled by a factor r, so pitch,
    # formants and tempo scale together: a new speaker, a retuned drum). Off by default;
    # docs/training.md has what it did
    speed_p: float = 0.0
    speed: tuple[float, float] = (0.9, 1.1)
    # the source heard through a door, a wall or an enclosure: a steep low-pass (cutoff
    # drawn in muffle_hz, 12-24 dB per octave) on the clip before room and bed. Off by default
    muffle_p: float = 0.0
    muffle_hz: tuple[float, float] = (400.0, 2000.0)

    def __post_init__(self):
        lo, hi = self.speed
        if not 0.0 <= self.speed_p <= 1.0:
            raise MicromelError(f"augment speed_p={self.speed_p}: give a probability 0..1")
        if not 0.0 <= self.muffle_p <= 1.0:
            raise MicromelError(f"augment muffle_p={self.muffle_p}: give a probability 0..1")
        if not 20.0 <= self.muffle_hz[0] <= self.muffle_hz[1] <= 8000.0:
            raise MicromelError(f"augment muffle_hz={list(self.muffle_hz)}: give [low, high] in Hz "
                                "with 20 <= low <= high <= 8000")
        if not 0.5 <= lo <= hi <= 2.0:
            raise MicromelError(f"augment speed={list(self.speed)}: give [low, high] with "
                                "0.5 <= low <= high <= 2.0")

    def check(self) -> "AugmentConfig":
        """The ranges of every setting, checked before training (train/run.py): a value out of
        range would be clamped or ignored somewhere in the augmentation, silently. Not in
        __post_init__: a model folder whose training record holds such a value (accepted
        before these checks) must still open."""
        for f in fields(self):
            v = getattr(self, f.name)
            if f.name.endswith("_p") and not 0.0 <= v <= 1.0:
                raise MicromelError(f"augment {f.name}={v}: give a probability 0..1")
            if isinstance(v, tuple) and not (all(math.isfinite(x) for x in v) and v[0] <= v[1]):
                raise MicromelError(f"augment {f.name}={list(v)}: give [low, high] with low <= high")
            if isinstance(v, int) and v < 0:
                raise MicromelError(f"augment {f.name}={v}: give a count >= 0")
        if not self.mixup_alpha >= 0.0:     # 0: no mixup (augment.mixup)
            raise MicromelError(f"augment mixup_alpha={self.mixup_alpha}: give a number >= 0")
        if self.reverb_p > 0 and not self.rt60_s[0] > 0.0:
            raise MicromelError(f"augment rt60_s={list(self.rt60_s)}: give seconds > 0")
        return self

    def waveform_key(self) -> str:
        """Identifies everything that changes the augmented waveforms (for the cache)."""
        d = self.to_dict()
        keep = ("variants", "peak_dbfs", "eq_p", "noise_p", "noise_snr_db", "shift_p", "shift_ms",
                "background_p", "background_db")
        # the room steps' keys only when one is on: caches made before they existed stay
        # valid (compared with the steps OFF, not with the defaults, which turn them on)
        if any(d[k] != v for k, v in ROOM_STEPS_OFF.items()):
            keep += tuple(ROOM_STEPS_OFF)
        if self.speed_p > 0:    # likewise: caches made before these steps stay valid
            keep += ("speed_p", "speed")
        if self.muffle_p > 0:
            keep += ("muffle_p", "muffle_hz")
        return hashlib.sha256(repr([d[k] for k in keep]).encode()).hexdigest()[:12]


def _default_frontend() -> dict:
    # HTK mel bands: with the same 40 bands from 20 Hz to 8 kHz they are ~42 Hz apart at the
    # bottom instead of Slaney's ~73 Hz (about as wide at the top), so kick, tom and the low
    # body of a snare fall into twice as many bands. Drums test kits, 4 seeds each, one
    # dscnn-m4: int8 accuracy 76.5 % (Slaney) -> 83.2 % (HTK); docs/training.md.
    return {"mel_htk": True}


@dataclass
class TrainConfig:
    # two dscnn-m4 networks shipped as one model (summed logits): docs/training.md
    arch: str = "dscnn-m4+dscnn-m4"
    epochs: int = 80
    seed: int = 0
    batch_size: int = 64
    learning_rate: float = 3e-3
    label_smoothing: float = 0.05
    patience: int = 25
    average_epochs: int = 10           # the model is the mean of the last N epochs' weights
    epoch_windows: int = 3000          # windows drawn per epoch (class-balanced)
    # 0.5 s windows every 0.25 s (at the default 16 ms hop): a one-shot's attack and decay fit
    # one window; the gate keeps quiet soft hits (the RMS of a soft hit's window is
    # around -55 dBFS) and drops digital and near-digital silence
    window: WindowConfig = field(default_factory=lambda: WindowConfig(32, 16, -65.0))
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    forest: bool = True
    # front-end settings that differ from FrontendConfig's defaults (the model's whole
    # front-end config is saved in config.json["frontend"] and generated into C from there)
    frontend: dict = field(default_factory=_default_frontend)
    # folders of background audio (noise, music, ambience) for augment.bed_p
    backgrounds: tuple[str, ...] = ()
    # windows per epoch drawn class -> clip ("class") or class -> source -> clip ("source":
    # a source with many clips does not drown the others)
    balance: str = "source"
    # leave one source out (data/datasets.Dataset.hold_out): the card's test is that source
    hold_out_source: str = ""
    # the last `specialist_networks` networks `arch` names train only on this source's
    # training clips, the others on every source's: one model, the product of generalists
    # and specialists of the recordings it will hear (their logits are summed);
    # docs/training.md
    specialist: str = ""
    specialist_networks: int = 1
    # a class (e.g. "other": sounds of none of the others) that only the ensemble's last
    # network, the gate, learns: the others never see it and hold its logit at 0, the gate
    # holds every other logit at 0 (gate.member_roles); "" = none
    gate: str = ""
    # knowledge distillation (train/teacher.py): a model folder trained on the same view of
    # the same data whose float probabilities, softened by distill_temperature, make up
    # `distill` of each training window's target; "" = none
    teacher: str = ""
    distill: float = 0.5
    distill_temperature: float = 2.0

    # `arch` may name several networks ("dscnn-m4+dscnn-m0"): each is trained on its own
    # (seeds seed, seed + 1000, ...: own augmented copies, initialisation and sampling) and
    # they ship as ONE model whose class logits are summed (models.ensemble).
    def member_seeds(self) -> list[int]:
        return [self.seed + MEMBER_SEED_STEP * k for k in range(len(member_archs(self.arch)))]

    def __post_init__(self):
        if self.balance not in ("class", "source"):
            raise MicromelError(f"balance={self.balance!r}: choose class or source")
        n = len(member_archs(self.arch))
        if self.specialist and not 1 <= self.specialist_networks < n:
            raise MicromelError(f"--specialist {self.specialist}: needs an ensemble with at least "
                                f"one network besides the {self.specialist_networks} specialist "
                                f"network(s) (--arch {self.arch} names {n}), e.g. "
                                "--arch dscnn-m4+dscnn-m4")
        if self.gate and n < 2:
            raise MicromelError(f"--gate {self.gate}: needs an ensemble of at least two networks "
                                f"(the classifiers and the gate; --arch {self.arch} names one), "
                                "e.g. --arch dscnn-m4+dscnn-m4+dscnn-m0")
        if self.gate and (self.specialist or self.teacher):
            raise MicromelError(f"--gate {self.gate}: not with "
                                f"{'--specialist' if self.specialist else '--teacher'} (one role "
                                "per network: train the gate model without it)")
        if not 0.0 < self.distill <= 1.0:
            raise MicromelError(f"--distill {shown(self.distill)}: give the teacher's share of the "
                                "targets, 0 < a <= 1")
        if not 0.1 <= self.distill_temperature <= 20.0:
            raise MicromelError(f"--distill-temperature {shown(self.distill_temperature)}: give a "
                                "temperature between 0.1 and 20")
        if self.specialist and self.specialist == self.hold_out_source:
            raise MicromelError(f"--specialist {self.specialist}: that source is held out "
                                "(--hold-out-source); a specialist needs its training clips")

    def frontend_config(self) -> FrontendConfig:
        """FrontendConfig's defaults with `frontend`'s overrides and the window's length
        (checked: unknown keys and wrong types are one-line errors)."""
        return FrontendConfig.from_dict({**FrontendConfig().to_dict(), **self.frontend,
                                         "window_frames": self.window.frames},
                                        "--frontend")

    def to_record(self) -> dict:
        """config.json["train"]: everything but window and frontend (stored once, at the
        model folder's top level)."""
        d = asdict(self)
        del d["window"], d["frontend"]
        d["augment"] = self.augment.to_dict()
        return d

    @classmethod
    def from_record(cls, d: dict, window: WindowConfig, frontend: dict,
                    what: str = "config.json") -> "TrainConfig":
        """The TrainConfig of a training record (strict: unknown keys, wrong types)."""
        if not isinstance(d, dict):
            raise MicromelError(f"{what}: train: expected a JSON object")
        d = dict(d)
        augment = AugmentConfig.from_dict(d.pop("augment", {}), f"{what}: train.augment")
        for key in ("window", "frontend"):
            if key in d:
                raise MicromelError(f"{what}: train.{key}: stored once, at the top level; "
                                    "remove it")
        plain = from_dict(cls, d, f"{what}: train")     # window, augment, frontend: not in d
        return replace(plain, window=window, augment=augment, frontend=dict(frontend))

    @classmethod
    def of_model(cls, model) -> "TrainConfig | None":
        """The TrainConfig a ModelDir was trained with (None: not trained by micromel). Its
        `frontend` is the model's front end where it differs from the defaults."""
        if model.train is None:
            return None
        default = FrontendConfig().to_dict()
        overrides = {k: v for k, v in model.frontend.to_dict().items()
                     if k != "window_frames" and v != default[k]}
        return cls.from_record(model.train, model.window, overrides, str(model.path / "config.json"))
