"""`python -m bench` — the benchmark suite of issue 6 (full profile); `--quick` runs every benchmark
at a small size (CI). Each figure is one JSON line in bench/results/<timestamp>-<profile>.jsonl,
with its baseline measured in the same run, the ratio, the goal, pass/fail, the machine and the
versions; a table is printed at the end. Everything runs on 127.0.0.1 and cleans up after itself.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import tempfile
import time
import traceback
from pathlib import Path

from bench.common import (
    FULL,
    QUICK,
    RESULTS,
    Recorder,
    Run,
    infrastructure_problem,
    log,
    machine,
    python_loop_ns,
    versions,
    wait_for_infrastructure,
)
from bench.report import table

# id -> (module, what); run in this order (B2/B3/B7 share one distributed cluster, B6 one embedded process)
BENCHMARKS = {
    "B1": ("bench.b1_ingest", "ingest: signed webhook -> broker confirm -> 200"),
    "B4": ("bench.b4_panel", "panel list over the board read model"),
    "B5": ("bench.b5_rebuild", "board projection rebuilt from the tickets' event log"),
    "B2": ("bench.b2_pipeline", "distributed pipeline: backlog drained, latency at steady rates, memory"),
    "B6": ("bench.b6_embedded", "the same in embedded mode"),
}
# B2's module also records B3 (latency) and B7 (memory) figures: one cluster serves all three.
ALIASES = {"B3": "B2", "B7": "B2"}


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small sizes (about 2 minutes in all)")
    parser.add_argument("--only", default="", help="comma-separated ids, e.g. B1,B4 (B3/B7 run with B2)")
    parser.add_argument("--out", type=Path, default=RESULTS, help="folder for the JSON lines")
    return parser.parse_args(argv)


def selected(only: str) -> list[str]:
    if not only:
        return list(BENCHMARKS)
    wanted = {ALIASES.get(x.strip().upper(), x.strip().upper()) for x in only.split(",") if x.strip()}
    unknown = wanted - set(BENCHMARKS)
    if unknown:
        sys.exit(f"unknown benchmark(s): {', '.join(sorted(unknown))}")
    return [b for b in BENCHMARKS if b in wanted]


def _interrupt(*_args) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    os.environ.setdefault("NO_PROXY", "127.0.0.1,localhost")
    problem = infrastructure_problem()
    if problem:
        print(f"bench: cannot run: {problem}", file=sys.stderr)
        return 2
    profile = QUICK if args.quick else FULL
    run = Run(profile)
    run.work_dir = Path(tempfile.mkdtemp(prefix=f"{run.tag}-"))
    # SIGTERM/SIGINT: stop at once but still clean up (processes, schemas, queues).
    signal.signal(signal.SIGTERM, _interrupt)
    context = {"run": run.run_id, "profile": profile.name, "machine": machine(), "versions": versions(),
               "rabbitmq_queue_type": "quorum"}
    print(f"bench {profile.name} run {run.run_id} on {context['machine']['cpu']} "
          f"({context['machine']['cores']} cores, {context['machine']['ram_gib']} GiB); logs in {run.work_dir}",
          flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    out_file = args.out / f"{run.run_id.split('-')[0]}-{profile.name}.jsonl"
    figures = []
    started = time.perf_counter()
    try:
        for bench_id in selected(args.only):
            module_name, what = BENCHMARKS[bench_id]
            speed = python_loop_ns()
            log(f"{bench_id}: {what} (Python loop {speed} ns an iteration)")
            t0 = time.perf_counter()
            for attempt in (1, 2):  # once more if it broke: the broker or database may have been restarted
                rec = Recorder(bench_id)
                try:
                    wait_for_infrastructure()
                    module = __import__(module_name, fromlist=["run"])
                    module.run(run, rec)
                    break
                except KeyboardInterrupt:
                    rec.fail("interrupted", "interrupted")
                    figures += rec.figures
                    raise
                except Exception as exc:  # noqa: BLE001 - one failing benchmark must not hide the others
                    traceback.print_exc()
                    rec = Recorder(bench_id)
                    rec.fail("error", f"{type(exc).__name__}: {exc}"[:500])
                    if attempt == 1:
                        log(f"{bench_id} failed ({type(exc).__name__}); cleaning up and trying once more")
                finally:
                    run.cleanup()
            log(f"{bench_id} done in {time.perf_counter() - t0:.0f}s")
            figures += rec.figures
            with out_file.open("a") as f:
                for fig in rec.figures:
                    f.write(json.dumps({**fig.as_json(), **context,
                                        "machine": {**context["machine"], "python_loop_ns": speed}},
                                       default=str) + "\n")
    except KeyboardInterrupt:
        print("bench: interrupted", file=sys.stderr)
        return 130
    finally:
        run.cleanup()
    print()
    print(table(figures, context))
    print(f"\n{len(figures)} figures in {time.perf_counter() - started:.0f}s -> {out_file}")
    return 1 if any(f.error for f in figures) else 0


if __name__ == "__main__":
    sys.exit(main())
