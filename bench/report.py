"""The table printed at the end of a run, and its Markdown form for the README
(`python -m bench.report [results.jsonl]` prints the Markdown of the latest full run)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from bench.common import RESULTS, Figure


def _num(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        if abs(value) >= 100:
            return f"{value:,.0f}"
        if abs(value) >= 10:
            return f"{value:.1f}"
        return f"{value:.3g}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _verdict(passed: bool | None) -> str:
    return {True: "pass", False: "FAIL", None: "info"}[passed]


def rows_of(figures: list[Figure] | list[dict[str, Any]]) -> list[list[str]]:
    rows = []
    for f in figures:
        d = f.as_json() if isinstance(f, Figure) else f
        value = d.get("error") or f"{_num(d['value'])} {d['unit']}".strip()
        base = "—" if d.get("baseline") is None else _num(d["baseline"])
        rows.append([d["bench"], d["figure"], value, base, _num(d.get("ratio")), d.get("goal") or "—",
                     _verdict(d.get("pass"))])
    return rows


HEADER = ["id", "figure", "value", "baseline (same run)", "ratio", "goal", ""]


def table(figures: list[Figure], context: dict[str, Any]) -> str:
    rows = [HEADER, *rows_of(figures)]
    widths = [min(60, max(len(r[i]) for r in rows)) for i in range(len(HEADER))]
    lines = ["  ".join(c[:60].ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    m, v = context["machine"], context["versions"]
    lines.append("")
    lines.append(f"machine: {m['cpu']}, {m['cores']} cores, {m['ram_gib']} GiB; Python {v.get('python')}, "
                 f"PostgreSQL {v.get('postgresql')}, RabbitMQ {v.get('rabbitmq')} ({context['rabbitmq_queue_type']} "
                 f"queues), profile {context['profile']}")
    return "\n".join(lines)


def compact(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One B7 row per moment: the largest service (the fake Graph API, a test double, left out)."""
    out, groups = [], {}
    for line in lines:
        name, _, when = line["figure"].partition(" RSS ")
        if line["bench"] != "B7" or not when:
            out.append(line)
            continue
        if name == "fake-graph":
            continue
        if when not in groups:
            groups[when] = {**line, "services": []}
            out.append(groups[when])
        group = groups[when]
        group["services"].append(line)
        top = max(group["services"], key=lambda x: x["value"] or 0)
        group.update(figure=f"largest service RSS {when} ({top['figure'].split(' RSS ')[0]})", value=top["value"],
                     **{"pass": all(x["pass"] for x in group["services"])})
    return out


def markdown(lines: list[dict[str, Any]]) -> str:
    out = ["| " + " | ".join(HEADER[:-1] + ["pass"]) + " |", "|" + "---|" * len(HEADER)]
    for row in rows_of(compact(lines)):
        out.append("| " + " | ".join(c.replace("|", "\\|") for c in row) + " |")
    first = lines[0]
    m, v = first["machine"], first["versions"]
    libs = ", ".join(f"{k} {v[k]}" for k in ("aio-pika", "eventsourcing", "fastapi", "uvicorn", "psycopg", "pydantic")
                     if k in v)
    speeds = sorted({x["machine"]["python_loop_ns"] for x in lines if "python_loop_ns" in x["machine"]})
    speed = (f" A fixed Python loop took {speeds[0]:g}–{speeds[-1]:g} ns an iteration before the benchmarks"
             " (the machine's speed that hour; compare runs by it)." if speeds else "")
    out += ["", (f"Run `{first['run']}` ({first['profile']} profile) on {m['cpu']}, {m['cores']} cores, "
                f"{m['ram_gib']} GiB RAM, kernel {m['kernel']}; Python {v.get('python')}, PostgreSQL "
                f"{v.get('postgresql')}, RabbitMQ {v.get('rabbitmq')} ({first['rabbitmq_queue_type']} queues), "
                f"wrk {v.get('wrk')}; {libs}.{speed}")]
    return "\n".join(out)


def latest(profile: str = "full") -> Path | None:
    files = sorted(RESULTS.glob(f"*-{profile}.jsonl"))
    return files[-1] if files else None


def main(argv: list[str]) -> int:
    if argv and argv[0].startswith("-"):
        print("usage: python -m bench.report [RESULTS.jsonl]  (default: the latest full run)", file=sys.stderr)
        return 2
    path = Path(argv[0]) if argv else latest()
    if path is None:
        print("no full-profile results yet: run `make bench`", file=sys.stderr)
        return 1
    if not path.is_file():
        print(f"{path}: no such results file", file=sys.stderr)
        return 1
    lines = [json.loads(x) for x in path.read_text().splitlines() if x.strip()]
    print(markdown(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
