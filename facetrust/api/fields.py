"""Field types for input a client sends outside a JSON body: only the exact spelling counts.

A JSON body's money, ids and numbers are checked by the request models (``strict=True``: ``true``
is not 1 and ``"100"`` or ``100.0`` are not 100). A query string has only text, and pydantic reads
``1_000``, ``+100``, `` 100`` and ``100.0`` all as 100: ``PlainInt`` takes only ASCII digits.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import BeforeValidator

_PLAIN = re.compile(r"[0-9]{1,18}")


def _plain_digits(value: object) -> object:
    if isinstance(value, str) and not _PLAIN.fullmatch(value):
        raise ValueError("must be written in plain ASCII digits")
    return value


PlainInt = Annotated[int, BeforeValidator(_plain_digits)]
