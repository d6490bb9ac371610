from mostrador.panel_api.service import build, first_admin_notice
from mostrador.platform.runner import run_service


def build_and_announce(ctx):
    # Distributed mode: this process is the composition root, so it prints a generated first-admin
    # password itself (to stdout, once, never through the logger).
    service = build(ctx)
    notice = first_admin_notice(service)
    if notice:
        print(notice, flush=True)
    return service


run_service("panel-api", build_and_announce)
