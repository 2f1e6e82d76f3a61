"""One errors module with one root, and deprecation warnings that say in which version the old name goes."""

import ast
import importlib
import pkgutil
import sys
import warnings
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from types import FrameType
from typing import Any

import pytest

import miniagents
import miniagents.errors
from miniagents import InteractionContext, Message, MessagePromise, MiniAgents, TextMessage, miniagent
from miniagents.message_sequence import MessageSequence, join_messages
from miniagents.promising import _deprecation
from miniagents.promising._deprecation import REMOVED_IN
from miniagents.promising.context import PromisingContext
from miniagents.promising.promising import Promise, StreamedPromise
from miniagents.promising.sequence import FlatSequence
from miniagents.utils import split_messages

PACKAGE_ROOT = Path(miniagents.__file__).parent

INTERNAL_ERRORS = {"miniagents.ext.llms.offline.wire.BadRequestError"}
"""Errors that never reach users: the offline LLM server turns a `BadRequestError` into an HTTP 400 response."""

BUILTIN_BASES = {
    "AgentFunctionError": TypeError,
    "InvalidAgentKwargError": ValueError,
    "UnsupportedMessageTypeError": TypeError,
    "CallDepthError": RecursionError,
    "NoActiveContextError": RuntimeError,
    "WrongContextTypeError": TypeError,
    "NestingDepthError": RecursionError,
    "LLMResponseError": ValueError,
    "ChatHistoryFileError": ValueError,
    "MessageNotFoundError": LookupError,
    "AmbiguousCallError": ValueError,
}
"""The builtin error each MiniAgents error also is (so `except ValueError` and the like keep catching them)."""

OLD_IMPORT_PATHS = [
    ("miniagents", "AgentCallFinishedError"),
    ("miniagents", "MiniAgentsError"),
    ("miniagents", "NoActiveContextError"),
    ("miniagents", "ProducerCancelledError"),
    ("miniagents.promising.errors", "PromisingError"),
    ("miniagents.promising.errors", "NestingDepthError"),
    ("miniagents.promising.errors", "AppenderClosedError"),
    ("miniagents.ext.persistence", "StoreError"),
    ("miniagents.ext.persistence", "MessageNotFoundError"),
    ("miniagents.ext.persistence.errors", "AmbiguousCallError"),
    ("miniagents.ext.persistence.errors", "StoreClosedError"),
    ("miniagents.ext.persistence.errors", "StoreWriteError"),
    ("miniagents.ext.chat_history_md", "ChatHistoryFileError"),
    ("miniagents.ext.llms", "LLMResponseError"),
    ("miniagents.ext.llms.llm_call", "LLMResponseError"),
]


# --- errors ----------------------------------------------------------------------------------------------------------


def _all_modules() -> list[str]:
    return [
        info.name
        for info in pkgutil.walk_packages([str(PACKAGE_ROOT)], prefix="miniagents.")
        if not info.name.startswith("miniagents.ext.llm.")  # the deprecated aliases of `miniagents.ext.llms`
    ]


def _error_classes_defined_in_the_package() -> dict[str, type[BaseException]]:
    found = {}
    for module_name in _all_modules():
        module = importlib.import_module(module_name)
        for value in vars(module).values():
            if (
                isinstance(value, type)
                and issubclass(value, BaseException)
                and value.__module__.startswith("miniagents")
                and not value.__name__.startswith("_")
            ):
                found[f"{value.__module__}.{value.__qualname__}"] = value
    return found


def test_every_public_error_is_in_the_errors_module_and_derives_from_the_root() -> None:
    errors = _error_classes_defined_in_the_package()
    public = {path: error for path, error in errors.items() if path not in INTERNAL_ERRORS}

    assert len(public) >= 20
    for path, error in public.items():
        assert issubclass(error, miniagents.errors.MiniAgentsError), path
        assert getattr(miniagents.errors, error.__name__) is error, f"{path} is not in miniagents.errors"
    assert set(miniagents.errors.__all__) == {error.__name__ for error in public.values()} | {"PromisingError"}


