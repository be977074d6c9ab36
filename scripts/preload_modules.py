"""Write each page's <link rel="modulepreload"> list from the module graph of its script, so the
browser fetches every module side by side. Run after changing a page's imports;
tests/test_web_pages.py fails while a list is out of step.

    .venv/bin/python scripts/preload_modules.py
"""

from __future__ import annotations

import re
from pathlib import Path

STATIC = Path(__file__).resolve().parent.parent / "facetrust" / "web" / "static"
ENTRY = re.compile(r'<script type="module" src="(/static/[^"]+)"></script>')


def resolve(base: str, rel: str) -> str:
    parts = base.split("/")
    for piece in rel.split("/"):
        if piece == "..":
            parts.pop()
        elif piece != ".":
            parts.append(piece)
    return "/".join(parts)


def imported(entry: str) -> list[str]:
    seen, pending = set(), [entry]
    while pending:
        src = pending.pop()
        text = (STATIC / src.removeprefix("/static/")).read_text(encoding="utf-8")
        for rel in re.findall(r'from "(\.{1,2}/[^"]+)"', text):
            target = resolve(src.rsplit("/", 1)[0], rel)
            if target not in seen:
                seen.add(target)
                pending.append(target)
    return sorted(seen)


def main() -> None:
    for html in sorted(STATIC.glob("*/*.html")):
        text = re.sub(r'\n<link rel="modulepreload" href="[^"]+">', "", html.read_text(encoding="utf-8"))
        match = ENTRY.search(text)
        if match is None:
            continue
        links = "".join(f'\n<link rel="modulepreload" href="{m}">' for m in imported(match.group(1)))
        html.write_text(text.replace(match.group(0), match.group(0) + links, 1), encoding="utf-8")
        print(html.relative_to(STATIC), len(imported(match.group(1))), "modules")


if __name__ == "__main__":
    main()
