"""The module graph of each page's script, and its ``<link rel="modulepreload">`` list: with every
module preloaded the browser fetches them side by side rather than one import at a time."""

from __future__ import annotations

import re

from facetrust.web.pages import STATIC

ENTRY = re.compile(r'<script type="module" src="(/static/[^"]+)"></script>')
PRELOAD = re.compile(r'\n<link rel="modulepreload" href="([^"]+)">')
IMPORT = re.compile(r'from "(\.{1,2}/[^"]+)"')


def _resolve(base: str, rel: str) -> str:
    parts = base.split("/")
    for piece in rel.split("/"):
        if piece == "..":
            parts.pop()
        elif piece != ".":
            parts.append(piece)
    return "/".join(parts)


def imports(entry: str) -> list[str]:
    """Every module ``entry`` (a /static/... URL) imports, directly or not, as URLs."""
    seen, pending = set(), [entry]
    while pending:
        src = pending.pop()
        for rel in IMPORT.findall((STATIC / src.removeprefix("/static/")).read_text(encoding="utf-8")):
            target = _resolve(src.rsplit("/", 1)[0], rel)
            if target not in seen:
                seen.add(target)
                pending.append(target)
    return sorted(seen)


def rewrite_all() -> list[str]:
    """Write every page's preload list from its script's graph; answers the pages written."""
    written = []
    for html in sorted(STATIC.glob("*/*.html")):
        text = PRELOAD.sub("", html.read_text(encoding="utf-8"))
        match = ENTRY.search(text)
        if match is None:
            continue
        links = "".join(f'\n<link rel="modulepreload" href="{m}">' for m in imports(match.group(1)))
        html.write_text(text.replace(match.group(0), match.group(0) + links, 1), encoding="utf-8")
        written.append(str(html.relative_to(STATIC)))
    return written
