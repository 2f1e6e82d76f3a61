"""The tutorials' saved call trees and timelines stay legible where styles and scripts are stripped.

`jupyter nbconvert --to html --sanitize-html` keeps only a few tags (lists, `div`, `span`, `code`, ...) and no `style`
attribute at all, much as GitHub's notebook preview does. Each tutorial is rendered that way, as a reader would, and
every call tree in it must still show each call under the call that made it (nested lists, in the order and at the
depth of the tree's `text/plain` form), every timeline each call's interval (start, end, duration, and a bar drawn as
text where the interval is), and neither may show markup as text. (Messages rendered from markdown do: the
sanitizer escapes `<p>` and `<details>`, as it does in the notebook's own markdown cells.)
"""

import re
import subprocess
import sys
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

import nbformat
import pytest

from miniagents_notebook._view_format import TEXT_BAR_WIDTH

NOTEBOOKS = sorted((Path(__file__).parent.parent / "notebooks").glob("[0-9]*.ipynb"))
_VOID_TAGS = {"br", "hr", "img", "input", "meta", "link", "wbr", "col", "source"}
_TREE_LINE = re.compile(r"^((?:│  |   )*)(?:├─ |└─ )?(\S+) \[\w+\](?: .*)?$")
_INTERVAL = re.compile(r"(\d+\.\d\d) s → (\d+\.\d\d) s \((\d+\.\d\d) s\)")
_ALIAS = re.compile(r"[○◔✓✗⊘] (\S+)")
_SPAN = re.compile(r"over (\d+\.\d\d) s")


@dataclass(eq=False)
class Element:
    tag: str
    attributes: dict[str, str | None]
    children: list["Element | str"] = field(default_factory=list)

    def text(self) -> str:
        return "".join(child if isinstance(child, str) else child.text() for child in self.children)

    def elements(self, tag: str) -> list["Element"]:
        """Every descendant element named `tag`, in document order."""
        found = []
        for child in self.children:
            if isinstance(child, Element):
                if child.tag == tag:
                    found.append(child)
                found += child.elements(tag)
        return found


