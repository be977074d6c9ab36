"""The authority and bank simulators behind their interfaces, with real LFW photos."""

from __future__ import annotations

import pytest

from facetrust.errors import DomainError
from facetrust.identity import idnumber
from facetrust.identity.adapters import (
    SimulatedBankRegistry,
    SimulatedCitizenRegistry,
    luhn_ok,
    validate_card,
)

ID_A = "11010519491231002X"
ID_B = "440305199001010" + "01" + idnumber.checksum_char("44030519900101001")


@pytest.fixture()
def registries(tmp_path, lfw):
    (tmp_path / "photos").mkdir()
    (tmp_path / "photos" / "a.jpg").write_bytes((lfw / "Jiang_Zemin/Jiang_Zemin_0001.jpg").read_bytes())
    (tmp_path / "citizens.csv").write_text(f"name,id_number,photo\n江泽民,{ID_A},photos/a.jpg\n", encoding="utf-8")
    (tmp_path / "bank.csv").write_text(
        f"bank,card_number,name,id_number,mobile\nSim Bank,4111111111111111,王芳,{ID_B},13912345678\n", encoding="utf-8"
    )
    return SimulatedCitizenRegistry(tmp_path / "citizens.csv"), SimulatedBankRegistry(tmp_path / "bank.csv")


def test_citizen_registry(registries, lfw):
    citizens, _ = registries
    photo = citizens.reference_photo("江泽民", ID_A)
    assert photo.image == (lfw / "Jiang_Zemin/Jiang_Zemin_0001.jpg").read_bytes()
    assert "simulated" in photo.source
    with pytest.raises(DomainError) as exc:
        citizens.reference_photo("江泽民", ID_B)
    assert exc.value.code == "identity_unknown"
    with pytest.raises(DomainError) as exc:
        citizens.reference_photo("胡锦涛", ID_A)
    assert exc.value.code == "identity_name_mismatch"


def test_bank_registry(registries):
    _, bank = registries
    sent = bank.send_code("王芳", ID_B, "4111111111111111", "13912345678")
    assert "simulated" in sent.source and "no text message" in sent.source
    code = bank.code_sent_for_tests(sent.reference)
    assert len(code) == 6 and code.isdigit()
    assert not bank.check_code(sent.reference, f"{(int(code) + 1) % 10**6:06d}")
    assert bank.check_code(sent.reference, code) and not bank.check_code(sent.reference, code)  # used once
    with pytest.raises(DomainError) as exc:
        bank.send_code("王芳", ID_B, "4111111111111111", "13900000000")
    assert exc.value.code == "bank_elements_mismatch"
    with pytest.raises(DomainError) as exc:
        bank.send_code("王芳", ID_B, "5500000000000004", "13912345678")
    assert exc.value.code == "bank_card_unknown"


def test_luhn():
    assert luhn_ok("4111111111111111") and not luhn_ok("4111111111111112")
    assert validate_card("4111 1111 1111 1111") == "4111111111111111"
    for bad in ("4111111111111112", "12ab", "123"):
        with pytest.raises(DomainError) as exc:
            validate_card(bad)
        assert exc.value.code == "card_number_invalid"
