"""docs/frontend.md's Python example runs as written (it imported names that do not exist)."""
import re
from pathlib import Path

import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parents[2]


def test_the_docs_example_runs(tmp_path, monkeypatch):
    text = (ROOT / "docs" / "frontend.md").read_text()
    code = re.search(r"```python\n(.*?)```", text, re.S).group(1)
    monkeypatch.chdir(tmp_path)
    x = np.random.default_rng(0).standard_normal(16000) * 0.1
    sf.write("kick.flac", x, 16000)
    scope = {}
    exec(compile(code, "docs/frontend.md", "exec"), scope)
    q = scope["q"]
    assert q.dtype == np.int8 and q.ndim == 2 and q.shape[1] == scope["cfg"].n_mels
    # the model's config the comment names is a FrontendConfig too
    assert scope["ModelDir"].open(ROOT / "models" / "drums").frontend.n_mels == q.shape[1]
