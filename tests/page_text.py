"""The visible text of a rendered page, as a reader sees it: for tests that
check what a page says (in which language, with which numbers) rather than
its markup. Block elements are kept apart, inline ones joined, spaces
collapsed; scripts, styles and the <title> are left out."""

from __future__ import annotations

import re
from html.parser import HTMLParser

BLOCKS = frozenset(
    {
        "address", "article", "aside", "br", "dd", "div", "dl", "dt", "figcaption", "footer", "h1", "h2",
        "h3", "h4", "header", "li", "main", "nav", "ol", "option", "p", "section", "summary", "table",
        "tbody", "td", "th", "thead", "tr", "ul",
    }
)  # fmt: skip
HIDDEN = frozenset({"script", "style", "title"})


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.hidden += tag in HIDDEN
        if tag in BLOCKS:
            self.parts.append(" ")

    def handle_endtag(self, tag: str) -> None:
        self.hidden -= tag in HIDDEN
        if tag in BLOCKS:
            self.parts.append(" ")

    def handle_data(self, data: str) -> None:
        if not self.hidden:
            self.parts.append(data)


def text_of(html: str) -> str:
    parser = _Text()
    parser.feed(html)
    return re.sub(r"\s+", " ", "".join(parser.parts).replace("\xa0", " ")).strip()