def test_errors_keep_their_builtin_bases() -> None:
    for name, builtin in BUILTIN_BASES.items():
        assert issubclass(getattr(miniagents.errors, name), builtin), name
    with pytest.raises(ValueError):
        raise miniagents.errors.ChatHistoryFileError("not UTF-8")


def test_promising_error_is_still_the_base_of_every_error() -> None:
    from miniagents.promising.errors import PromisingError

    for name in miniagents.errors.__all__:
        assert issubclass(getattr(miniagents.errors, name), PromisingError), name


@pytest.mark.parametrize(("module_name", "name"), OLD_IMPORT_PATHS)
def test_old_import_paths_of_errors_still_work(module_name: str, name: str) -> None:
    assert getattr(importlib.import_module(module_name), name) is getattr(miniagents.errors, name)


def test_the_root_catches_errors_of_every_layer() -> None:
    with pytest.raises(miniagents.errors.MiniAgentsError):
        MiniAgents.get_current()  # NoActiveContextError: the promising layer's
    with pytest.raises(miniagents.errors.MiniAgentsError):

        @miniagent
        def not_async(ctx: InteractionContext) -> None:  # AgentFunctionError: the agent layer's
            pass


# --- deprecations ----------------------------------------------------------------------------------------------------


class _DeprecationCallSites(ast.NodeVisitor):
    """The qualified name of the function around every call of `warn_deprecated` / `pick_renamed_argument`."""

    def __init__(self) -> None:
        self.scope: list[str] = []
        self.qualnames: set[str] = set()

    def _visit_scope(self, node: ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef, is_function: bool) -> None:
        self.scope.append(node.name)
        if is_function:
            self.scope.append("<locals>")
        self.generic_visit(node)
        del self.scope[-2 if is_function else -1 :]

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        self._visit_scope(node, is_function=False)

    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        self._visit_scope(node, is_function=True)

    def visit_AsyncFunctionDef(self, node: ast.AsyncFunctionDef) -> None:
        self._visit_scope(node, is_function=True)

    def visit_Call(self, node: ast.Call) -> None:
        if getattr(node.func, "id", None) in ("warn_deprecated", "pick_renamed_argument"):
            scope = self.scope[:-1] if self.scope and self.scope[-1] == "<locals>" else self.scope
            self.qualnames.add(".".join(scope) or "<module>")
        self.generic_visit(node)


def _deprecation_call_sites() -> set[tuple[str, str]]:
    """(file, qualified name of the function) of every call that emits a deprecation warning, from the source."""
    sites = set()
    for path in PACKAGE_ROOT.rglob("*.py"):
        if path.name != "_deprecation.py":
            visitor = _DeprecationCallSites()
            visitor.visit(ast.parse(path.read_text(encoding="utf-8")))
            sites.update((str(path), qualname) for qualname in visitor.qualnames)
    return sites


class _RecordingWarnings:
    """Stands in for `warnings` in `_deprecation`: remembers which call site warned, then warns as usual."""

    def __init__(self) -> None:
        self.sites: set[tuple[str, str]] = set()

    def warn(self, message: str, category: type[Warning], stacklevel: int = 1) -> None:
        frame: FrameType | None = sys._getframe(1)
        while frame is not None and Path(frame.f_code.co_filename).name == "_deprecation.py":
            frame = frame.f_back
        assert frame is not None
        self.sites.add((frame.f_code.co_filename, frame.f_code.co_qualname))
        warnings.warn(message, category, stacklevel=stacklevel + 1)


@pytest.fixture
def recorded_sites(monkeypatch: pytest.MonkeyPatch) -> Iterator[set[tuple[str, str]]]:
    recorder = _RecordingWarnings()
    monkeypatch.setattr(_deprecation, "warnings", recorder)
    yield recorder.sites


def _expect_removal_version() -> Any:
    return pytest.warns(DeprecationWarning, match=rf"is deprecated; use .* will be removed in MiniAgents {REMOVED_IN}")


async def _tokens(_: Any) -> Any:
    yield "token"


async def _pieces(_: Any) -> Any:
    yield 1


async def _doubled(_: Any, item: int) -> Any:
    yield item
    yield item


