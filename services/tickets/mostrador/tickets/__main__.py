from mostrador.platform.runner import run_service
from mostrador.tickets.service import build

run_service("tickets", build)
