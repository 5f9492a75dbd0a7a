"""The CI smoke run of the fuzzers (issue 17): every libFuzzer target (protocol parser, the
application's message handling with STREAM / CLASSIFY_AUDIO chunks, mm_clip, mm_segment)
builds with ASan + UBSan and runs its real-traffic seeds plus mutations (up to 3,000 or 20 s)
without a finding. The long run is `scripts/fuzz.sh SECONDS` (docs/reliability.md)."""
import shutil

import pytest

from micromel.boards import fuzz

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(shutil.which("clang") is None, reason="needs Debian clang (libFuzzer)")]


def test_every_fuzz_target_runs_clean():
    results = fuzz.fuzz(20, runs=3000, say=lambda *_: None)
    assert [r["target"] for r in results] == list(fuzz.TARGETS)
    for r in results:
        assert r["returncode"] == 0 and not r["findings"], r
        assert r["executions"] > 0 and r["edges"] > 0, r


def test_app_seeds_are_real_sessions():
    """The app target's seeds are whole frames of recorded host traffic (fuzz_app.c records)."""
    seeds = fuzz.write_seeds(fuzz.gen_dirs())
    sessions = sorted(p for p in seeds["app"].iterdir() if p.name.startswith("session"))
    assert sessions         # write_seeds just wrote them (the folder outlives a run)
    for path in sessions:
        data, ops = path.read_bytes(), []
        while len(data) >= 4:
            n = int.from_bytes(data[2:4], "little")
            ops.append(data[0])
            data = data[4 + n:]
        assert len(ops) >= 2 and set(ops) <= set(range(len(fuzz.APP_TYPES) + 1)), path.name


def test_parallel_jobs_sum_their_executions():
    """--jobs 2: two fuzzer processes on one corpus; the run's executions are both jobs'
    (each job's final stats are in its own fuzz-N.log)."""
    (r,) = fuzz.fuzz(3, ["proto"], say=lambda *_: None, jobs=2)
    assert r["returncode"] == 0 and not r["findings"] and r["jobs"] == 2, r
    logs = [(fuzz.jobs_dir("proto") / f"fuzz-{i}.log").read_text() for i in range(2)]
    per_job = [int(dict(fuzz.STAT.findall(log))["number_of_executed_units"]) for log in logs]
    assert all(n > 0 for n in per_job) and r["executions"] == sum(per_job), (per_job, r)
