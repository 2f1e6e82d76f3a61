"""A small, safe markdown-to-HTML renderer for message contents (no markdown library needed at runtime).

It covers what LLM replies use — paragraphs, line breaks, headings, fenced code, lists, quotes, rules, inline code,
bold, italic and links — and escapes everything else, so a message can never inject HTML into the notebook. It is
deliberately forgiving of half-written input, because it re-renders text that is still streaming (an unclosed code
fence simply runs to the end).
"""

import html
import re

__all__ = ["render_markdown"]

_FENCE = re.compile(r"^\s{0,3}(`{3,}|~{3,})\s*([\w+#.-]*)")
_HEADING = re.compile(r"^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
_RULE = re.compile(r"^\s{0,3}([-*_])(\s*\1){2,}\s*$")
_BULLET = re.compile(r"^\s*[-*+]\s+(.*)$")
_NUMBERED = re.compile(r"^\s*\d{1,9}[.)]\s+(.*)$")
_QUOTE = re.compile(r"^\s{0,3}>\s?(.*)$")
_CODE_SPAN = re.compile(r"(`+)(.+?)\1", re.DOTALL)
_LINK = re.compile(r"\[([^\]\n]+)\]\(((?:https?://|mailto:)[^\s)]+)\)")
_BOLD = re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1")
_ENTITIES = (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;"))  # "&" first: the others' entities contain one
# each branch starts with its marker (the lookbehind comes after it), so the regex engine can skip to the next marker
_ITALIC = re.compile(r"\*(?<![\w*]\*)(?=[^\s*])(.+?)(?<=[^\s*])\*(?!\*)|_(?<!\w_)(?=[^\s_])(.+?)(?<=[^\s_])_(?!\w)")


def render_markdown(text: str) -> str:
    """Render `text` as HTML; any HTML in it is shown as text, never interpreted."""
    blocks: list[str] = []
    lines = text.split("\n")
    index = 0
    while index < len(lines):
        line = lines[index]
        fence = _FENCE.match(line)
        if fence:
            index = _render_code_block(lines, index, fence.group(1), fence.group(2), blocks)
        elif not line.strip():
            index += 1
        elif heading := _HEADING.match(line):
            level = len(heading.group(1))
            blocks.append(f"<h{level}>{_render_inline(heading.group(2))}</h{level}>")
            index += 1
        elif _RULE.match(line):
            blocks.append("<hr>")
            index += 1
        elif _BULLET.match(line) or _NUMBERED.match(line):
            index = _render_list(lines, index, blocks)
        elif _QUOTE.match(line):
            quoted = []
            while index < len(lines) and (quote := _QUOTE.match(lines[index])):
                quoted.append(quote.group(1))
                index += 1
            blocks.append(f"<blockquote>{render_markdown(chr(10).join(quoted))}</blockquote>")
        else:
            index = _render_paragraph(lines, index, blocks)
    return "\n".join(blocks)


def _starts_block(line: str) -> bool:
    return bool(
        not line.strip()
        or _FENCE.match(line)
        or _HEADING.match(line)
        or _RULE.match(line)
        or _BULLET.match(line)
        or _NUMBERED.match(line)
        or _QUOTE.match(line)
    )


def _render_code_block(lines: list[str], index: int, marker: str, language: str, blocks: list[str]) -> int:
    code_lines = []
    index += 1
    while index < len(lines) and not lines[index].strip().startswith(marker):
        code_lines.append(lines[index])
        index += 1
    language_class = f' class="language-{html.escape(language)}"' if language else ""
    blocks.append(f"<pre><code{language_class}>{html.escape(chr(10).join(code_lines))}</code></pre>")
    return index + 1


def _render_list(lines: list[str], index: int, blocks: list[str]) -> int:
    ordered = _NUMBERED.match(lines[index]) is not None
    pattern = _NUMBERED if ordered else _BULLET
    items: list[list[str]] = []
    while index < len(lines):
        line = lines[index]
        item = pattern.match(line)
        if item:
            items.append([item.group(1)])
        elif items and line.strip() and line[:1].isspace() and not _FENCE.match(line):
            items[-1].append(line.strip())  # an indented continuation line of the previous item
        else:
            break
        index += 1
    tag = "ol" if ordered else "ul"
    rendered_items = "".join(f"<li>{_render_inline(chr(10).join(item))}</li>" for item in items)
    blocks.append(f"<{tag}>{rendered_items}</{tag}>")
    return index


def _render_paragraph(lines: list[str], index: int, blocks: list[str]) -> int:
    paragraph = [lines[index]]
    index += 1
    while index < len(lines) and not _starts_block(lines[index]):
        paragraph.append(lines[index])
        index += 1
    blocks.append(f"<p>{_render_inline(chr(10).join(line.strip() for line in paragraph))}</p>")
    return index


def _render_inline(text: str) -> str:
    """Inline markup; code spans are cut out first so nothing inside them is interpreted.

    Each kind of markup is looked for only when its marker occurs at all: a long streamed text is re-rendered on
    every live update, and most of it is plain.
    """
    if "`" not in text:
        return _line_breaks(_render_emphasis(text))
    parts = []
    position = 0
    for code in _CODE_SPAN.finditer(text):
        parts.append(_render_emphasis(text[position : code.start()]))
        parts.append(f"<code>{html.escape(code.group(2).strip())}</code>")
        position = code.end()
    parts.append(_render_emphasis(text[position:]))
    return _line_breaks("".join(parts))


def _line_breaks(markup: str) -> str:
    return markup.replace("\n", "<br>\n") if "\n" in markup else markup


def _render_emphasis(text: str) -> str:
    """Links are cut out next, so emphasis markers inside a URL stay part of the URL."""
    if "](" not in text:
        return _emphasize(text)
    parts = []
    position = 0
    for link in _LINK.finditer(text):
        parts.append(_emphasize(text[position : link.start()]))
        url = html.escape(link.group(2))
        parts.append(f'<a href="{url}" target="_blank" rel="noopener noreferrer">{_emphasize(link.group(1))}</a>')
        position = link.end()
    parts.append(_emphasize(text[position:]))
    return "".join(parts)


def _escape(text: str) -> str:
    """`html.escape(text, quote=False)` that skips the replacements with nothing to replace: looking for a character
    costs far less than replacing it, and most of a long text has none of them."""
    for character, entity in _ENTITIES:
        if character in text:
            text = text.replace(character, entity)
    return text


def _emphasize(text: str) -> str:
    escaped = _escape(text)
    if "*" not in text and "_" not in text:
        return escaped
    escaped = _BOLD.sub(r"<strong>\2</strong>", escaped)
    return _ITALIC.sub(lambda match: f"<em>{match.group(1) or match.group(2)}</em>", escaped)
