"""Static copies of the views: self-contained HTML with every call in it, and the call tree as Mermaid text."""

import asyncio
import re
from html import escape
from html.parser import HTMLParser

import pytest

from miniagents import InteractionContext, MiniAgents, miniagent
from miniagents_notebook.trace import Trace, trace

_VOID_TAGS = {"br", "hr", "img", "input", "meta", "link", "wbr"}
_EXTERNAL_RESOURCE_PATTERNS = [
    r"""\b(?:src|href|srcset|action|poster|data)\s*=\s*["']?\s*(?:https?:)?//""",
    r"<script",
    r"<link\b",
    r"<style\b",
    r"<img\b",
    r"<iframe\b",
    r"@import",
    r"url\(",
]


@miniagent
async def research_agent(ctx: InteractionContext) -> None:
    ctx.reply(f"RESEARCHING: {await ctx.message_promises.as_single_text_promise()}")
    for i in range(3):
        ctx.reply_out_of_order(web_search_agent.trigger(ctx.message_promises, search_query=f"query {i + 1}"))


@miniagent
async def web_search_agent(ctx: InteractionContext, search_query: str) -> None:
    ctx.reply(f"{search_query} - SEARCHING")
    await asyncio.sleep(0)
    for i in range(2):
        url = f"https://dummy.com/{search_query.replace(' ', '-')}/page-{i + 1}"
        ctx.reply_out_of_order(page_scraper_agent.trigger(ctx.message_promises, url=url))


@miniagent
async def page_scraper_agent(ctx: InteractionContext, url: str) -> None:
    ctx.reply(f"{url} - SCRAPING")
    await asyncio.sleep(0)
    if url.endswith("query-3/page-2"):
        raise ValueError("<b>the page</b> could not be parsed")
    ctx.reply(f"{url} - DONE")


@miniagent
async def hostile_agent(ctx: InteractionContext, note: str) -> None:
    ctx.reply('<script src="https://evil.example/x.js"></script><img src="https://evil.example/y.png"> & "quotes"')


@pytest.fixture
async def research_trace() -> Trace:
    async with MiniAgents():
        with trace() as traced:
            replies = research_agent.trigger("Tell me about MiniAgents", errors_as_messages=False)
        with pytest.raises(ValueError):
            await replies
    return traced


