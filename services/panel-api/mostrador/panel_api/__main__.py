from mostrador.panel_api.service import build
from mostrador.platform.runner import run_service

run_service("panel-api", build)
