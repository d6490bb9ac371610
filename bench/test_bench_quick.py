"""`make test` runs the benchmark suite's quick profile so it never rots: every benchmark must run
and produce numbers, with the context each JSON line carries. Never a speed — machines differ,
and the full profile (`make bench`) is where goals are judged."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench.common import ROOT, infrastructure_problem

pytestmark = pytest.mark.timeout(900)

BENCHMARKS = ("B1", "B2", "B3", "B4", "B5", "B6", "B7")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory) -> tuple[subprocess.CompletedProcess, list[dict]]:
    problem = infrastructure_problem()
    if problem:
        message = f"the benchmarks need PostgreSQL and RabbitMQ on loopback: {problem}"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    out: Path = tmp_path_factory.mktemp("bench")
    result = subprocess.run([sys.executable, "-m", "bench", "--quick", "--out", str(out)], cwd=ROOT,
                            capture_output=True, text=True, timeout=840, check=False)
    lines = [json.loads(line) for f in sorted(out.glob("*.jsonl")) for line in f.read_text().splitlines() if line]
    return result, lines


def test_every_benchmark_ran_without_error(quick_run):
    result, lines = quick_run
    errors = [f"{x['bench']}: {x['error']}" for x in lines if x.get("error")]
    assert not errors, "\n".join(errors) + "\n" + result.stdout[-4000:] + result.stderr[-4000:]
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]


@pytest.mark.parametrize("bench_id", BENCHMARKS)
def test_benchmark_produced_numbers(quick_run, bench_id):
    _, lines = quick_run
    figures = [x for x in lines if x["bench"] == bench_id]
    assert figures, f"{bench_id} wrote no figure"
    assert any(isinstance(x["value"], int | float) for x in figures), figures


def test_lines_carry_their_context(quick_run):
    _, lines = quick_run
    assert lines
    for line in lines:
        assert {"bench", "figure", "value", "unit", "baseline", "ratio", "goal", "pass"} <= line.keys()
        assert line["machine"]["cores"] and line["machine"]["cpu"] and line["machine"]["python_loop_ns"] > 0
        assert line["versions"]["python"] and line["versions"].get("postgresql") and line["versions"].get("rabbitmq")
        assert line["rabbitmq_queue_type"] == "quorum"
        assert line["profile"] == "quick"
    with_baseline = [x for x in lines if x["baseline"] is not None]
    assert with_baseline and all(isinstance(x["ratio"], int | float) for x in with_baseline if x["value"] is not None)
