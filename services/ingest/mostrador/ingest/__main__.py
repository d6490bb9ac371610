from mostrador.ingest.service import build
from mostrador.platform.runner import run_service

run_service("ingest", build, several_processes=True)  # stateless: WORKERS processes, or replicas
