"""Waiting for something asynchronous to happen in a test: poll, never a fixed sleep."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable
from typing import Any


async def until(predicate: Callable[[], Any], timeout: float = 5.0, what: str = "condition", *,
                interval: float = 0.02, in_thread: bool = False) -> Any:
    """Call ``predicate`` (a function or a coroutine function; ``in_thread``: a blocking one, run in a
    worker thread) until it returns something truthy, and return that; fail after ``timeout`` s."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        value = await asyncio.to_thread(predicate) if in_thread else predicate()
        if inspect.isawaitable(value):
            value = await value
        if value:
            return value
        assert loop.time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(interval)
