"""The sources of the speech / non-speech data: Debian packages of recorded sound, each pinned
to one version and one .deb (SHA-256, checked by debpkg.fetch), with the rule that selects its
files and the rule that groups them (speaker, voice pack, language, track).

Every source has a ROLE, which is where its sound may appear:
- train: training clips only;
- val: validation clips and the validation streams that tune the segment config (early
  stopping and tuning see it, the weights never do);
- test: test clips and the evaluation streams, never seen in training or tuning: the
  held-out sources every number in docs/segmentation.md and models/speech/card.md is on.
Roles go by Debian package: a package's sources share one role, so no held-out sound
comes from a package any training sound comes from. A training source may also keep some of
its groups for validation (`val_groups`: whole speakers, so validation is speaker-disjoint).

The catalogue (languages, speakers, evidence that voices are recorded, not synthesised) and
how it was chosen: docs/segmentation.md, "Data: many sources, the evaluation's held out".
`files` is the count the rule selects in the pinned version; the dataset builders check it,
so a changed package or rule cannot pass unnoticed. The packages reserved for independent
evaluation (debpkg.RESERVED) are not here, and a test fails if a builder names one. The
asterisk-prompt-* packages (recorded IVR prompts) are telephone-band speech of a genre close
to a reserved package: they train (telephone-band robustness) and are never claimed as an
independent evaluation."""
from __future__ import annotations

import io
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from ..audio import audio_info
from ..errors import MicromelError
from . import debpkg

SAMPLE_RATE = 16000
KINDS = ("speech", "music", "ambience", "sfx")
ROLES = ("train", "val", "test")
_AUDIO = re.compile(r"\.(ogg|wav|flac|opus|mp3|au|gsm|raw)$", re.I)


@dataclass(frozen=True)
class Source:
    name: str            # the manifest's source NAME (--hold-out-source, --by source)
    package: str         # Debian package (bookworm)
    version: str
    sha256: str          # of the .deb
    kind: str            # speech, music, ambience, sfx
    role: str            # train, val, test
    include: str         # regex searched in the path relative to the package root
    exclude: str = ""    # regex; a match drops the file
    group: str = ""      # regex whose group 1 names the file's group ("other" if none)
    files: int = 0       # files the rules select in this version
    raw: tuple = ()      # headerless files: (libsndfile subtype, sample rate)
    val_groups: tuple = ()   # groups of a training source kept for validation


_TUX = ("tuxpaint-stamps-default", "2022.06.04-1",
        "6db6c1bfc870a47f1499d6203b083522eacb57c5f9c87d468f2e92eb6d9d5f34")
_FILLETS = ("fillets-ng-data", "1.0.1-1.1",
            "25de89afd8b1adf7bcace8290248a6a22c89cd42300317e69000e162c032cf84")
_HYPERROGUE = ("hyperrogue-music", "12.0q-1",
               "61ab9f4c2169442d85f42c42d26e80c1a18b93c741f3d44f1b9d83015904e7f7")
_WIDELANDS = ("widelands-data", "2:1.1-3",
              "0e23d645b15bcfb9e3bcae0de9bc1bdfa75a6ecb36b2e449759d6eb0b4bbd8fb")
_MEGAGLEST = ("megaglest-data", "3.13.0-3",
              "ed4783d9fc78e201a548b266f7c30325eb16cfd58a20bf4597dd6e622f84a07e")
_LUGARU = ("lugaru-data", "1.2-6", "6a25e8d2d7c2d94b7873669d1f52137b2ba56e86ba5c2f08fefeacd65e526023")
_WARMUX = ("warmux-data", "1:11.04.1+repack2-4",
           "cceec72afcc9d5b0515149eb505bf0d883bd47399e602b30a805cafa2d91eb70")
_SCRATCH = ("scratch", "1.4.0.6~dfsg1-6.1",
            "36c582eb93110f64f06c4e685c41e933ccba2fa68db12f79b10bfe840b21fc10")
_QABCS = ("qabcs-data", "1.0.2-6", "3484da4cf258e6f3a39a1fc99bbfcaddfd679cff96a8fa792f261ab0a2bf9d86")


def _s(name, pkg, kind, role, include, exclude="", group="", files=0, **kw) -> Source:
    return Source(name, *pkg, kind, role, include, exclude, group, files, **kw)


