"""The two pipeline measurements both modes share.

- ``latency_run`` (B3): customers send at a steady rate for a while (open loop: a slow system does
  not slow the sender down); each message's latency is its POST time to the moment the fake Graph
  API recorded the bot's reply to that customer (same host, same clock).
- ``throughput_run`` (B2): a backlog of messages is POSTed as fast as ingest takes them (32
  clients); the figure is messages per second from the first POST to the last reply, and
  "sustained" over the middle 80 % of the replies (10th to 90th percentile of reply times).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

from bench.common import log, percentile, summary_ms
from bench.system import Crowd, ReplyWatch, System, post_all


@dataclass
class LatencyResult:
    rate: float
    sent: int
    replied: int
    failures: list[str]
    latencies: list[float]  # seconds, answered messages only
    achieved_rate: float
    waited: float = 0.0  # seconds from the first POST until we stopped waiting for replies

    def summary(self) -> dict[str, Any]:
        out = summary_ms(self.latencies)
        out.update(sent=self.sent, replied=self.replied, post_failures=len(self.failures),
                   offered_rate=self.rate, achieved_send_rate=self.achieved_rate,
                   unanswered=self.sent - self.replied)
        return out

    def p(self, q: float) -> float | None:
        """Percentile in ms; an unanswered message counts as late as the whole wait (a lower bound)."""
        values = [x * 1000 for x in self.latencies] + [self.waited * 1000] * (self.sent - self.replied)
        return percentile(values, q)


def latency_run(system: System, crowd: Crowd, rate: float, seconds: float, *, grace: float) -> LatencyResult:
    phones = crowd.phones(max(1, int(rate * seconds)))
    watch = ReplyWatch(system)

    async def go() -> tuple[dict, bool]:
        await watch.poll_start()
        t0 = time.perf_counter()
        result = await post_all(system, phones, rate=rate)
        result["elapsed"] = time.perf_counter() - t0
        done = await watch.wait(phones, grace)
        result["waited"] = time.perf_counter() - t0
        return result, done

    result, _ = asyncio.run(go())
    sent = result["sent"]
    latencies = [watch.first_reply[p] - sent[p] for p in phones if p in watch.first_reply and p in sent]
    return LatencyResult(rate, len(phones), len(latencies), result["failures"], latencies,
                         len(phones) / result["elapsed"] if result["elapsed"] else 0.0, result["waited"])


@dataclass
class ThroughputResult:
    messages: int
    replied: int
    failures: list[str]
    seconds: float  # first POST to last reply
    post_seconds: float
    rate: float
    sustained: float | None
    latencies: list[float]
    sends: int


def throughput_run(system: System, crowd: Crowd, messages: int, *, timeout: float) -> ThroughputResult:
    phones = crowd.phones(messages)
    watch = ReplyWatch(system)

    async def go() -> tuple[dict, float, float]:
        await watch.poll_start()
        start = time.time()
        posting = asyncio.create_task(post_all(system, phones, concurrency=32))
        waiting = asyncio.create_task(watch.wait(phones, timeout))
        result = await posting
        posted = time.time() - start
        log(f"  posted {messages} in {posted:.1f}s ({messages / posted:.0f}/s), "
            f"{len(result['failures'])} failures")
        await waiting
        return result, start, posted

    result, start, posted = asyncio.run(go())
    times = sorted(watch.first_reply[p] for p in phones if p in watch.first_reply)
    replied = len(times)
    seconds = (times[-1] - start) if times else float("inf")
    sustained = None
    if replied >= 20:
        lo, hi = times[int(replied * 0.1)], times[int(replied * 0.9) - 1]
        sustained = (int(replied * 0.9) - int(replied * 0.1)) / (hi - lo) if hi > lo else None
    sent = result["sent"]
    latencies = [watch.first_reply[p] - sent[p] for p in phones if p in watch.first_reply and p in sent]
    return ThroughputResult(messages, replied, result["failures"], seconds, posted,
                            replied / seconds if times else 0.0, sustained, latencies, watch.sends)
