"""``python -m facetrust``: the command line."""

from facetrust.cli import main

main()
