"""HTML structure checks with the standard library's parser, and loading a page in headless Chromium."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from html.parser import HTMLParser
from pathlib import Path

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


def dump_dom(path: Path, timeout: float = 60.0) -> str:
    """Load ``path`` in headless Chromium (no network) and return the DOM after the load event."""
    exe = chromium()
    assert exe is not None
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
                f"--user-data-dir={profile}",
                "--virtual-time-budget=5000",
                "--dump-dom",
                path.resolve().as_uri(),
            ],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


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