class _TreeBuilder(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.root = Element("root", {})
        self.stack = [self.root]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        element = Element(tag, dict(attrs))
        self.stack[-1].children.append(element)
        if tag not in _VOID_TAGS:
            self.stack.append(element)

    def handle_endtag(self, tag: str) -> None:
        for position in range(len(self.stack) - 1, 0, -1):
            if self.stack[position].tag == tag:
                del self.stack[position:]
                return

    def handle_data(self, data: str) -> None:
        self.stack[-1].children.append(data)


def _parse(html: str) -> Element:
    builder = _TreeBuilder()
    builder.feed(html)
    builder.close()
    return builder.root


def _list_items(list_element: Element, depth: int = 0) -> list[tuple[int, Element]]:
    """`(depth, li)` of a nested list, in pre-order; the depth is how many lists the item is nested in, minus one."""
    items = []
    for child in list_element.children:
        if isinstance(child, Element) and child.tag == "li":
            items.append((depth, child))
            for nested in (grandchild for grandchild in child.children if isinstance(grandchild, Element)):
                if nested.tag == "ul":
                    items += _list_items(nested, depth + 1)
    return items


def _own_text(item: Element) -> str:
    """The text of a list item without the items nested in it."""
    return "".join(
        child if isinstance(child, str) else child.text()
        for child in item.children
        if isinstance(child, str) or child.tag != "ul"
    )


def _alias(row_text: str) -> str:
    """The agent alias in a row's text: the word after the status mark."""
    match = _ALIAS.search(row_text)
    assert match, row_text
    return match[1]


def _tree_of_text_plain(text: str) -> list[tuple[int, str]]:
    """`(depth, alias)` of each call in a tree's `text/plain` form (`├─ alias [status]`, three characters a level)."""
    calls = []
    for line in text.splitlines():
        match = _TREE_LINE.match(line)
        if match:
            prefix = match.group(1)
            calls.append((len(prefix) // 3 + (1 if line[len(prefix) :].startswith(("├─ ", "└─ ")) else 0), match[2]))
    return calls


def _stored_view_outputs(path: Path) -> list[dict[str, str]]:
    """The notebook's outputs that nbconvert renders from `text/html`, in order."""
    notebook = nbformat.read(path, as_version=4)
    return [
        output.data
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.outputs
        if "text/html" in output.get("data", {})
    ]


@pytest.fixture(scope="module")
def sanitized_pages(tmp_path_factory: pytest.TempPathFactory) -> dict[Path, Element]:
    output_dir = tmp_path_factory.mktemp("sanitized")
    command = [sys.executable, "-m", "nbconvert", "--to", "html", "--sanitize-html", "--output-dir", str(output_dir)]
    subprocess.run([*command, *map(str, NOTEBOOKS)], check=True, capture_output=True, timeout=240)
    return {path: _parse((output_dir / f"{path.stem}.html").read_text(encoding="utf-8")) for path in NOTEBOOKS}


def _html_outputs(page: Element) -> list[Element]:
    return [element for element in page.elements("div") if element.attributes.get("data-mime-type") == "text/html"]


def _assert_no_markup_shown_as_text(view: Element) -> None:
    shown = view.text()
    assert not re.search(r"<(?:/?)(?:div|span|ul|li|code|details|summary|table|tbody|tr|td|svg)\b", shown), shown[:500]


def _list_after_header(view: Element, header: str) -> Element | None:
    """The first list after the element whose text starts with `header` (a run's output shows its replies first)."""
    for element in view.elements("div"):
        if element.text().startswith(header):
            siblings = _parent_of(view, element).children
            following = siblings[siblings.index(element) + 1 :]
            return next((child for child in following if isinstance(child, Element) and child.tag == "ul"), None)
    return None


def _parent_of(root: Element, target: Element) -> Element:
    for element in [root, *(element for tag in ("div", "li") for element in root.elements(tag))]:
        if target in element.children:
            return element
    raise AssertionError("not in the view")


def _check_call_tree(view: Element, text_plain: str) -> None:
    tree_list = _list_after_header(view, "Agent calls:")
    assert tree_list is not None, "the call tree has no list"
    _assert_no_markup_shown_as_text(tree_list)
    items = _list_items(tree_list)
    assert items, "the call tree's list is empty"
    expected = _tree_of_text_plain(text_plain)
    if expected:  # the view's text/plain form is the tree (`HTML(tree.to_html())` shows only the HTML)
        shown = [(depth, _alias(_own_text(item))) for depth, item in items]
        assert shown == expected
    else:
        assert any(depth > 0 for depth, _ in items), "no call is nested under another"


def _check_timeline(view: Element, text_plain: str) -> None:
    span_match = _SPAN.search(view.text())
    assert span_match, view.text()[:300]
    span = float(span_match[1])
    items = [item for item in view.elements("li") if item.elements("code")]
    expected = [alias for _, alias in _tree_of_text_plain(text_plain)]
    if expected:
        assert [_alias(item.text()) for item in items] == expected
    assert items, "the timeline shows no call"
    for item in items:
        _assert_no_markup_shown_as_text(item)
    for item in items:
        bar = item.elements("code")[0].text()
        assert len(bar) == TEXT_BAR_WIDTH and set(bar) <= {"·", "░", "█"} and "█" in bar, bar
        interval = _INTERVAL.search(item.text())
        assert interval, item.text()
        start, end, duration = map(float, interval.groups())
        assert abs(end - start - duration) <= 0.011
        first_shown = (bar.replace("░", "█")).index("█")
        last_shown = bar.rindex("█")
        cell = max(span, 1e-6) / TEXT_BAR_WIDTH
        assert first_shown * cell <= start + 0.011 and (last_shown + 1) * cell >= end - 0.011, (bar, start, end)


@pytest.mark.timeout(300)
def test_every_saved_call_tree_and_timeline_survives_sanitize_html(sanitized_pages: dict[Path, Element]) -> None:
    seen = {"Agent calls:": 0, "Timeline:": 0}
    for path, page in sanitized_pages.items():
        views = _html_outputs(page)
        stored = _stored_view_outputs(path)
        assert len(views) == len(stored), path.name
        for view, data in zip(views, stored, strict=True):
            text = view.text()
            kind = next((kind for kind in seen if kind in text and kind in data["text/html"]), None)
            if kind is None:
                continue
            seen[kind] += 1
            check = _check_call_tree if kind == "Agent calls:" else _check_timeline
            check(view, data.get("text/plain", ""))
    assert seen["Agent calls:"] >= 8 and seen["Timeline:"] >= 3, seen