def _check_warns(action: Callable[[], Any]) -> Any:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = action()
    deprecations = [warning for warning in caught if issubclass(warning.category, DeprecationWarning)]
    assert deprecations, f"{action} did not warn"
    for warning in deprecations:
        assert f"will be removed in MiniAgents {REMOVED_IN}" in str(warning.message), str(warning.message)
    return result


async def _acheck_warns(action: Callable[[], Awaitable[Any]]) -> Any:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = await action()
    deprecations = [warning for warning in caught if issubclass(warning.category, DeprecationWarning)]
    assert deprecations, f"{action} did not warn"
    for warning in deprecations:
        assert f"will be removed in MiniAgents {REMOVED_IN}" in str(warning.message), str(warning.message)
    return result


def _trigger_the_deprecated_llm_paths(monkeypatch: pytest.MonkeyPatch) -> None:
    from miniagents.ext.llms.llm_call import pick_response_metadata

    _check_warns(lambda: pick_response_metadata(None, {"not_for_user": True}))
    for name in list(sys.modules):
        if name == "miniagents.ext.llm" or name.startswith("miniagents.ext.llm."):
            monkeypatch.delitem(sys.modules, name)
    for package in ("miniagents.ext.llm.llm_common", "miniagents.ext.llm.openai", "miniagents.ext.llm.anthropic"):
        module = importlib.import_module(package)
        for alias in module.__all__:
            _check_warns(lambda module=module, alias=alias: getattr(module, alias))
    for module_name in ("miniagents.ext.llm.openai.openai_agent", "miniagents.ext.llm.anthropic.anthropic_agent"):
        _check_warns(lambda module_name=module_name: importlib.import_module(module_name))


async def test_every_deprecated_name_says_in_which_version_it_goes(
    recorded_sites: set[tuple[str, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    _check_warns(lambda: Message(text="old"))
    _check_warns(lambda: Message("old"))
    _check_warns(lambda: PromisingContext(start_everything_asap_by_default=True))

    persisted = []

    async def persist(promise: Any, message: Message) -> None:
        persisted.append(message)

    @miniagent
    async def echo(ctx: InteractionContext) -> None:
        ctx.reply(_check_warns(lambda: ctx.messages))
        _check_warns(ctx.finish_early)

    mini_agents = _check_warns(lambda: MiniAgents(on_persist_message=persist))
    async with mini_agents:
        _check_warns(lambda: mini_agents.on_persist_message(persist))
        _check_warns(lambda: TextMessage.promise(start_asap=False, content="x"))
        promise = _check_warns(lambda: MessagePromise(message_token_streamer=_tokens, start_asap=False))
        _check_warns(lambda: promise.preliminary_metadata)
        await _acheck_warns(lambda: echo.trigger("hi").aresolve_messages())
        await _acheck_warns(lambda: echo.trigger("hi", start_asap=False))
        await _acheck_warns(lambda: echo.inquire("hi"))
        await _acheck_warns(lambda: echo.initiate_call(start_asap=False).send_message("x").reply_sequence())
        await _acheck_warns(lambda: echo.initiate_inquiry().send_message("x").reply_sequence())
        await _acheck_warns(lambda: Promise(prefill_result=1, start_asap=False))
        await _acheck_warns(lambda: StreamedPromise(prefill_pieces=[1], start_asap=False))
        await _check_warns(lambda: FlatSequence(_pieces, _doubled, start_asap=False)).sequence_promise
        sequence = _check_warns(lambda: MessageSequence(start_asap=False))
        sequence.message_appender.close()
        await sequence.sequence_promise
        await _acheck_warns(lambda: join_messages(["a", "b"], start_asap=False))
        await _acheck_warns(lambda: split_messages("a\n\nb", start_asap=False))

        async def noop() -> None:
            pass

        await _check_warns(lambda: mini_agents.start_asap(noop()))
    _trigger_the_deprecated_llm_paths(monkeypatch)

    assert persisted
    assert recorded_sites == _deprecation_call_sites()


def test_the_removal_version_is_after_the_current_one() -> None:
    def version(text: str) -> tuple[int, ...]:
        return tuple(int(part) for part in text.split("."))

    assert version(REMOVED_IN) > version(miniagents.__version__)
    with _expect_removal_version():
        _deprecation.warn_deprecated("old_name", "new_name")
