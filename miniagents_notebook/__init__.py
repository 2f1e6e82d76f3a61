"""The Jupyter layer of MiniAgents: `%load_ext miniagents_notebook`.

Loading the extension gives the kernel a notebook-wide MiniAgents session (`await agent.trigger(...)` works in any
cell), makes the blocking calls — `MiniAgents().run(...)`, `run_agent(...)`, `chain_loop(...)`, `dialog_loop(...)` —
work inside the kernel's running event loop (it installs the engine's blocking runner, see
`miniagents.promising.runner`), registers rich displays for messages, promises, agents and call records, and adds
two magics:

    %%miniagent greet(name: str = "world")
    ctx.reply(f"Hello, {name}!")

turns a cell into an agent (`--run INPUT` also runs it; a bare `%%miniagent` cell runs at once and shows its replies
streaming above the live tree of the calls it made), and `%miniagents` shows, configures (`errors_as_messages=True`,
...) or resets the session. The views:

- `stream(promise)` replays any streamed promise into a live, throttled view;
- `with trace() as t: ...` records the calls made in the block: `t` shows their live `CallTree`, `t.timeline()` a
  `Timeline`, `t.inspector()` a `HistoryInspector` of their records, `t.to_mermaid()` a diagram;
- `current_session().inspector()` (or `%miniagents history`) browses the records of everything the session did.

Interrupting the kernel cancels the agent calls of the interrupted cell; calls triggered inside `with detached():`
keep running.

Every view has a static HTML form that renders without a kernel and a deterministic `text/plain` form for nbval.
"""

from miniagents.history import HistorySource, InMemoryHistory, RecordedCall
from miniagents_notebook.agent_run import AgentRun
from miniagents_notebook.call_tree import CallTree
from miniagents_notebook.calls_view import make_calls_view
from miniagents_notebook.cell_errors import detached
from miniagents_notebook.extension import current_session, load_ipython_extension, unload_ipython_extension
from miniagents_notebook.inspector import HistoryInspector
from miniagents_notebook.session import NotebookSession
from miniagents_notebook.stream_view import StreamView, stream
from miniagents_notebook.timeline import Timeline
from miniagents_notebook.trace import Trace, trace

__all__ = [
    "AgentRun",
    "CallTree",
    "HistoryInspector",
    "HistorySource",
    "InMemoryHistory",
    "NotebookSession",
    "RecordedCall",
    "StreamView",
    "Timeline",
    "Trace",
    "current_session",
    "detached",
    "load_ipython_extension",
    "make_calls_view",
    "stream",
    "trace",
    "unload_ipython_extension",
]
