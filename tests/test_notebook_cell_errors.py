"""What a cell shows when it is interrupted or an agent fails (issue 16), in a real kernel.

Interrupting the kernel (a real SIGINT through jupyter_client) stops the agents of the interrupted cell: the kernel
runs agents that count (`ticks`) as long as they run; the tests interrupt a cell that awaits one of them (and,
separately, a bare `%%miniagent` cell that streams), then check what the cell showed and that the counter stopped
growing, while an agent started by another cell kept going and the next cell runs. An agent's error shows the user's
lines only.
"""

import time
from collections.abc import Iterator
from typing import Any

import pytest
from jupyter_client.blocking.client import BlockingKernelClient
from jupyter_client.manager import KernelManager
from notebook_helpers import EXTENSION, REPO_ROOT, strip_ansi

pytestmark = pytest.mark.timeout(120)

SETUP = f"""
%load_ext {EXTENSION}
import asyncio
from miniagents import InteractionContext, miniagent

ticks = {{"ticker": 0, "bystander": 0}}

@miniagent
async def ticker(ctx: InteractionContext, name: str = "ticker") -> None:
    while True:
        ticks[name] += 1
        await asyncio.sleep(0.01)

@miniagent
async def failing(ctx: InteractionContext) -> None:
    ctx.reply("about to fail")
    raise ValueError("the agent broke")

@miniagent
async def greet(ctx: InteractionContext) -> None:
    ctx.reply("hello")

@miniagent
async def boss(ctx: InteractionContext) -> None:
    ctx.reply(ticker.trigger())
    await asyncio.sleep(3600)
"""


class Kernel:
    """A kernel of this interpreter, with a client that runs code and collects what each execution showed."""

    def __init__(self) -> None:
        self.manager = KernelManager(kernel_name="python3")
        self.manager.start_kernel(cwd=str(REPO_ROOT))
        self.client: BlockingKernelClient = self.manager.blocking_client()
        self.client.start_channels()
        self.client.wait_for_ready(timeout=60)
        self.seen: list[dict[str, Any]] = []
        """Every iopub message read so far, whatever execution it belongs to."""

    def start(self, code: str) -> str:
        return self.client.execute(code, allow_stdin=False)

    def outputs(self, msg_id: str, timeout: float = 30) -> list[dict[str, Any]]:
        """The iopub messages of execution `msg_id` until the kernel is idle again."""
        messages = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            message = self.client.get_iopub_msg(timeout=max(0.1, deadline - time.monotonic()))
            self.seen.append(message)
            if message["parent_header"].get("msg_id") != msg_id:
                continue
            if message["msg_type"] == "status" and message["content"]["execution_state"] == "idle":
                return messages
            messages.append(message)
        raise AssertionError(f"execution {msg_id} did not end within {timeout} s: {messages}")

    def run(self, code: str) -> str:
        """Run `code`; its printed text (fails with the traceback if it raised)."""
        printed = []
        for message in self.outputs(self.start(code)):
            if message["msg_type"] == "error":
                raise AssertionError(strip_ansi("\n".join(message["content"]["traceback"])))
            if message["msg_type"] == "stream":
                printed.append(message["content"]["text"])
        return "".join(printed)

    def interrupt_after(self, code: str, seconds: float) -> list[dict[str, Any]]:
        """Start `code`, interrupt the kernel after `seconds`, return what the execution showed."""
        msg_id = self.start(code)
        time.sleep(seconds)
        self.manager.interrupt_kernel()
        return self.outputs(msg_id)

    def close(self) -> None:
        self.client.stop_channels()
        self.manager.shutdown_kernel(now=True)


@pytest.fixture
def kernel() -> Iterator[Kernel]:
    kernel = Kernel()
    try:
        kernel.run(SETUP)
        yield kernel
    finally:
        kernel.close()


def _growth(kernel: Kernel, name: str) -> int:
    """How much `ticks[name]` grows in half a second."""
    return int(
        kernel.run(f"before = ticks[{name!r}]\nawait asyncio.sleep(0.5)\nprint(ticks[{name!r}] - before)").strip()
    )


def _error(messages: list[dict[str, Any]]) -> dict[str, Any]:
    errors = [message["content"] for message in messages if message["msg_type"] == "error"]
    assert len(errors) == 1, messages
    return errors[0]


def test_interrupting_an_awaiting_cell_cancels_its_agents_and_no_others(kernel: Kernel) -> None:
    kernel.run("background = ticker.trigger(name='bystander')\nawait asyncio.sleep(0.1)")  # another cell's agent

    messages = kernel.interrupt_after("await boss.trigger()", seconds=1.0)

    traceback = strip_ansi("\n".join(_error(messages)["traceback"]))
    assert traceback == "Interrupted: 2 agent calls cancelled"  # boss and the ticker it called; no framework frames
    assert _growth(kernel, "ticker") == 0
    assert _growth(kernel, "bystander") > 0  # not started by the interrupted cell: still running
    assert kernel.run("print(*(await greet.trigger()))") == "hello\n"  # the next cell runs agents as before