SOURCES: tuple[Source, ...] = (
    # ---- speech ---------------------------------------------------------------------
    _s("tuxpaint_words", _TUX, "speech", "train",
       r"(_desc(_[a-z]{2,3}(_[A-Z]{2})?)?\.ogg$|symbols/(math|alphabets)/.*_[a-z]{2,3}(_[A-Z]{2})?\.ogg$)",
       group=r"_((?:desc)|[a-z]{2,3}(?:_[A-Z]{2})?)\.ogg$", files=7721, val_groups=("da", "lt", "nl")),
    _s("hedgewars_voices", ("hedgewars-data", "1.0.2-6",
                                "722225903a72604403e6e0026e40e9a6953f47a74d94efc5f55504bc05bb4761"),
       "speech", "train", r"Sounds/voices/[^/]+/[^/]+\.ogg$",
       r"/(Laugh|PoisonCough|PoisonMoan|Ooff\d|Ow\d|Jump\d|Firepunch\d|Hmm)\.ogg$",   # not words
       r"voices/([^/]+)/", files=607),
    _s("fillets_cs", ("fillets-ng-data-cs", "1.0.1-1.1",
                          "3ecef99b9456f1c80c9625c6f2418642b52d58e7167a46bad7a412db17991b14"),
       "speech", "train", r"/cs/[^/]+\.ogg$", group=r"-(m|v)-", files=1882),
    _s("gcin_syllables", ("gcin-voice", "0~20170223-3",
                              "6a0353f0294d06f7bd901bada3d5d9eec63b66c2ec029f92da3124d93d45de70"),
       "speech", "train", r"ogg/[^/]+/[35]\.ogg$", group=r"/([35])\.ogg$", files=2358),
    _s("festvox_ru", ("festvox-ru", "0.5+dfsg-6",
                          "21ef3f0f2978ecf2e2eddb367cb0ff4a72572196d28dc69feb84f4177af5e6c4"),
       "speech", "val", r"msu_ru_nsh_clunits/wav/ru_\d+\.wav$", group=r"(msu_ru_nsh)", files=620),
    _s("asterisk_fr", ("asterisk-prompt-fr-armelle", "20070613-2.2",
                           "162570b1a9b3512a98f06b89f60c7c17cf1b9b52297315adca9a4e5be728bea3"),
       "speech", "train", r"sounds/fr/.*\.gsm$", group=r"(sounds)/", files=327, raw=("GSM610", 8000)),
    _s("asterisk_es", ("asterisk-prompt-es-co", "0.20070403-2.1",
                           "6702696e045514699e87dc8fb70f370717e5df91f821f7bec8dd0df1be008e83"),
       "speech", "train", r"sounds/es/.*\.gsm$", group=r"(sounds)/", files=285, raw=("GSM610", 8000)),
    _s("asterisk_it", ("asterisk-prompt-it-menardi-wav", "1:1.4.22+mm20110907-3.1",
                           "3094530d98f8758ac275572d59624c41f60969fef883f34f4886d144f3dfeb21"),
       "speech", "train", r"it_IT_f_Menardi/.*\.wav$", r"/silence/", r"(Menardi)", files=545),
    _s("codec2_speech", ("codec2-examples", "1.0.5-1",
                             "7af8cd128f269a1d8116993c9d2bd7d4d452fc17da46a09899aaca2b9bd993d4"),
       "speech", "train", r"codec2/raw/(big_dog|cq_ref|cross|forig|g3plx|hts1|hts2|kristoff|mmt1|"
                          r"morig|ve9qrp|vk5qi)\.raw$",
       group=r"raw/([a-z0-9_]+?)\.raw", files=12, raw=("PCM_16", 8000)),
    _s("qabcs_en", _QABCS, "speech", "train", r"abcs/en/sounds/(words|alpha)/.*\.ogg$",
       group=r"abcs/(en)/", files=156),
    _s("fillets_nl", ("fillets-ng-data-nl", "1.0.1-1.1",
                          "afb4443fda9ab507dee578b75be857d121718a1cd6017a474f30e0eb13dc9d10"),
       "speech", "test", r"/nl/[^/]+\.ogg$", group=r"-(m|v)-", files=1616),
    _s("kajongg_voices", ("kajongg", "4:22.12.3-1",
                              "be0a9cc0f9a97064ffa0ab01133f55e021c7c58f9869857431bf1ca951dadbaf"),
       "speech", "test", r"kajongg/voices/.*\.ogg$", group=r"voices/((?:de/)?[a-z]+\d)/", files=335),
    _s("pocketsphinx_speech", ("pocketsphinx-testdata", "0.8+5prealpha+1-15",
                                   "eaeb7a01d54f20b799d1a81ef110ec544b2cb47ea006614078220737a33019f0"),
       "speech", "test", r"test/data/(cards/\d+\.wav|librivox/.*\.wav)$", group=r"data/([a-z]+)",
       files=10),
    _s("saytime_words", ("saytime", "1.0-35+b1",
                             "189e502f34ab7e2a9ececc45d781273760cfe11f3719f4176a9f6d472228856a"),
       "speech", "test", r"saytime/.*\.au$", group=r"(saytime)", files=37),
    # ---- music ----------------------------------------------------------------------
    _s("hyperrogue_music", _HYPERROGUE, "music", "train", r"hyperrogue/music/.*\.ogg$",
       group=r"/([^/]+)\.ogg$", files=17),
    _s("planetblupi_music", ("planetblupi-music-ogg", "1.14.2-3",
                                 "7d89a6d00b43cdb601e35256ab1a62814d203b5922cfed6a0e73e98486e82fa6"),
       "music", "train", r"\.ogg$", group=r"/([^/]+)\.ogg$", files=10),
    _s("fretsonfire_songs", ("fretsonfire-songs-sectoid", "1.dfsg-3.1",
                                 "14c1ed3e43c1a6a80eae7698f0469a0825cd1184e441968d62df89ca418aa0b4"),
       "music", "train", r"\.ogg$", group=r"songs/[^/]+/([^/]+)/", files=8),
    _s("fretsonfire_songs2", ("fretsonfire-songs-muldjord", "2.dfsg-2.1",
                                  "b37adf8b08b46d4182c283e760e4f40622d83674e05803960ea1e11a92600c7b"),
       "music", "train", r"\.ogg$", r"/chaos_god/", r"songs/[^/]+/([^/]+)/", files=6),
    _s("warmux_music", _WARMUX, "music", "train", r"warmux/music/.*\.ogg$", r"Monkey-bubble|Like_a_rock",
       r"/([^/]+)\.ogg$", files=11),
    _s("lmms_instruments", ("lmms-common", "1.2.2+dfsg1-6",
                                "7d9aa55dd05f11edc57104203ee1c350e3e41f8936ab3741da2bb1158fd46c37"),
       "music", "train", r"lmms/samples/(instruments|basses|bassloops|stringsnpads|latin|beats)/.*"
                         r"\.(ogg|wav|flac)$", group=r"samples/([^/]+)/", files=78),
    _s("h2_guitarstrums", ("hydrogen-drumkits-effects", "2017.09.19~dfsg-1",
                               "4ca3ff30e89d044952ad8a4ed28c60e8e5e1f8fec0ddcf0e1e7e2c84ce2975c8"),
       "music", "train", r"belofilms_GuitarStrums/.*\.flac$", group=r"(GuitarStrums)", files=295),
    _s("scratch_music", _SCRATCH, "music", "train", r"Media/Sounds/(Music Loops|Instruments)/.*\.(wav|mp3)$",
       group=r"Sounds/([^/]+)/", files=34),
    _s("fillets_music", _FILLETS, "music", "val", r"fillets-ng/music/.*\.ogg$", group=r"(music)", files=15),
    _s("lugaru_music", _LUGARU, "music", "val", r"Sounds/Music.*\.ogg$", group=r"/([^/]+)\.ogg$", files=5),
    _s("singularity_music", ("singularity-music", "007-2",
                                 "139ba1e408eeb0a72f1fff3760ca46558b9f81bed97dc8c0efa108c4007f4845"),
       "music", "val", r"\.ogg$", group=r"/([^/]+)\.ogg$", files=16),
    _s("warzone_music", ("warzone2100-music", "4.3.3-3",
                             "d3b2c9f90ea5438d45d4aff18339a03ec808e1affa9dac91f7dad61cb15ee64e"),
       "music", "test", r"\.opus$", group=r"/([^/]+)\.opus$", files=30),
    _s("drascula_music", ("drascula-music", "1.0+ds4-2",
                              "340e0beb1bacf005cbabebc07ebdd88adf6aee363d437f8a7d73cb0c77a93e79"),
       "music", "test", r"\.ogg$", r"/track(1|2|29|30|31)\.ogg$", r"/([^/]+)\.ogg$", files=26),
    _s("widelands_music", _WIDELANDS, "music", "test", r"data/music/.*\.ogg$", group=r"music/([a-z]+)",
       files=31),
    _s("megaglest_music", _MEGAGLEST, "music", "test", r"/music/.*\.ogg$", group=r"/([^/]+)\.ogg$", files=9),
    # ---- ambience and sound effects -------------------------------------------------
    _s("hyperrogue_sfx", _HYPERROGUE, "sfx", "train", r"hyperrogue/sounds/.*\.ogg$",
       r"(speak|dzia|heal|hit|die)-(prince|princess)|/seen-|/die-fairy", r"sounds/([a-z]+)", files=50),
    _s("boswars_sfx", ("boswars-data", "2.7+svn160110-5",
                           "36098b478576810a786eb9d75b54e45f4d5fa507332fa8bf3360c14814ecc016"),
       "sfx", "train", r"units/.*\.wav$", r"/(?!sfx_)[^/]*(completed|underattack|ready|action|[._]select(ed)?|"
                                            r"attacked|_die)\.wav$", r"units/([^/]+)/", files=25),
    _s("bucklespring_keys", ("bucklespring-data", "1.4.0-2",
                                 "2add9f5583b3afc9c0b528066f4578baff930b74d4a94c8a25d103ef79a444e5"),
       "sfx", "train", r"\.wav$", group=r"(bucklespring)", files=171),
    _s("tuxpaint_sfx", _TUX, "sfx", "train", r"stamps/.*\.(ogg|wav)$",
       r"_desc(_[a-z_A-Z]+)?\.(ogg|wav)|symbols/(math|alphabets|faces)/|seasonal/hanukkah|town/roadsigns|"
       r"/ghost\.|apollo_lander", r"stamps/([^/]+)/", files=99),
    _s("qabcs_noises", _QABCS, "sfx", "train", r"abcs/all/noises/.*\.ogg$", r"yaga|ole_lukoje", r"(noises)",
       files=239),
    _s("scratch_sfx", _SCRATCH, "sfx", "train", r"Media/Sounds/(Animal|Effects|Electronic|Percussion)/.*"
                                                r"\.(wav|mp3)$", group=r"Sounds/([^/]+)/", files=51),
    _s("scratch_human_nonverbal", _SCRATCH, "sfx", "train", r"Media/Sounds/Human/.*\.(wav|mp3)$", r"PartyNoise",
       r"Human/([A-Za-z]+)", files=16),
    _s("scorched3d_sfx", ("scorched3d-data", "44+dfsg-8",
                              "b0be0a6d561966a62b1f135e0e6f5681c85f12e34ecad5777cb1af9fbcb7f1da"),
       "sfx", "train", r"data/wav/.*\.(wav|ogg)$", group=r"data/wav/([a-z]+)/", files=122),
    _s("warmux_sfx", _WARMUX, "sfx", "train", r"sound/default/(weapons|misc)/.*\.ogg$",
       group=r"default/([a-z]+)/", files=78),
    _s("lugaru_sfx", _LUGARU, "sfx", "val", r"Sounds/.*\.ogg$", r"Music", r"Sounds/([A-Za-z]+?)\d*\.ogg",
       files=66),
    _s("lincity_sfx", ("lincity-ng-data", "2.9~git20150314-5",
                           "8f5e85bd42879abdc7099b035d7a3d7468eceb6b93b52a12270c28f3f3c792f9"),
       "sfx", "val", r"\.(wav|ogg)$", r"/music/", r"sounds/([A-Za-z]+)", files=141),
    _s("widelands_sfx", _WIDELANDS, "sfx", "test", r"data/(sound|world/critters)/.*\.ogg$", r"taverns",
       r"(?:sound|critters)/([a-z_]+)", files=106),
    _s("megaglest_ambience", _MEGAGLEST, "ambience", "test",
       r"(tilesets/[^/]+/sounds|water_sounds)/.*\.(ogg|wav)$", group=r"(tilesets/[^/]+|water_sounds)",
       files=34),
    _s("megaglest_sfx", _MEGAGLEST, "sfx", "test",
       r"commondata/sounds/(anvil|arrow_hit|catapult_|tower_|defense_tower|tech_building_fall|"
       r"worker_mine|worker_harvest_wood|horseman_walk|golem_walk|orni_|air_hit|air_attack)",
       group=r"sounds/([a-z]+)", files=62),
    _s("torcs_engines", ("torcs-data", "1.3.7+dfsg-5",
                             "33a170ec9db8bdf7e33cb07b96b9854d5ef9e47b1f82705e4c24d6caaf13fb99"),
       "ambience", "test", r"\.(wav|ogg)$", group=r"data/sound/([a-z]+)", files=47),
)


