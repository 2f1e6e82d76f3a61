"""`PromisingContext`: the scope that owns every background task and default setting of the promises made in it."""

import asyncio
import contextvars
import logging
import warnings
from collections.abc import Awaitable, Callable, Coroutine, Iterable
from contextvars import ContextVar, Token
from typing import Any, ClassVar, Generic, Self, TypeVar

from miniagents.promising._deprecation import pick_renamed_argument
from miniagents.promising.errors import NoActiveContextError, WrongContextTypeError
from miniagents.promising.promise_typing import PromiseResolvedEventHandler
from miniagents.promising.runner import run_blocking
from miniagents.promising.sentinels import DEFAULT, Sentinel, is_default

__all__ = ["ProducerCoroutine", "PromisingContext", "handler_list"]

logger = logging.getLogger(__name__)

_T = TypeVar("_T")
_O = TypeVar("_O")
_current_context: ContextVar["PromisingContext | None"] = ContextVar("miniagents_current_context", default=None)


def _event_loop() -> asyncio.AbstractEventLoop:
    """The loop to start a task on: the running one, else (synchronous code, e.g. a notebook cell without `await`)
    the thread's current loop, as `asyncio.ensure_future` would choose."""
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.get_event_loop()


def _task_name(task: "asyncio.Task[Any]") -> str:
    coroutine = task.get_coro()
    return getattr(coroutine, "__qualname__", None) or getattr(coroutine, "__name__", None) or task.get_name()


def handler_list(handlers: Any) -> list[Any]:
    """One handler or an iterable of handlers, as a list (what every `on_...=` argument accepts)."""
    return [handlers] if callable(handlers) else list(handlers)


