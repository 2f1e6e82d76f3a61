"""Message contents as HTML: CommonMark rendered by markdown-it-py, safe for any text and in time linear in its length.

The text a message holds was written by a model or a person and may be half-written or hostile, so the renderer is
configured for that:

- raw HTML is shown as text, never interpreted, and images are not loaded (`![alt](url)` shows as `!` and a link);
- only `http`, `https` and `mailto` links are links (they open in a new tab); any other one — `javascript:`, `data:`,
  a relative path — stays text;
- a single line break is a line break, as in a chat;
- text that is still streaming renders as far as it goes (an unclosed code fence runs to the end of the text);
- blocks nested deeper than `MAX_BLOCK_NESTING` levels (quotes in quotes, lists in lists) show their inner text as it
  is, preformatted. markdown-it-py would otherwise drop everything past its nesting limit, and a parser without a
  limit recurses once per level (a thousand `>` would raise `RecursionError`).

Rendering takes time linear in the length of the text, whatever it holds (runs of unclosed `**`, `[` or backticks
included): `tests/test_markdown.py` measures it. That needs markdown-it-py 4.1 or later; earlier versions join the
text of unmatched emphasis markers quadratically, in time and memory.
"""

from collections.abc import Sequence

from markdown_it import MarkdownIt
from markdown_it.renderer import RendererHTML
from markdown_it.rules_block import StateBlock
from markdown_it.token import Token
from markdown_it.utils import EnvType, OptionsDict

from miniagents_notebook._unicode import replace_lone_surrogates

__all__ = ["MAX_BLOCK_NESTING", "render_markdown"]

MAX_BLOCK_NESTING = 16
"""How deep blocks nest before the rest of the innermost one is shown as preformatted text (a list item counts as two
levels: the list and the item)."""
_LINK_SCHEMES = ("http://", "https://", "mailto:")


def render_markdown(text: str) -> str:
    """Render `text` as HTML; any HTML in it is shown as text, never interpreted."""
    return _MARKDOWN.render(replace_lone_surrogates(text)).rstrip("\n")


def _is_allowed_link(url: str) -> bool:
    return url.lower().startswith(_LINK_SCHEMES)


def _too_deep_as_preformatted(state: StateBlock, start_line: int, end_line: int, silent: bool) -> bool:
    """The first block rule: past `MAX_BLOCK_NESTING` levels, the lines of the innermost block become a code block.

    It takes the lines that the block being parsed would (up to one indented less than it, which ends a list item).
    """
    if state.level < MAX_BLOCK_NESTING:
        return False
    if silent:
        return True
    line = start_line + 1
    while line < end_line and (state.isEmpty(line) or state.sCount[line] >= state.blkIndent):
        line += 1
    while state.isEmpty(line - 1):
        line -= 1
    token = state.push("code_block", "code", 0)
    token.content = state.getLines(start_line, line, state.blkIndent, False)
    token.map = [start_line, line]
    state.line = line
    return True


def _render_link_open(
    renderer: RendererHTML, tokens: Sequence[Token], index: int, options: OptionsDict, env: EnvType
) -> str:
    tokens[index].attrSet("target", "_blank")
    tokens[index].attrSet("rel", "noopener noreferrer")
    return renderer.renderToken(tokens, index, options, env)


def _markdown_renderer() -> MarkdownIt:
    markdown = MarkdownIt(
        "commonmark",
        # markdown-it-py's own limit must stay above ours, or it drops the text past it before our rule sees it
        {"html": False, "breaks": True, "xhtmlOut": False, "maxNesting": MAX_BLOCK_NESTING + 4},
    )
    markdown.disable("image")
    markdown.validateLink = _is_allowed_link  # type: ignore[method-assign]
    markdown.block.ruler.before("table", "too_deep", _too_deep_as_preformatted)
    markdown.add_render_rule("link_open", _render_link_open)
    return markdown


_MARKDOWN = _markdown_renderer()
