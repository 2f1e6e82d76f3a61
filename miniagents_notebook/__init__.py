"""The Jupyter layer of MiniAgents: `%load_ext miniagents_notebook`.

Loading the extension gives the kernel a notebook-wide MiniAgents session (`await agent.trigger(...)` works in any
cell), makes `MiniAgents().run(...)` work inside the kernel's running event loop, registers rich displays for
messages, promises, agents and call records, and adds two magics:

    %%miniagent greet(name: str = "world")
    ctx.reply(f"Hello, {name}!")

turns a cell into an agent (`--run INPUT` also runs it; a bare `%%miniagent` cell runs at once), and `%miniagents`
shows, configures (`errors_as_messages=True`, ...) or resets the session. `stream(promise)` replays any streamed
promise into a live, throttled view.
"""

from miniagents_notebook.agent_run import AgentRun
from miniagents_notebook.call_scope import CallScope
from miniagents_notebook.calls_view import make_calls_view
from miniagents_notebook.extension import current_session, load_ipython_extension, unload_ipython_extension
from miniagents_notebook.session import NotebookSession
from miniagents_notebook.stream_view import StreamView, stream

__all__ = [
    "AgentRun",
    "CallScope",
    "NotebookSession",
    "StreamView",
    "current_session",
    "load_ipython_extension",
    "make_calls_view",
    "stream",
    "unload_ipython_extension",
]
