"""The `facetrust` command line (``python -m facetrust`` runs it too)."""

from facetrust.cli.main import main

__all__ = ["main"]
