from mostrador.platform.runner import run_service
from mostrador.scheduler.service import build

run_service("scheduler", build)
