"""B2, B3 and B7 on one distributed deployment (every service its own process, PostgreSQL with a
schema each, RabbitMQ quorum queues, the fake Graph API as a process; WHATSAPP_THROUGHPUT=1000).

B7 — resident memory of every process once idle (after start-up), and at the end of B2.
B3 — end-to-end latency at a steady 80/s and 400/s (new customers saying "hola"; latency = POST
     to the bot's reply recorded at the fake Graph API), against the sum of the critical path's
     component round trips measured alone on the same system (bench.components).
B2 — a backlog of customer messages drained: messages/s from the first POST to the last reply
     (and sustained over the middle 80 %), against a loop doing only the event-store saves those
     messages needed, on the same database (bench.saves).
"""

from __future__ import annotations

import time

from bench import components, saves
from bench.common import (
    Goal,
    Recorder,
    Run,
    cpu_seconds,
    drop_schemas,
    infrastructure_cpu,
    log,
    machine_busy_seconds,
)
from bench.pipeline import latency_run, throughput_run
from bench.system import Crowd, Distributed, System, settle

MEMORY_GOAL_MB = 150
LATENCY_GOALS = {80: 50.0, 400: 150.0}  # p99 ms


def record_memory(rec: Recorder, system: System, when: str, peak: bool = False) -> None:
    rss = system.peak_rss() if peak else system.rss()
    for name, mb in sorted(rss.items()):
        test_double = name == "fake-graph"
        rec.add(f"{name} RSS {when}", mb, "MB", goal=None if test_double else Goal("<=", MEMORY_GOAL_MB),
                **({"note": "test double, not a service"} if test_double else {}))


def cpu_snapshot(system: System) -> dict[str, float]:
    out = {name: cpu_seconds(pid) or 0.0 for name, pid in system.pids.items()}
    out.update(infrastructure_cpu())
    out["machine"] = machine_busy_seconds()
    return out


def cpu_per_message(before: dict[str, float], after: dict[str, float], messages: int) -> dict[str, float]:
    """ms of CPU per message: each service process; PostgreSQL and RabbitMQ summed over their processes
    (one that ended in between is missed, one that started counts whole); "machine": every core, other
    users of the machine included."""
    per: dict[str, float] = {"postgresql": 0.0, "rabbitmq": 0.0}
    for key, value in after.items():
        delta = max(0.0, value - before.get(key, 0.0)) * 1000 / messages
        kind = key.split(":", 1)[0]
        per[kind] = per.get(kind, 0.0) + delta if ":" in key else delta
    per["services"] = sum(v for k, v in per.items() if k not in ("postgresql", "rabbitmq", "machine", "fake-graph"))
    return per


def latency(run: Run, system: System, deployment: Distributed, crowd: Crowd, b3: Recorder, rate: int,
            parts: dict, *, settle_after: bool = True, why: str = "") -> None:
    """``why``: a rate outside the issue's (no goal), named in the figure."""
    profile = run.profile
    log(f"B3 steady {rate}/s for {profile.b3_seconds:g}s" + (f" ({why})" if why else ""))
    result = latency_run(system, crowd, rate, profile.b3_seconds, grace=30 if profile.quick else 120)
    summary = result.summary()
    log(f"B3 {rate}/s: {summary}")
    run.shared[f"latency {rate}"] = {"p50": result.p(50), "p99": result.p(99)}
    at = f"{rate}/s ({why})" if why else f"{rate}/s"
    b3.add(f"e2e latency p50 at {at}", result.p(50), "ms", baseline=parts["sum_ms"],
           baseline_what="sum of component round trips (p50s) measured alone", components=parts)
    b3.add(f"e2e latency p99 at {at}", result.p(99), "ms", goal=None if why else Goal("<=", LATENCY_GOALS[rate]),
           **{k: v for k, v in summary.items() if k != "p99_ms"})
    if settle_after and not settle(system, deployment.namespace, timeout=60 if profile.quick else 300):
        log("  (system not quiet after the latency run)")


