"""Tools, not the service: evaluation, benchmarks, simulators and attack generators.

Nothing in the runtime packages imports them; the command line (``facetrust.cli``) and the scripts
do. They may import the runtime (they measure it), never the other way round.
"""
