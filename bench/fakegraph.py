"""The fake Graph API as the benchmarks run it: `mostrador.whatsapp.fakegraph` (records every send
with its time, plays Meta's signed status webhooks back to ingest) plus what a load test needs:

- ``GET /_bench/sends?since=N``: the sends after record N, compact (seq, time, recipient, key), so
  the driver can poll progress without downloading every body and webhook;
- one shared HTTP transport for the status webhooks (the stock fake builds a client per webhook);
- customers found by key (the stock lookup scans every customer: 10,000 of them made each send slow).

`python -m bench.fakegraph --port P --webhook-url URL --app-secret S`
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

import httpx
import uvicorn

from mostrador.whatsapp.fakegraph import create_fake_graph
from mostrador.whatsapp.fakegraph_payloads import SimCustomer


def build(webhook_url: str, app_secret: str, access_token: str, status_delays: tuple[float, float]):
    transport = httpx.AsyncHTTPTransport(limits=httpx.Limits(max_connections=16, max_keepalive_connections=16))
    app = create_fake_graph(app_secret=app_secret, webhook_url=webhook_url, access_token=access_token,
                            webhook_transport=transport, status_delays=status_delays)
    tune(app)
    return app


def tune(app, queued: Callable[[], int] | None = None) -> None:
    """Indexed customer lookup and the compact send log (``queued``: messages waiting in the bus)."""
    state = app.state.fake
    linear_find = state.find

    def find(*, wa_id: str | None = None, user_id: str | None = None) -> SimCustomer | None:
        for key, attr in ((wa_id, "wa_id"), (user_id, "user_id")):
            known = state.customers.get(key) if key else None
            if known is not None and getattr(known, attr) == key:
                return known
        return linear_find(wa_id=wa_id, user_id=user_id) if len(state.customers) < 1000 else None

    state.find = find

    @app.get("/_bench/sends")
    async def sends(since: int = 0) -> dict[str, Any]:
        out = [(r["seq"], r["at"], r.get("recipient"), r.get("key"), r.get("type"))
               for r in state.requests[since:] if r.get("method") == "POST" and r.get("status_code") == 200
               and r.get("type") not in (None, "read")]
        return {"next": len(state.requests), "sends": out, "queued": queued() if queued else None,
                "webhooks_failed": sum(1 for w in state.webhooks if w["status_code"] not in (None, 200))}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--webhook-url", required=True)
    parser.add_argument("--app-secret", required=True)
    parser.add_argument("--access-token", default="sandbox-token")
    parser.add_argument("--status-delays", default="0.3,0.8")
    args = parser.parse_args()
    sent, delivered = (float(x) for x in args.status_delays.split(","))
    app = build(args.webhook_url, args.app_secret, args.access_token, (sent, delivered))
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning", access_log=False,
                timeout_graceful_shutdown=2)


if __name__ == "__main__":
    main()