class PromisingContext:
    """Owns the background tasks of the promises created while it is active and waits for them when it closes.

    Activate it with `async with PromisingContext():` (or `activate()` / `afinalize()` where a `with` block does not
    fit, e.g. a web server or a notebook session). Promises look the active context up when they are created, so
    they need one; the error that says so also says how to open one.

    A block that ends normally waits for every background task. A block that ends with an exception (an error, a
    timeout, Ctrl+C, a cancelled notebook cell) cancels them instead, so a stuck agent can never turn an error into a
    hang; consumers of what they would have produced get `ProducerCancelledError`.
    """

    _process_wide_default: ClassVar["PromisingContext | None"] = None

    def __init__(
        self,
        start_everything_soon_by_default: bool | Sentinel = DEFAULT,
        appenders_capture_errors_by_default: bool = False,
        longer_hash_keys: bool = False,
        log_level_for_errors: int = logging.ERROR,
        on_promise_resolved: PromiseResolvedEventHandler | Iterable[PromiseResolvedEventHandler] = (),
        start_everything_asap_by_default: Any = DEFAULT,
        cancel_grace_seconds: float = 5.0,
    ) -> None:
        start_everything_soon_by_default = pick_renamed_argument(
            start_everything_soon_by_default,
            start_everything_asap_by_default,
            old="start_everything_asap_by_default",
            new="start_everything_soon_by_default",
        )
        self.start_everything_soon_by_default: bool = (
            True if is_default(start_everything_soon_by_default) else start_everything_soon_by_default
        )
        self.appenders_capture_errors_by_default = appenders_capture_errors_by_default
        self.longer_hash_keys = longer_hash_keys
        self.log_level_for_errors = log_level_for_errors
        self.cancel_grace_seconds = cancel_grace_seconds
        self.on_promise_resolved_handlers: list[PromiseResolvedEventHandler] = handler_list(on_promise_resolved)
        self.parent: PromisingContext | None = None
        self.child_tasks: set[asyncio.Task[Any]] = set()
        self._token: Token[PromisingContext | None] | None = None
        self._is_process_wide = False

    @classmethod
    def get_current(cls) -> Self:
        """Return the active context, or raise an error that explains how to activate one."""
        current = _current_context.get() or PromisingContext._process_wide_default
        if current is None:
            raise NoActiveContextError(
                f"No {cls.__name__} is active. Wrap your code in `async with {cls.__name__}():`, call "
                f"`{cls.__name__}().run(main())` from synchronous code, or `%load_ext miniagents_notebook` in Jupyter."
            )
        if not isinstance(current, cls):
            raise WrongContextTypeError(
                f"The active context is a {type(current).__name__}, but a {cls.__name__} is needed here: "
                f"use `async with {cls.__name__}():` instead."
            )
        return current

    @classmethod
    def get_current_or_none(cls) -> Self | None:
        """Return the active context if there is one of this type, else `None` (never raises)."""
        current = _current_context.get() or PromisingContext._process_wide_default
        return current if isinstance(current, cls) else None

    def activate(self, process_wide: bool = False) -> Self:
        """Make this the current context of the calling task (and of the tasks it creates afterwards).

        `process_wide=True` also makes it the fallback for code that runs in other tasks or threads' event loops
        with no context of their own, which is what a notebook-wide session needs: every cell is its own task.
        """
        if self._token is not None or self._is_process_wide:
            raise RuntimeError(f"This {type(self).__name__} is already active; create a new one instead.")
        self.parent = _current_context.get()
        self._token = _current_context.set(self)
        if process_wide:
            PromisingContext._process_wide_default = self
            self._is_process_wide = True
        return self

    def start_soon(self, awaitable: Awaitable[_T], suppress_errors: bool = True) -> "asyncio.Task[_T]":
        """Run `awaitable` as a background task that this context waits for when it closes.

        Errors of such tasks are logged (at `log_level_for_errors`) because no one awaits them;
        `suppress_errors=False` leaves them on the task for whoever awaits it.
        """
        return self._start_child(awaitable, self._on_child_done if suppress_errors else self.child_tasks.discard)

    def start_producer(
        self,
        owner: _O,
        producer: Callable[[_O], Coroutine[Any, Any, Any]],
        on_cancelled_before_start: Callable[[_O], None],
    ) -> "asyncio.Task[Any]":
        """Start a task running `producer(owner)` that others wait on; if it is cancelled before its first step, call
        `on_cancelled_before_start(owner)`.

        A task cancelled before it ever ran never executes its own `except`/`finally` blocks, so whoever waits for
        what it should have produced would wait forever; `on_cancelled_before_start` releases them instead. The owner
        and plain functions are passed rather than bound methods because the task keeps them until it ends (see
        `ProducerCoroutine`).
        """
        return self.start_producer_coroutine(_ProducerRun(owner, producer, on_cancelled_before_start))

    def start_producer_coroutine(self, coroutine: "ProducerCoroutine") -> "asyncio.Task[Any]":
        """Start a task running `coroutine` (what `start_producer` does, for an object that is its own producer)."""
        coroutine._coroutine = None  # noqa: SLF001 - the state it runs with, set here so subclasses need no __init__
        coroutine._task_context = self  # noqa: SLF001 - see above
        task: asyncio.Task[Any] = _event_loop().create_task(coroutine, context=contextvars.copy_context())  # type: ignore[arg-type]
        if not task.done():  # an eager task factory (Python 3.12+) may have run it to its end already
            self.child_tasks.add(task)
        return task

    def _start_child(
        self, awaitable: Awaitable[_T], on_done: Callable[["asyncio.Task[_T]"], None]
    ) -> "asyncio.Task[_T]":
        context = contextvars.copy_context()
        if asyncio.iscoroutine(awaitable):
            task: asyncio.Task[_T] = _event_loop().create_task(awaitable, context=context)
        else:
            task = asyncio.ensure_future(awaitable)  # type: ignore[assignment]
        self.child_tasks.add(task)
        # one copy of the current context serves the task and its callback (`add_done_callback` would make another)
        task.add_done_callback(on_done, context=context)
        return task

    def start_asap(self, awaitable: Awaitable[_T], suppress_errors: bool = True, **_: Any) -> "asyncio.Task[_T]":
        """Deprecated name of `start_soon`."""
        from miniagents.promising._deprecation import warn_deprecated

        warn_deprecated("PromisingContext.start_asap()", "PromisingContext.start_soon()")
        return self.start_soon(awaitable, suppress_errors=suppress_errors)

    def _on_child_done(self, task: "asyncio.Task[Any]") -> None:
        self.child_tasks.discard(task)
        if task.cancelled():
            return
        error = task.exception()
        if error is not None:
            logger.log(self.log_level_for_errors, "An error occurred in a background task", exc_info=error)

    def on_promise_resolved(self, handler: PromiseResolvedEventHandler) -> PromiseResolvedEventHandler:
        """Decorator: run `handler(promise, result)` in the background after each promise of this context resolves."""
        self.on_promise_resolved_handlers.append(handler)
        return handler

    def _promise_resolved(self, promise: Any, result: Any) -> None:
        """Called synchronously for every resolved promise; subclasses extend it (keep it cheap)."""
        if self.on_promise_resolved_handlers or self.parent is not None:
            self._fire_promise_resolved(promise, result)

    def _fire_promise_resolved(self, promise: Any, result: Any) -> None:
        context: PromisingContext | None = self
        while context is not None:
            for handler in context.on_promise_resolved_handlers:
                context.start_soon(handler(promise, result))
            context = context.parent

    def _before_finalize(self) -> None:
        """Hook for subclasses: release whatever could keep child tasks waiting forever (runs before the wait)."""

    async def aflush_tasks(self) -> None:
        """Wait until every background task of this context (including ones started meanwhile) has finished."""
        while self.child_tasks:
            pending = [task for task in self.child_tasks if not task.done()]
            if pending:
                await asyncio.gather(*pending, return_exceptions=True)
            else:  # finished, their done callbacks (which forget them) still queued: let those run
                # (on Python 3.12+ `gather` of finished tasks returns without letting the loop run: it would spin)
                await asyncio.sleep(0)

    async def afinalize(self, cancel_tasks: bool = False) -> None:
        """Wait for (or, with `cancel_tasks=True`, cancel) the background tasks, then deactivate the context.

        Cancelled tasks get `cancel_grace_seconds` to wind down; a task that is still running after that (one that
        swallows `CancelledError`, say) is abandoned with a warning instead of being waited for forever.
        """
        try:
            self._before_finalize()
            if cancel_tasks:
                await self._acancel_tasks()
            else:
                await self.aflush_tasks()
        finally:
            self._deactivate()

    async def _acancel_tasks(self) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.cancel_grace_seconds
        while self.child_tasks:  # cancelling a task may start others (cleanup work): cancel those too
            pending = list(self.child_tasks)
            for task in pending:
                task.cancel()
            remaining = deadline - loop.time()
            if remaining <= 0:
                break
            _, still_running = await asyncio.wait(pending, timeout=remaining)
            if still_running:
                break
        if self.child_tasks:
            abandoned = sorted(_task_name(task) for task in self.child_tasks)
            warnings.warn(
                f"{len(abandoned)} background task(s) of {type(self).__name__} did not stop within "
                f"{self.cancel_grace_seconds:g} s of being cancelled and were abandoned: {', '.join(abandoned[:5])}"
                f"{' …' if len(abandoned) > 5 else ''}. Code that catches CancelledError should re-raise it.",
                RuntimeWarning,
                stacklevel=2,
            )
            self.child_tasks.clear()

    def _deactivate(self) -> None:
        if self._is_process_wide:
            if PromisingContext._process_wide_default is self:
                PromisingContext._process_wide_default = None
            self._is_process_wide = False
        if self._token is not None:
            try:
                _current_context.reset(self._token)
            except ValueError:
                # finalised from another asyncio context than the one that activated it (e.g. another notebook cell)
                if _current_context.get() is self:
                    _current_context.set(self.parent)
            self._token = None

    async def __aenter__(self) -> Self:
        return self.activate()

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: Any) -> None:
        # The block failed (an error, a timeout, Ctrl+C, a cancelled cell): nobody is left to use what the background
        # tasks would produce, and waiting for them could hang forever (a stuck agent). Stop them instead; the
        # original exception propagates.
        await self.afinalize(cancel_tasks=exc is not None)

    def run(self, awaitable: Awaitable[_T]) -> _T:
        """Run `awaitable` inside this context to its end, blocking: in a new event loop in scripts.

        Inside a running event loop (a notebook cell) it needs a blocking runner, see `miniagents.promising.runner`.
        """
        name = type(self).__name__
        return run_blocking(
            lambda: self.arun(awaitable), blocking_call=f"{name}.run()", async_alternative=f"await {name}().arun(...)"
        )

    async def arun(self, awaitable: Awaitable[_T] | Callable[[], Awaitable[_T]]) -> _T:
        """Await `awaitable` (or call and await a no-argument async function) inside this context."""
        async with self:
            if callable(awaitable) and not isinstance(awaitable, Awaitable):
                awaitable = awaitable()
            return await awaitable


