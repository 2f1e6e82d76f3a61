"""The call tree as Mermaid text (`graph TD`), to paste into Markdown cells, GitHub or docs.

Node ids are numbered in tree order (not by call id), so the same run always gives the same text.
"""

from miniagents_notebook._style import STATUS_COLORS, STATUS_ICONS
from miniagents_notebook._tree_model import DEFAULT_CHILD_LIMIT, CallTreeModel

__all__ = ["call_tree_to_mermaid"]

_FILL_AND_TEXT_COLORS = {
    "waiting": ("#f5f5f5", "#424242"),
    "running": ("#e3f2fd", "#0d47a1"),
    "done": ("#e8f5e9", "#1b5e20"),
    "error": ("#ffebee", "#b71c1c"),
    "cancelled": ("#fff3e0", "#e65100"),
}
_CLASS_DEFS = {
    status: f"fill:{fill},stroke:{STATUS_COLORS[status]},color:{text}"
    for status, (fill, text) in _FILL_AND_TEXT_COLORS.items()
}


def _label(text: str) -> str:
    """Text safe inside a Mermaid `["..."]` label (quotes and angle brackets as Mermaid entity codes)."""
    flat = " ".join(text.split())
    return flat.replace('"', "#quot;").replace("<", "#lt;").replace(">", "#gt;")


def call_tree_to_mermaid(model: CallTreeModel, child_limit: int = DEFAULT_CHILD_LIMIT) -> str:
    """A `graph TD` with one node per call (alias, kwargs, status) and an edge from each call to its sub-calls."""
    lines = ["graph TD"]
    node_ids: dict[int, str] = {}
    by_status: dict[str, list[str]] = {}
    for position, (_, call, hidden, parent_id) in enumerate(model.walk(child_limit=child_limit), start=1):
        node_id = f"n{position}"
        if call is None:
            node = f'{node_id}["… {hidden} more"]'
        else:
            node_ids[call.call_id] = node_id
            kwargs = f"<br/>{_label(call.kwargs_text)}" if call.kwargs else ""
            node = f'{node_id}["{STATUS_ICONS[call.status]} {_label(call.agent_alias)}{kwargs}"]'
            by_status.setdefault(call.status, []).append(node_id)
        if parent_id is None:
            lines.append(f"  {node}")
        else:
            lines.append(f"  {node_ids[parent_id]} --> {node}")
    if not node_ids:
        lines.append('  empty["(no agent calls)"]')
    for status, ids in by_status.items():
        lines.append(f"  classDef {status} {_CLASS_DEFS[status]}")
        lines.append(f"  class {','.join(ids)} {status}")
    return "\n".join(lines)
