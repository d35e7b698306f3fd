"""A message's body as plain text: HTML turned into readable text, and the length capped.

Every mailbox kind shares it (IMAP parts, Graph's HTML bodies), so the model reads the same
text whichever server a message came from. Only the standard library's ``html.parser`` is
used: the HTML is parsed as data, nothing in it is fetched, run or rendered, and scripts,
styles and the document head are dropped.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

from mcos.mail.message import MAX_TEXT_CHARS

_BLOCK = frozenset(
    {
        "address", "article", "aside", "blockquote", "dd", "div", "dl", "dt", "fieldset",
        "figcaption", "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6",
        "header", "hr", "main", "nav", "ol", "p", "pre", "section", "table", "tr", "ul",
    }
)  # fmt: skip
_DROPPED = frozenset({"script", "style", "head", "title", "template", "noscript", "svg"})
_SPACES = re.compile(r"[ \t\r\f\v\u00a0]+")
_BLANK_LINES = re.compile(r"\n{3,}")


class _TextCollector(HTMLParser):
    """Collects the text a reader would see, with line breaks where blocks end."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._dropping: list[str] = []
        self._pre = 0
        self._href: str | None = None
        self._link_text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _DROPPED:
            self._dropping.append(tag)
            return
        if self._dropping:
            return
        if tag == "br":
            self.parts.append("\n")
        elif tag == "li":
            self.parts.append("\n- ")
        elif tag in ("td", "th"):
            self.parts.append(" ")
        elif tag in _BLOCK:
            self.parts.append("\n\n" if tag in ("p", "h1", "h2", "h3", "table") else "\n")
            if tag == "pre":
                self._pre += 1
        elif tag == "img":
            alt = dict(attrs).get("alt")
            if alt:
                self.parts.append(f"[{alt}]")
        elif tag == "a":
            self._href = dict(attrs).get("href")
            self._link_text = []

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in _DROPPED:  # <script/> opens nothing to close
            self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        if self._dropping:
            if tag == self._dropping[-1]:
                self._dropping.pop()
            return
        if tag == "pre" and self._pre:
            self._pre -= 1
        if tag in _BLOCK:  # not after an item: the next one starts its own line
            self.parts.append("\n")
        elif tag == "a" and self._href is not None:
            # The address matters to a reader deciding what a link is ("click here").
            shown = "".join(self._link_text).strip()
            if self._href.startswith(("http://", "https://")) and self._href != shown:
                self.parts.append(f" ({self._href})")
            self._href = None

    def handle_data(self, data: str) -> None:
        if self._dropping:
            return
        if not self._pre:
            data = _SPACES.sub(" ", data.replace("\n", " "))
        if self._href is not None:
            self._link_text.append(data)
        self.parts.append(data)


def html_to_text(html: str) -> str:
    """The readable text of an HTML body: paragraphs and list items on their own lines."""
    collector = _TextCollector()
    collector.feed(html)
    collector.close()
    lines = [line.strip() for line in "".join(collector.parts).split("\n")]
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()


def clip_text(text: str, limit: int = MAX_TEXT_CHARS) -> str:
    """``text`` if it fits in ``limit`` characters, else its start and a note saying so."""
    if len(text) <= limit:
        return text
    note = f"\n\n[cut: the message has {len(text):,} characters; the first {{kept:,}} are shown]"
    kept = max(0, limit - len(note.format(kept=limit)))
    return text[:kept] + note.format(kept=kept)
