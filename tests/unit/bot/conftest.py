"""Fixtures: the packaged config (loaded once), a fake clock, a fresh in-memory BotApp, a chat."""

from __future__ import annotations

import pytest
from botchat import Chat

from mostrador.bot.application import BotApp
from mostrador.bot.config import BotConfig, load_config
from mostrador.platform.clock import FakeClock


@pytest.fixture(scope="session")
def config() -> BotConfig:
    return load_config()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def app(config: BotConfig) -> BotApp:
    return BotApp(env={"PERSISTENCE_MODULE": "eventsourcing.popo"}, config=config)


@pytest.fixture
def chat(app: BotApp, clock: FakeClock) -> Chat:
    return Chat(app, clock)