def by_name(name: str) -> Source:
    for s in SOURCES:
        if s.name == name:
            return s
    raise MicromelError(f"source {name}: not in the catalogue "
                        f"({', '.join(s.name for s in SOURCES)})")


def select(role: str | None = None, kind: str | None = None) -> list[Source]:
    return [s for s in SOURCES if (role is None or s.role == role) and (kind is None or s.kind == kind)]


@dataclass(frozen=True)
class SourceFile:
    path: Path
    source: Source
    group: str           # speaker / voice / language / track within the source

    @property
    def tag(self) -> str:
        """The manifest's source column: NAME/group."""
        return f"{self.source.name}/{self.group}"


def group_of(src: Source, rel: str) -> str:
    m = re.search(src.group, rel) if src.group else None
    return m.group(1) if m else "other"


def matching(src: Source, rels) -> list[str]:
    """The relative paths (of a package's files) the source's rules select, sorted."""
    inc = re.compile(src.include)
    exc = re.compile(src.exclude) if src.exclude else None
    return sorted(r for r in rels if _AUDIO.search(r) and "/doc/" not in r and inc.search(r)
                  and not (exc and exc.search(r)))


def package_files(root: Path) -> list[str]:
    """Every regular file of an extracted package (symlinks skipped), relative to its root."""
    out = []
    for d, _, names in os.walk(root):
        for n in names:
            p = Path(d) / n
            if not p.is_symlink():
                out.append(p.relative_to(root).as_posix())
    return out


