from mostrador.panel_api.service import build_and_announce
from mostrador.platform.runner import run_service

if __name__ == "__main__":  # WORKERS > 1: each worker re-imports this module (spawn) and must not rerun it
    run_service("panel-api", build_and_announce, several_processes=True)
