"""The benchmarks' smoke mode: every script runs and the report is written."""
import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def test_bench_smoke_writes_both_files(tmp_path):
    out = subprocess.run([sys.executable, "-m", "bench.run_all", "--smoke", "--out", str(tmp_path)],
                         cwd=REPO, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    results = json.loads((tmp_path / "results.json").read_text())
    for key in ("capture", "capture_flat", "decode", "batching", "slider", "memory", "startup", "export", "machine",
                "scoring", "layers"):
        assert key in results
    assert results["capture"]["batch8"]["ratio"]["median"] > 0
    assert results["memory"]["bytes_per_step"]["float32"] == 4 * 50257
    report = (tmp_path / "benchmarks.md").read_text()
    assert 0 <= results["decode"]["sort_share"] < 1
    for fig in ("| 1 |", "| 1b |", "| 1c |", "| 2 |", "| 3 |", "| 4 |", "| 5 |", "| 6 |", "| 7 |", "| 8 |", "| 9 |", "## GPU"):
        assert fig in report
