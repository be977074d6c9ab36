"""Resident ID numbers: checksum, birth date and age."""

from __future__ import annotations

import datetime as dt

import pytest

from facetrust.errors import DomainError
from facetrust.identity import idnumber


def make(first17: str) -> str:
    return first17 + idnumber.checksum_char(first17)


def test_known_valid_number():
    # The standard's own worked example: 11010519491231002X
    assert idnumber.validate("11010519491231002x") == "11010519491231002X"
    assert idnumber.birth_date("11010519491231002X") == dt.date(1949, 12, 31)


@pytest.mark.parametrize(
    "value,why",
    [
        ("110105194912310021", "check digit"),
        ("1101051949123100", "17 digits"),
        ("11010519491231002Y", "17 digits"),
        (make("11010519491331002"), "birth date"),
        (make("11010518001231002"), "out of range"),
        (make("11010530001231002"), "out of range"),
    ],
)
def test_invalid_numbers(value, why):
    with pytest.raises(DomainError) as exc:
        idnumber.validate(value)
    assert exc.value.code == "id_number_invalid" and why in exc.value.message


def test_age_turns_on_the_birthday():
    born = dt.date(2012, 6, 15)
    assert idnumber.age_on(born, dt.date(2026, 6, 14)) == 13
    assert idnumber.age_on(born, dt.date(2026, 6, 15)) == 14
