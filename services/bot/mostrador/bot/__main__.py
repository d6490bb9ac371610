from mostrador.bot.service import build
from mostrador.platform.runner import run_service

run_service("bot", build)
