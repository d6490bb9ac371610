"""The embedded mode as the benchmarks run it: `deploy.embedded.build_embedded(Settings())` — every
service in one process on SQLite and the in-memory bus, with the sandbox Graph API — plus the
benchmark's compact send log on the sandbox (see bench.fakegraph.tune). `python -m bench.embedded`"""

from __future__ import annotations

import uvicorn

from bench.fakegraph import tune
from deploy.embedded import build_embedded
from mostrador.platform import logs
from mostrador.platform.settings import Settings


def main() -> None:
    settings = Settings()
    logs.configure(settings.log_level, settings.log_format)
    system = build_embedded(settings, freeze_heap=True)
    queues = system.bus.broker.queues
    tune(system.fake_graph, queued=lambda: sum(len(q.ready) for q in queues.values()))
    config = uvicorn.Config(system.app, host=settings.host, port=settings.port, log_config=None, access_log=False,
                            timeout_graceful_shutdown=10)
    uvicorn.Server(config).run()


if __name__ == "__main__":
    main()
