from mostrador.chat.service import build
from mostrador.platform.runner import run_service

run_service("chat", build)
