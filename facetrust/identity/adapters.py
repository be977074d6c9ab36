"""The outside institutions real-name authentication relies on, behind small interfaces.

Production deployments plug in the identity authority's photo service and a bank's four-element
verification. This project cannot reach either, so it ships local simulators, named as such
everywhere they appear (class names, the `source` they report, the README): a citizen registry and
a bank registry read from a CSV file, with photo files beside it.
"""

from __future__ import annotations

import csv
import logging
import secrets
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from facetrust.errorcodes import ErrorCode
from facetrust.errors import DomainError, exception_fields
from facetrust.identity import idnumber


def luhn_ok(card_number: str) -> bool:
    digits = [int(c) for c in card_number]
    total = 0
    for i, d in enumerate(reversed(digits)):
        if i % 2 == 1:
            d = d * 2 - 9 if d * 2 > 9 else d * 2
        total += d
    return total % 10 == 0


def validate_card(card_number: str) -> str:
    value = card_number.replace(" ", "")
    if not (value.isascii() and value.isdigit()) or not 12 <= len(value) <= 19:  # ASCII digits only
        raise DomainError(ErrorCode.CARD_NUMBER_INVALID, "a bank card number is 12 to 19 digits")
    if not luhn_ok(value):
        raise DomainError(ErrorCode.CARD_NUMBER_INVALID, "the bank card number's check digit is wrong")
    return value


@dataclass(frozen=True)
class ReferencePhoto:
    image: bytes
    source: str  # which authority (or simulator) answered


class IdentityAuthority(Protocol):
    def reference_photo(self, name: str, id_number: str) -> ReferencePhoto:
        """The photo held for this ID number, or DomainError `identity_unknown` /
        `identity_name_mismatch`."""


@dataclass(frozen=True)
class BankCodeSent:
    reference: str  # the bank's handle of this verification; the code itself stays with the bank
    source: str  # which bank (or simulator) answered


class BankVerifier(Protocol):
    """Four-element verification the way banks do it (UnionPay-style card authentication): the
    bank checks that name, ID number, card and reserved mobile belong together and texts a
    one-time code to the mobile it holds for the card; knowing the four elements is not enough,
    the caller must also hold that phone."""

    def send_code(self, name: str, id_number: str, card_number: str, mobile: str) -> BankCodeSent:
        """Send a one-time code to the card's reserved mobile when all four elements belong
        together, else DomainError `bank_elements_mismatch` or `bank_card_unknown`."""

    def check_code(self, reference: str, code: str) -> bool:
        """Whether ``code`` is the one sent for ``reference``. A right code is used up."""


def _read_csv(path: Path) -> list[dict[str, str]]:
    try:
        with path.open(newline="", encoding="utf-8") as fh:
            return list(csv.DictReader(fh))
    except OSError as exc:
        raise RuntimeError(f"cannot read simulator registry {path}: {exc}") from exc


class SimulatedCitizenRegistry:
    """SIMULATOR of the identity authority: `name,id_number,photo` rows, photo paths relative to
    the CSV file."""

    source = "simulated citizen registry (not a real identity authority)"
    source_code = "simulated_citizen_registry"

    def __init__(self, csv_path: Path) -> None:
        self._base = csv_path.parent
        self._rows = {idnumber.validate(r["id_number"]): r for r in _read_csv(csv_path)}

    def reference_photo(self, name: str, id_number: str) -> ReferencePhoto:
        row = self._rows.get(id_number)
        if row is None:
            raise DomainError(ErrorCode.IDENTITY_UNKNOWN, "the identity authority holds no record for this ID number")
        if row["name"] != name:
            raise DomainError(ErrorCode.IDENTITY_NAME_MISMATCH, "the name does not match the ID number's record")
        return ReferencePhoto((self._base / row["photo"]).read_bytes(), self.source)


class SimulatedBankRegistry:
    """SIMULATOR of bank four-element verification: `bank,card_number,name,id_number,mobile` rows.

    It sends no text message: it draws the one-time code a real bank would send to the card's
    reserved mobile and keeps it in this process's memory, where only tests (and a developer at a
    Python prompt) read it, through ``code_sent_for_tests``. No route or log ever shows it."""

    source = "simulated bank registry (not a real bank; no text message is sent)"
    source_code = "simulated_bank_registry"

    def __init__(self, csv_path: Path) -> None:
        self._rows = {r["card_number"]: r for r in _read_csv(csv_path)}
        self._codes: dict[str, str] = {}
        self._lock = threading.Lock()

    def send_code(self, name: str, id_number: str, card_number: str, mobile: str) -> BankCodeSent:
        row = self._rows.get(card_number)
        if row is None:
            raise DomainError(ErrorCode.BANK_CARD_UNKNOWN, "no bank recognises this card number")
        if (row["name"], row["id_number"], row["mobile"]) != (name, id_number, mobile):
            raise DomainError(
                ErrorCode.BANK_ELEMENTS_MISMATCH,
                "the bank reports that the name, ID number, card and mobile do not belong together",
            )
        reference = secrets.token_hex(16)
        with self._lock:
            self._codes[reference] = f"{secrets.randbelow(10**6):06d}"
        return BankCodeSent(reference, f"{row['bank']} ({self.source})")

    def check_code(self, reference: str, code: str) -> bool:
        with self._lock:
            sent = self._codes.get(reference)
            if sent is None or not secrets.compare_digest(sent, code):
                return False
            del self._codes[reference]
            return True

    def code_sent_for_tests(self, reference: str) -> str:
        """The code the simulated bank would have texted to the card's reserved mobile (tests only)."""
        return self._codes[reference]


class Guarded:
    """An adapter whose failures answer 503 with a stable ``code``: an authority or a bank that is
    down, slow or broken (a registry row whose photo file is missing) is not the client's fault, and
    must not be a 500. A refusal the adapter means (a ``DomainError``) passes through unchanged. The
    failure is logged as its type and where it was raised, never its message, which may quote
    the data (a file path, an ID number)."""

    def __init__(self, adapter: object, code: ErrorCode, message: str) -> None:
        self._adapter, self._code, self._message = adapter, code, message

    def __getattr__(self, name: str) -> object:
        attr = getattr(self._adapter, name)
        if not callable(attr):
            return attr

        def call(*args: object, **kwargs: object) -> object:
            try:
                return attr(*args, **kwargs)
            except DomainError:
                raise
            except Exception as exc:
                logging.getLogger("facetrust.adapters").warning(
                    "%s.%s failed: %s", type(self._adapter).__name__, name, self._code, extra=exception_fields(exc)
                )
                raise DomainError(self._code, self._message) from None

        return call


# The codes ``source_of`` answers: the pages word each in their own language (and keep saying that
# a simulator is one); "other" is an institution plugged in later, shown by its ``source`` text.
SOURCE_CODES = (SimulatedCitizenRegistry.source_code, SimulatedBankRegistry.source_code, "other")


@dataclass(frozen=True)
class SourceOf:
    code: str  # one of SOURCE_CODES
    bank: str | None  # the bank's own name, from the bank registry's row


def source_of(source: str) -> SourceOf:
    """The stable code of a stored ``source`` text (records keep the English text they were made
    with), so a page can say who answered in its language rather than showing the English."""
    if source == SimulatedCitizenRegistry.source:
        return SourceOf(SimulatedCitizenRegistry.source_code, None)
    suffix = f" ({SimulatedBankRegistry.source})"
    if source.endswith(suffix):
        return SourceOf(SimulatedBankRegistry.source_code, source[: -len(suffix)] or None)
    return SourceOf("other", None)