class _TagBalance(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.open: list[str] = []
        self.ids: set[str] = set()
        self.anchors: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if attributes.get("id"):
            self.ids.add(attributes["id"] or "")
        if tag == "a" and (attributes.get("href") or "").startswith("#"):
            self.anchors.append((attributes["href"] or "")[1:])
        if tag not in _VOID_TAGS:
            self.open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        assert self.open and self.open[-1] == tag, f"</{tag}> closes <{self.open[-1] if self.open else None}>"
        self.open.pop()


def assert_self_contained(html: str) -> _TagBalance:
    for pattern in _EXTERNAL_RESOURCE_PATTERNS:
        assert not re.search(pattern, html, re.IGNORECASE), f"found {pattern!r} in the static HTML"
    parser = _TagBalance()
    parser.feed(html)
    parser.close()
    assert parser.open == [], f"unclosed tags: {parser.open}"
    return parser


def test_call_tree_html_has_every_call_with_status_kwargs_and_error(research_trace: Trace) -> None:
    html = research_trace.call_tree().to_html()
    assert_self_contained(html)
    assert html.count("research_agent") == 1
    assert html.count("web_search_agent") == 3
    assert html.count("page_scraper_agent") == 6
    for number in (1, 2, 3):
        assert f"search_query=&#x27;query {number}&#x27;" in html
        assert f"url=&#x27;https://dummy.com/query-{number}/page-2&#x27;" in html
    assert "ValueError: &lt;b&gt;the page&lt;/b&gt; could not be parsed" in html
    assert html.count('title="done"') == 9 and html.count('title="error"') == 1
    assert "Agent calls: 10" in html


def test_timeline_html_has_a_bar_per_call(research_trace: Trace) -> None:
    html = research_trace.timeline().to_html()
    assert_self_contained(html)
    assert "Timeline: 10 calls" in html
    for number in (1, 2, 3):
        assert f"web_search_agent(search_query=&#x27;query {number}&#x27;)" in html  # each bar's tooltip
    assert html.count("page_scraper_agent") >= 6
    assert len(re.findall(r"position:absolute;top:2px;bottom:2px;left:", html)) == 2 * 10  # waiting + running


def test_static_copies_show_the_texts_of_the_snapshot_the_live_view_renders(research_trace: Trace) -> None:
    tree = research_trace.call_tree()
    html = tree.to_html()
    for row in tree.tree["rows"]:
        assert f"<span>{row['elapsed_text']}</span>" in html
        assert f'title="{row["status"]}">{row["icon"]}</span>' in html
    for label in tree.tree["count_labels"]:
        assert f">{label['text']}</span>" in html

    timeline = research_trace.timeline()
    html = timeline.to_html()
    snapshot = timeline.timeline
    assert f"Timeline: {snapshot['calls_text']} over {snapshot['span_text']}" in html
    for tick in snapshot["ticks"]:
        assert f"left:{tick['left']};" in html and f">{tick['label']}</span>" in html
    for bar in snapshot["bars"]:
        assert html.count(f'title="{escape(bar["title"])}"') == 3  # the label and both parts of the bar
        for segment in bar["segments"].values():
            assert f"left:{segment['left']};width:{segment['width']};" in html


def test_inspector_html_has_every_call_with_records_and_working_links(research_trace: Trace) -> None:
    html = research_trace.inspector().to_html()
    parser = assert_self_contained(html)
    assert "History: 10 recorded calls" in html
    assert html.count("<details id=") == 10
    assert "Tell me about MiniAgents" in html
    assert "https://dummy.com/query-2/page-1 - DONE" in html
    call = research_trace.history.list_calls(agent_alias="research_agent")[0]
    assert call.call_hash_key in html and call.reply_hash_key in html
    assert "Called by:" in html and "Sub-calls (3):" in html
    assert parser.anchors and set(parser.anchors) <= parser.ids  # parent, sub-call and record links stay in the page


async def test_message_text_is_escaped_so_it_can_never_load_anything() -> None:
    async with MiniAgents():
        with trace() as traced:
            replies = hostile_agent.trigger('<img src="https://evil.example/z.png">', note='"><script>')
        await replies
    for html in (traced.call_tree().to_html(), traced.timeline().to_html(), traced.inspector().to_html()):
        assert_self_contained(html)
    assert "&lt;script src=&quot;https://evil.example/x.js&quot;&gt;" in traced.inspector().to_html()


def test_empty_views_say_so() -> None:
    empty = Trace()
    assert "(no agent calls)" in empty.call_tree().to_html()
    assert "(no agent calls)" in empty.timeline().to_html()
    assert "(no recorded agent calls)" in empty.inspector().to_html()
    assert empty.to_mermaid() == 'graph TD\n  empty["(no agent calls)"]'


def test_mermaid_export_is_deterministic_and_escaped(research_trace: Trace) -> None:
    mermaid = research_trace.to_mermaid()
    lines = mermaid.splitlines()
    assert lines[0] == "graph TD"
    assert lines[1] == '  n1["✓ research_agent"]'
    assert lines[2] == "  n1 --> n2[\"✓ web_search_agent<br/>search_query='query 1'\"]"
    assert lines[3] == "  n2 --> n3[\"✓ page_scraper_agent<br/>url='https://dummy.com/query-1/page-1'\"]"
    assert lines[10] == "  n8 --> n10[\"✗ page_scraper_agent<br/>url='https://dummy.com/query-3/page-2'\"]"
    assert "  class n1,n2,n3,n4,n5,n6,n7,n8,n9 done" in lines
    assert "  class n10 error" in lines
    assert sum(" --> " in line for line in lines) == 9


async def test_mermaid_collapses_long_child_lists_and_escapes_labels() -> None:
    @miniagent
    async def many_agent(ctx: InteractionContext) -> None:
        for number in range(5):
            ctx.reply_out_of_order(hostile_agent.trigger(note=f'say "{number}" <now>'))

    async with MiniAgents():
        with trace() as traced:
            replies = many_agent.trigger()
        await replies
    lines = traced.to_mermaid(child_limit=2).splitlines()
    assert lines[2] == "  n1 --> n2[\"✓ hostile_agent<br/>note='say #quot;0#quot; #lt;now#gt;'\"]"
    assert lines[4] == '  n1 --> n4["… 3 more"]'


async def test_call_tree_html_without_timings_is_the_same_for_every_run_of_a_deterministic_system() -> None:
    htmls = []
    for _ in range(2):
        async with MiniAgents():
            with trace() as traced:
                replies = hostile_agent.trigger("same", note="same")
            await replies
        htmls.append(traced.call_tree(static_timings=False).to_html())
        with_timings = traced.call_tree().to_html()
    assert htmls[0] == htmls[1]
    assert re.search(r"<span>\d+\.\d\d s</span>", with_timings)
    assert not re.search(r"\d+\.\d\d s", htmls[0])
