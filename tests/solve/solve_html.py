"""HTML structure checks with the standard library's parser, formulas as MathML, and loading a page
in headless Chromium."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from xml.etree import ElementTree

from handgrad.solve.mathml import tex_lines_to_html
from handgrad.solve.model import Answer, Formula

VOID = {
    "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr",
}  # fmt: skip


class StructureParser(HTMLParser):
    """Records nesting errors, the tags seen, and external references."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.tags: list[tuple[str, dict[str, str | None], tuple[str, ...]]] = []
        self.external: list[str] = []
        self.doctype: str | None = None

    def handle_decl(self, decl: str) -> None:
        self.doctype = decl

    def _record(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        d = dict(attrs)
        self.tags.append((tag, d, tuple(self.stack)))
        for key in ("src", "href", "xlink:href", "data"):
            v = d.get(key)
            if v and not v.startswith("#") and not v.startswith("data:"):
                self.external.append(f"<{tag} {key}={v!r}>")

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._record(tag, attrs)
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._record(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        if tag in VOID:
            return
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"unexpected </{tag}> with open tags {self.stack[-3:]}")
            return
        self.stack.pop()


def parse(document: str) -> StructureParser:
    p = StructureParser()
    p.feed(document)
    p.close()
    if p.stack:
        p.errors.append(f"unclosed tags at the end: {p.stack}")
    return p


def chromium() -> str | None:
    """Path of a Chromium executable, or None."""
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


@dataclass(frozen=True)
class PageLoad:
    """What headless Chromium made of a page: the DOM after the load event, the page's console."""

    dom: str
    console: list[str]  # the page's console messages (any level), as Chromium logs them


def load_page(path: Path, screenshot: Path | None = None, timeout: float = 60.0) -> PageLoad:
    """Load ``path`` in headless Chromium (no network); optionally save a 1000 x 1400 screenshot.

    Chromium logs every console message of the page (log, warning, error, uncaught exception) to
    stderr as ``...:CONSOLE:<line>] "<message>", source: <url> (<line>)``; those lines whose
    source is the page are returned.
    """
    exe = chromium()
    assert exe is not None
    uri = path.resolve().as_uri()
    extra = [f"--screenshot={screenshot}", "--window-size=1000,1400"] if screenshot else []
    with tempfile.TemporaryDirectory() as profile:
        result = subprocess.run(
            [
                exe,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-dev-shm-usage",
                "--hide-scrollbars",
                "--enable-logging=stderr",
                "--v=0",
                f"--user-data-dir={profile}",
                "--virtual-time-budget=5000",
                *extra,
                "--dump-dom",
                uri,
            ],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    assert result.returncode == 0, result.stderr[-2000:]
    console = [
        line
        for line in result.stderr.splitlines()
        if ":CONSOLE" in line and f"source: {uri}" in line
    ]
    return PageLoad(result.stdout, console)


def dump_dom(path: Path, timeout: float = 60.0) -> str:
    """Load ``path`` in headless Chromium (no network) and return the DOM after the load event."""
    return load_page(path, timeout=timeout).dom


def checked_html(document: str, n_figures: int) -> StructureParser:
    """Parse and assert: well nested, self-contained, viewport meta, ``n_figures`` scalable SVGs."""
    p = parse(document)
    assert p.errors == []
    assert p.doctype is not None and p.doctype.lower() == "doctype html"
    assert p.external == []  # self-contained: nothing to fetch
    names = [t[0] for t in p.tags]
    assert names[:2] == ["html", "head"]
    metas = [t[1] for t in p.tags if t[0] == "meta"]
    assert {"name": "viewport", "content": "width=device-width, initial-scale=1"} in metas
    assert "link" not in names and all(not t[1].get("src") for t in p.tags if t[0] == "script")
    figure_svgs = [t for t in p.tags if t[0] == "svg" and t[2] and t[2][-1] == "figure"]
    assert len(figure_svgs) == n_figures
    # Scalable: the CSS sets width 100% and height auto, which needs a viewBox.
    assert all(t[1].get("viewbox") for t in figure_svgs)
    return p


# The MathML Core elements (what Chromium and Firefox lay out natively) the converter may emit.
MATHML_CORE = {
    "math", "mrow", "mi", "mn", "mo", "mtext", "mspace", "mfrac", "msqrt",
    "msub", "msup", "msubsup", "munder", "mover", "munderover",
}  # fmt: skip


def check_formulas(answer: Answer, plain: tuple[str, ...] = ()) -> None:
    """Every formula of ``answer`` but those titled in ``plain`` has TeX, and its HTML is well-formed
    XML made of paragraphs and MathML Core, with no TeX command left over."""
    formulas = [i for i in answer.items if isinstance(i, Formula)]
    assert formulas
    for item in formulas:
        if item.title in plain:
            assert item.tex == "", item.title
            continue
        assert item.tex, f"formula {item.title!r} has no TeX"
        fragment = tex_lines_to_html(item.tex)
        root = ElementTree.fromstring(fragment)  # raises unless well-formed
        tags = {e.tag for e in root.iter()} - {"div", "p"}
        assert "math" in tags and tags <= MATHML_CORE, (item.title, tags - MATHML_CORE)
        assert "\\" not in fragment and "$" not in fragment, item.title
