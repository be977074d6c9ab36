"""Mainland China resident identity numbers (GB 11643-1999): 18 characters, the last a checksum.

The birth date inside the number gives the holder's age, which decides whether a guardian must
consent for them (under 14).
"""

from __future__ import annotations

import datetime as dt
import re

from facetrust.errorcodes import ErrorCode
from facetrust.errors import DomainError

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"
_SHAPE = re.compile(r"^[0-9]{17}[0-9X]\Z")  # ASCII: \d would take any script's digits


def checksum_char(first17: str) -> str:
    return _CHECK[sum(int(c) * w for c, w in zip(first17, _WEIGHTS)) % 11]


def validate(id_number: str) -> str:
    """The normalised number (upper-case X), or DomainError `id_number_invalid` saying why."""
    value = id_number.strip().upper()
    if not _SHAPE.match(value):
        raise DomainError(ErrorCode.ID_NUMBER_INVALID, "an ID number is 17 digits followed by a digit or X")
    birth_date(value)
    if checksum_char(value[:17]) != value[17]:
        raise DomainError(ErrorCode.ID_NUMBER_INVALID, "the ID number's check digit is wrong")
    return value


def birth_date(id_number: str) -> dt.date:
    try:
        born = dt.date(int(id_number[6:10]), int(id_number[10:12]), int(id_number[12:14]))
    except ValueError:
        raise DomainError(ErrorCode.ID_NUMBER_INVALID, "the ID number does not contain a valid birth date") from None
    if born.year < 1900 or born > dt.date.today():
        raise DomainError(ErrorCode.ID_NUMBER_INVALID, "the ID number's birth date is out of range")
    return born


def age_on(born: dt.date, day: dt.date) -> int:
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))