def run(run: Run, rec: Recorder) -> None:
    b3, b7 = Recorder("B3"), Recorder("B7")
    try:
        _run(run, rec, b3, b7)
    finally:  # B3's and B7's figures travel with B2's: one deployment serves all three
        rec.figures[:0] = b3.figures + b7.figures


def _run(run: Run, b2: Recorder, b3: Recorder, b7: Recorder) -> None:
    profile = run.profile
    deployment = Distributed(run, "b2")
    crowd = Crowd(run.run_id)
    with deployment as system:
        time.sleep(3)
        record_memory(b7, system, "idle")
        log("B3 component round trips (idle system)")
        probe_schema = f"{deployment.prefix}probe"
        parts = components.measure(system, deployment.namespace, probe_schema, 50 if profile.quick else 200)
        drop_schemas(probe_schema)
        log(f"B3 components: {parts}")
        # The steadiest rate first, then the backlog (B2), and the rates the system may not sustain last,
        # so that a backlog they leave behind cannot spoil B2.
        latency(run, system, deployment, crowd, b3, profile.b3_rates[0], parts)
        before = saves.mark(saves.Stores(prefix=deployment.prefix))
        log(f"B2 backlog of {profile.b2_messages} messages")
        cpu_before = cpu_snapshot(system)
        result = throughput_run(system, crowd, profile.b2_messages, timeout=120 if profile.quick else 900)
        cpu = cpu_per_message(cpu_before, cpu_snapshot(system), max(1, result.replied))
        log(f"B2: {result.replied}/{result.messages} replied in {result.seconds:.1f}s = {result.rate:.0f}/s "
            f"(sustained {result.sustained})")
        record_memory(b7, system, "end of B2")
        record_memory(b7, system, "peak (B2 included)", peak=True)
        settle(system, deployment.namespace, timeout=60 if profile.quick else 300)
        after = saves.mark(saves.Stores(prefix=deployment.prefix))
        # What the latency is when the offered rate is within what B2 showed the system can drain:
        # the goal rates are above it on this machine, and there the figure is the queue's length.
        within = max(1, int((result.sustained or result.rate) / 2))
        latency(run, system, deployment, crowd, b3, within, parts, why="half the backlog throughput")
        for rate in profile.b3_rates[1:]:
            latency(run, system, deployment, crowd, b3, rate, parts, settle_after=False)  # torn down next
    target = f"{deployment.prefix}saves_"
    try:
        base = saves.replay_saves(saves.Stores(prefix=deployment.prefix), before, after, profile.b2_messages,
                                  300 if profile.quick else 1500, saves.Stores(prefix=target))
    finally:
        drop_schemas(target)
    log(f"B2 baseline (saves only): {base}")
    run.shared["throughput"] = {"rate": result.rate, "sustained": result.sustained}
    what = "loop of only the event-store saves those messages needed (same events, same DB)"
    b2.add("pipeline throughput (backlog drained)", result.rate, "msg/s", baseline=base["rate"], baseline_what=what,
           messages=result.messages, replied=result.replied, seconds=result.seconds,
           post_failures=len(result.failures), sends=result.sends, saves_per_message=base["per_message"],
           backlog_latency_p50_ms=(sorted(result.latencies)[len(result.latencies) // 2] * 1000
                                   if result.latencies else None))
    b2.add("pipeline throughput sustained (middle 80 %)", result.sustained, "msg/s", baseline=base["rate"],
           baseline_what=what, goal=Goal(">=", 1000))
    b2.add("pipeline messages answered", result.replied, "messages", goal=Goal(">=", result.messages))
    # Where the CPU went, per message answered (PostgreSQL and RabbitMQ: every such process on the
    # machine; "machine": all cores, other users included): the capacity model behind the figures.
    b2.add("CPU per message, whole pipeline", cpu["services"] + cpu["postgresql"] + cpu["rabbitmq"], "ms",
           **{k: round(v, 2) for k, v in cpu.items()},
           cores_needed_for_1000_per_s=round((cpu["services"] + cpu["postgresql"] + cpu["rabbitmq"]), 1))
