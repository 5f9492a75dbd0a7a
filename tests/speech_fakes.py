"""Stand-ins for the speech data's decoded recordings in tests that need scenes but not the
Debian packages (tens of megabytes to download): tones for words and effects, noise beds."""
from pathlib import Path

import numpy as np

from micromel.data import mixing
from micromel.data import speech_sources as S

SR = 16000


def burst(seconds, level=0.3, f0=180.0):
    t = np.arange(int(seconds * SR)) / SR
    return level * np.sin(2 * np.pi * f0 * t)


class FakeLibrary:
    """Stands for scenes.Library: tones for words and effects, noise beds."""
    role = "test"

    def word(self, rng, source=None, group=None, max_s=6.0):
        x = burst(rng.uniform(0.2, 0.6), f0=rng.uniform(120, 250))
        src = S.by_name("kajongg_voices")
        return x, [(0, len(x))], S.SourceFile(Path("w.ogg"), src, "male1")

    def effect(self, rng, max_s=3.0):
        return burst(0.3, f0=2000.0), S.SourceFile(Path("e.ogg"), S.by_name("widelands_sfx"), "smoke")

    def bed(self, kind, rng, n):
        return mixing.coloured_noise(n, rng, "pink"), "noise/pink"
