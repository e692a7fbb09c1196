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


def test_the_benchmarks_page_is_the_report_and_holds_the_gpu_plan():
    from bench import run_all, study

    results = json.loads((REPO / "bench" / "results.json").read_text())
    page = (REPO / "docs" / "benchmarks.md").read_text()
    assert page == run_all.report(results)  # the page is what the generator writes: the plan survives a rerun
    plan = study.gpu_plan()
    assert (plan["rows"], plan["tokens"], plan["forwards"]) == (8 * 200, 8 * 200 * 30, 200 * 30)
    assert plan["total_s"] == plan["forward_s"] + plan["row_s"]
    section = page.split("## Plan: a name study on a GPU")[1]
    assert "**Estimate, not a measurement**" in section and "first_sample=" in section
    assert f"{plan['forwards']:,} batched forwards" in section and f"≈ {plan['row_s']:.0f} s" in section