STREAMING_CELL = """%%miniagent
for index in range(100_000):
    ticks["ticker"] += 1
    ctx.reply(f"reply {index}")
    await asyncio.sleep(0.05)
"""


def test_interrupting_a_streaming_miniagent_cell_stops_it_and_keeps_what_it_showed(kernel: Kernel) -> None:
    messages = kernel.interrupt_after(STREAMING_CELL, seconds=1.5)

    assert strip_ansi("\n".join(_error(messages)["traceback"])) == "Interrupted: 1 agent call cancelled"
    assert _growth(kernel, "ticker") == 0
    # nothing streams into the cell's output any more
    quiet = kernel.outputs(kernel.start("await asyncio.sleep(0.5)"))
    assert [message["msg_type"] for message in quiet] == ["status", "execute_input"]
    # the live output (a widget) was replaced by the static copy of the replies it showed, the call marked cancelled
    (live,) = [message for message in messages if message["msg_type"] == "display_data"]
    display_id = live["content"]["transient"]["display_id"]
    updates = [
        message["content"]["data"]
        for message in kernel.seen
        if message["msg_type"] == "update_display_data" and message["content"]["transient"]["display_id"] == display_id
    ]
    final = updates[-1]
    assert "application/vnd.jupyter.widget-view+json" not in final
    assert "reply 0" in final["text/plain"] and "reply 5" in final["text/plain"]
    assert "reply 0" in final["text/html"]
    assert final["text/plain"].endswith("Calls:\ncell_agent [cancelled]")


@pytest.mark.parametrize(
    ("cell", "cell_line"),
    [
        ("await failing.trigger()", "----> 1 await failing.trigger()"),
        ("%%miniagent\nctx.reply('start')\nctx.reply(failing.trigger())", None),
        ("from miniagents import MiniAgents\nMiniAgents().run_agent(failing)", "----> 2 MiniAgents().run_agent("),
    ],
    ids=["awaited", "bare miniagent cell", "blocking run"],
)
def test_an_agent_error_shows_the_users_lines_only(kernel: Kernel, cell: str, cell_line: str | None) -> None:
    error = _error(kernel.outputs(kernel.start(cell)))
    traceback = strip_ansi("\n".join(error["traceback"]))
    assert (error["ename"], error["evalue"]) == ("ValueError", "the agent broke")
    assert "miniagents/" not in traceback and "miniagents_notebook/" not in traceback, traceback
    assert "_miniagent_cell_" not in traceback and "hidden" not in traceback, traceback
    assert 'raise ValueError("the agent broke")' in traceback  # the agent function's line
    assert traceback.count("ValueError: the agent broke") == 1, traceback
    if cell_line is not None:
        assert cell_line in traceback, traceback


def test_a_detached_call_keeps_running_when_its_cell_is_interrupted(kernel: Kernel) -> None:
    cell = (
        "from miniagents_notebook import detached\n"
        "with detached():\n"
        "    kept = ticker.trigger(name='bystander')\n"
        "stopped = ticker.trigger()\n"
        "await asyncio.gather(kept, stopped)"
    )
    messages = kernel.interrupt_after(cell, seconds=1.0)

    traceback = strip_ansi("\n".join(_error(messages)["traceback"]))
    assert traceback == "Interrupted: 1 agent call cancelled; 1 detached call keeps running"
    assert _growth(kernel, "ticker") == 0  # not detached: stopped with its cell
    assert _growth(kernel, "bystander") > 0  # detached: still running
    assert kernel.run("print(*(await greet.trigger()))") == "hello\n"


DETACHED_CELL = """%%miniagent --detach
while True:
    ticks["bystander"] += 1
    await asyncio.sleep(0.01)
"""


def test_an_interrupted_miniagent_cell_run_with_detach_keeps_running(kernel: Kernel) -> None:
    messages = kernel.interrupt_after(DETACHED_CELL, seconds=1.0)

    traceback = strip_ansi("\n".join(_error(messages)["traceback"]))
    assert traceback == "Interrupted: 0 agent calls cancelled; 1 detached call keeps running"
    assert _growth(kernel, "bystander") > 0
    assert kernel.run("print(*(await greet.trigger()))") == "hello\n"


def test_interrupting_cancels_the_agents_of_a_mini_agents_the_user_activated_process_wide(kernel: Kernel) -> None:
    """Code written for MiniAgents may activate its own `MiniAgents` process-wide in place of the session's: the calls
    of the cells after it are known too, so the interrupted cell's agents stop (it said `0 agent calls cancelled`
    while they ran on)."""
    kernel.run("from miniagents import MiniAgents\nmine = MiniAgents().activate(process_wide=True)")

    messages = kernel.interrupt_after("await boss.trigger()", seconds=1.0)

    assert strip_ansi("\n".join(_error(messages)["traceback"])) == "Interrupted: 2 agent calls cancelled"
    assert _growth(kernel, "ticker") == 0
    assert kernel.run("print(MiniAgents.get_current() is mine, *(await greet.trigger()))") == "True hello\n"
