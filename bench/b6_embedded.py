"""B6 — B2 and B3 again in the embedded mode (`make run`: every service in one process, SQLite, the
in-memory bus journaled to SQLite, the sandbox Graph API in-process), each against the distributed
figure of the same run (B2/B3 run first). Same crowd, same measurements (bench.pipeline)."""

from __future__ import annotations

import shutil

from bench import saves
from bench.common import Goal, Recorder, Run, cpu_seconds, log
from bench.pipeline import latency_run, throughput_run
from bench.system import Crowd, Embedded, settle


def latency(run: Run, system, crowd: Crowd, rec: Recorder, rate: int, *, settle_after: bool = True) -> None:
    profile = run.profile
    log(f"B6 steady {rate}/s for {profile.b6_seconds:g}s (embedded)")
    result = latency_run(system, crowd, rate, profile.b6_seconds, grace=30 if profile.quick else 120)
    log(f"B6 {rate}/s: {result.summary()}")
    distributed = run.shared.get(f"latency {rate}", {})
    rec.add(f"embedded e2e latency p50 at {rate}/s", result.p(50), "ms", baseline=distributed.get("p50"),
            baseline_what="distributed p50, same run", **result.summary())
    rec.add(f"embedded e2e latency p99 at {rate}/s", result.p(99), "ms", baseline=distributed.get("p99"),
            baseline_what="distributed p99, same run")
    if settle_after:
        settle(system, None, timeout=60 if profile.quick else 300)


def run(run: Run, rec: Recorder) -> None:
    profile = run.profile
    crowd = Crowd(run.run_id + "-embedded")
    deployment = Embedded(run, "b6")
    stores = saves.Stores(data_dir=deployment.data_dir)
    with deployment as system:
        rss_idle = system.rss()["embedded"]
        latency(run, system, crowd, rec, profile.b3_rates[0])
        before = saves.mark(stores)
        log(f"B6 backlog of {profile.b6_messages} messages (embedded)")
        cpu_before = cpu_seconds(system.pids["embedded"])
        result = throughput_run(system, crowd, profile.b6_messages, timeout=120 if profile.quick else 900)
        cpu_ms = (cpu_seconds(system.pids["embedded"]) - cpu_before) * 1000 / max(1, result.replied)
        log(f"B6: {result.replied}/{result.messages} in {result.seconds:.1f}s = {result.rate:.0f}/s "
            f"(sustained {result.sustained}), {cpu_ms:.1f} ms of CPU a message")
        rss_end = system.rss()["embedded"]
        rss_peak = system.peak_rss()["embedded"]
        settle(system, None, timeout=60 if profile.quick else 300)
        after = saves.mark(stores)
        for rate in profile.b3_rates[1:]:
            latency(run, system, crowd, rec, rate, settle_after=False)  # stopped next
    target = run.work_dir / "b6-saves"
    try:
        floor = saves.replay_saves(stores, before, after, profile.b6_messages, 300 if profile.quick else 1500,
                                   saves.Stores(data_dir=target))
    finally:  # fresh stores every time, as B2 drops its schemas (a second attempt would insert the same events)
        shutil.rmtree(target, ignore_errors=True)
    log(f"B6 floor (saves only, SQLite): {floor}")
    distributed = run.shared.get("throughput", {})
    rec.add("embedded pipeline throughput (backlog drained)", result.rate, "msg/s", baseline=distributed.get("rate"),
            baseline_what="distributed, same run", goal=Goal(">=", 200), messages=result.messages,
            replied=result.replied, seconds=result.seconds, post_failures=len(result.failures))
    rec.add("embedded pipeline throughput sustained (middle 80 %)", result.sustained, "msg/s",
            baseline=distributed.get("sustained"), baseline_what="distributed, same run")
    rec.add("embedded pipeline throughput against its saves alone", result.rate, "msg/s", baseline=floor["rate"],
            baseline_what="loop of only the event-store saves those messages needed (same events, SQLite)",
            saves_per_message=floor["per_message"], sample_messages=floor["sample_messages"])
    rec.add("embedded CPU per message", cpu_ms, "ms", note="the one process, over the backlog")
    rec.add("embedded process RSS idle / end / peak", rss_end, "MB", idle_mb=rss_idle, peak_mb=rss_peak,
            note="all services in one process")