def source_files(src: Source, quiet: bool = True) -> list[SourceFile]:
    """The files of a source, fetched (pinned .deb) and selected; their count is checked."""
    root = debpkg.fetch(src.package, quiet=quiet, sha256=src.sha256)
    rels = matching(src, package_files(root))
    if src.files and len(rels) != src.files:
        raise MicromelError(f"source {src.name}: its rule selects {len(rels)} files of {root}, "
                            f"the catalogue expects {src.files} ({src.package} {src.version})")
    return [SourceFile(root / r, src, group_of(src, r)) for r in rels]


def role_of(f: SourceFile) -> str:
    """Where one file may appear: its source's role, or val for a training source's
    validation groups."""
    if f.source.role == "train" and f.group in f.source.val_groups:
        return "val"
    return f.source.role


# --------------------------------------------------------------------------------------
# decoding
# --------------------------------------------------------------------------------------
def duration(f: SourceFile) -> float:
    """Seconds of a file (headerless files from their size)."""
    if f.source.raw:
        subtype, rate = f.source.raw
        n = f.path.stat().st_size
        return (n // 33 * 160 if subtype == "GSM610" else n // 2) / rate
    info = audio_info(f.path)
    return info.frames / info.samplerate


def decode(f: SourceFile, start: float = 0.0, seconds: float | None = None) -> np.ndarray:
    """Float mono samples at 16 kHz (full scale 1.0) of a file, or of `seconds` from `start`
    (read by seeking: a stretch of a long track costs only that stretch)."""
    try:
        if f.source.raw:
            subtype, rate = f.source.raw
            with sf.SoundFile(io.BytesIO(f.path.read_bytes()), format="RAW", subtype=subtype,
                              samplerate=rate, channels=1, endian="LITTLE") as h:
                # a headerless file has no frame count: from its size
                x, rate = _read(h, start, seconds if seconds is not None else duration(f) - start)
        else:
            with sf.SoundFile(str(f.path)) as h:
                x, rate = _read(h, start, seconds)
    except (sf.LibsndfileError, RuntimeError, OSError, ValueError) as e:
        raise MicromelError(f"{f.path}: not a readable audio file ({str(e).splitlines()[0]})") from None
    if rate != SAMPLE_RATE and len(x):
        x = soxr.resample(x, rate, SAMPLE_RATE, quality="HQ")
    return np.asarray(x, dtype=np.float64)


def _read(h, start: float, seconds: float | None):
    rate = h.samplerate
    if start > 0 and h.seekable():
        h.seek(min(int(start * rate), max(0, h.frames - 1)))
    n = -1 if seconds is None else int(seconds * rate)
    x = h.read(n, dtype="float64", always_2d=True)
    return (x.mean(axis=1) if x.shape[1] > 1 else x[:, 0]), rate
