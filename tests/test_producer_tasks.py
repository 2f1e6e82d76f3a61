"""The tasks of producers (`PromisingContext.start_producer`): freed as they end, errors logged, clean-up if never run.

A producer task's coroutine does its own bookkeeping (see `ProducerCoroutine`), so that a pending task holds as few
objects as possible for the cyclic garbage collector and an ending one schedules no callback.
"""

import asyncio
import logging
import weakref
from typing import Any

import pytest

from miniagents.promising.context import PromisingContext

pytestmark = pytest.mark.timeout(20)


class _Owner:
    def __init__(self) -> None:
        self.events: list[str] = []


async def _aproduce(owner: _Owner) -> None:
    owner.events.append("produced")


async def _afail(_: _Owner) -> None:
    raise ValueError("a bug in a producer")


def _release(owner: _Owner) -> None:
    owner.events.append("released")


async def test_a_producer_task_is_freed_as_soon_as_it_ends(collector_off: None) -> None:
    freed_before_the_next_task_ran: list[bool] = []

    async def acheck(_: _Owner) -> None:
        freed_before_the_next_task_ran.append(first_task() is None)

    async with PromisingContext() as context:
        owner = _Owner()
        first_task = weakref.ref(context.start_producer(owner, _aproduce, _release))
        await context.start_producer(owner, acheck, _release)  # its first step comes right after the first task's
    assert owner.events == ["produced"]
    assert freed_before_the_next_task_ran == [True]  # no done callback queued behind other tasks keeps it alive


async def test_a_producer_that_fails_is_logged_and_forgotten(caplog: pytest.LogCaptureFixture) -> None:
    async with PromisingContext() as context:
        task = context.start_producer(_Owner(), _afail, _release)
        with pytest.raises(ValueError, match="a bug in a producer"):
            await task
    assert not context.child_tasks
    assert any(
        record.levelno == logging.ERROR and "background task" in record.getMessage() for record in caplog.records
    )


@pytest.mark.parametrize("how", ["by its context", "directly"])
async def test_a_producer_task_cancelled_before_its_first_step_runs_the_clean_up_instead(how: str) -> None:
    owner = _Owner()
    context = PromisingContext().activate()
    try:
        task: Any = context.start_producer(owner, _aproduce, _release)
        if how == "directly":
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
    finally:
        await context.afinalize(cancel_tasks=True)
    assert owner.events == ["released"]
    assert task.cancelled()
    assert not context.child_tasks