async def _never_run() -> None:
    """Stands for the producer's coroutine once the task ended: like it, it cannot be run again."""


_ENDED = _never_run()
_ENDED.close()


class ProducerCoroutine:
    """The coroutine of a producer task: runs `_aproduce_in_task()`, or `_on_cancelled_before_start()` instead.

    A coroutine object of its own rather than an `async def` wrapper with a done callback, because a big fan-out keeps
    many producer tasks pending at once and every object each one holds is one more for the cyclic garbage collector
    to traverse. Until the task's first step the task holds this object alone (the producer's coroutine is made
    then), and it needs no done callback: the cancellation of a task that never ran is thrown in here, and the
    producer's end passes through here, so this object does the clean-up and forgets the task itself. An ending task
    schedules nothing either, and is freed at once rather than after every callback already queued. An object that
    has one producer (an agent call) can be its own coroutine (`PromisingContext.start_producer_coroutine`): one
    object fewer again.
    """

    # no slots here: a subclass with an instance dict (an agent call) keeps its attributes inline (on Python 3.13 a
    # slotted base would cost it a separate dict object)
    __slots__ = ()

    _coroutine: Coroutine[Any, Any, Any] | None  # made by the first step
    _task_context: PromisingContext

    def _aproduce_in_task(self) -> Coroutine[Any, Any, Any]:
        raise NotImplementedError

    def _on_cancelled_before_start(self) -> None:
        raise NotImplementedError

    @property
    def __name__(self) -> str:
        """What it runs: how asyncio names the task's coroutine (task reprs) and how warnings name the task."""
        return type(self).__qualname__

    def send(self, value: Any) -> Any:
        if self._coroutine is None:
            self._coroutine = self._aproduce_in_task()
        try:
            return self._coroutine.send(value)
        except BaseException as end:  # StopIteration included: the producer returned
            self._on_end(end)
            raise

    def throw(self, error: Any, value: Any = None, traceback: Any = None) -> Any:
        if self._coroutine is None:  # the task never ran: its producer will not, so release whoever waits for it
            try:
                if isinstance(error, asyncio.CancelledError):
                    self._on_cancelled_before_start()
            finally:
                self._on_end(error)
            raise error
        try:
            if value is None and traceback is None:
                return self._coroutine.throw(error)
            return self._coroutine.throw(error, value, traceback)
        except BaseException as end:
            self._on_end(end)
            raise

    def close(self) -> None:
        if self._coroutine is not None:
            self._coroutine.close()

    def _on_end(self, end: BaseException) -> None:
        self._coroutine = _ENDED  # the producer's coroutine is done with (and an object that lives on holds no more)
        task = asyncio.current_task()
        if task is None:
            return
        if isinstance(end, (StopIteration, asyncio.CancelledError)):
            self._task_context.child_tasks.discard(task)
        else:  # the producer failed: logged once the task holds the error (and then forgotten), as any background task
            task.add_done_callback(self._task_context._on_child_done)  # noqa: SLF001 - the context's own bookkeeping


# asyncio runs any object of this ABC as a task's coroutine (it checks the type, and calls send / throw / close)
Coroutine.register(ProducerCoroutine)


class _ProducerRun(ProducerCoroutine, Generic[_O]):
    """The coroutine of a `start_producer` task: `producer(owner)`, or `on_cancelled_before_start(owner)`."""

    __slots__ = ("_coroutine", "_on_cancelled_before_start_of_owner", "_owner", "_producer", "_task_context")

    def __init__(
        self,
        owner: _O,
        producer: Callable[[_O], Coroutine[Any, Any, Any]],
        on_cancelled_before_start: Callable[[_O], None],
    ) -> None:
        self._owner = owner
        self._producer = producer
        self._on_cancelled_before_start_of_owner = on_cancelled_before_start

    @property
    def __name__(self) -> str:
        """What it runs: how asyncio names the task's coroutine (task reprs) and how warnings name the task."""
        return getattr(self._producer, "__qualname__", None) or repr(self._producer)

    def _aproduce_in_task(self) -> Coroutine[Any, Any, Any]:
        return self._producer(self._owner)

    def _on_cancelled_before_start(self) -> None:
        self._on_cancelled_before_start_of_owner(self._owner)
