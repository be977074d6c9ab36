"""Write each page's <link rel="modulepreload"> list from its script's module graph
(facetrust/web/preload.py). Run after changing a page's imports; tests/test_web_pages.py fails
while a list is out of step.

    .venv/bin/python scripts/preload_modules.py
"""

from facetrust.web import preload

if __name__ == "__main__":
    for page in preload.rewrite_all():
        print(page)
