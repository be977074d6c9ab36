"""Envelope encryption of templates: sealed blobs are unreadable without the key, bound to their
record, and still readable after the master key is rotated."""

from __future__ import annotations

import os
import stat

import numpy as np
import pytest

from facetrust.biometrics.templates import Template
from facetrust.security.envelope import Keyring, KeyRotationUnavailable, KeyUnavailable


@pytest.fixture()
def template_bytes() -> bytes:
    return Template("sface-2021dec/align-mesh5", np.random.default_rng(3).normal(size=128)).to_bytes()


def test_seal_and_open(tmp_path, template_bytes):
    ring = Keyring.load_or_create(tmp_path / "keys.json")
    sealed = ring.seal(template_bytes, b"template:1:face_pay")
    assert template_bytes not in sealed.ciphertext  # no plaintext in what is stored
    assert sealed.master_key_id == "mk-1"
    assert ring.open(sealed, b"template:1:face_pay") == template_bytes


def test_keyring_file_is_private_and_reloads(tmp_path, template_bytes):
    path = tmp_path / "keys.json"
    sealed = Keyring.load_or_create(path).seal(template_bytes, b"a")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert Keyring.load(path).open(sealed, b"a") == template_bytes


def test_unreadable_without_the_key_or_on_another_record(tmp_path, template_bytes):
    sealed = Keyring.load_or_create(tmp_path / "a.json").seal(template_bytes, b"template:1:face_pay")
    stranger = Keyring.load_or_create(tmp_path / "b.json")
    with pytest.raises(KeyUnavailable):
        stranger.open(sealed, b"template:1:face_pay")
    owner = Keyring.load(tmp_path / "a.json")
    with pytest.raises(KeyUnavailable, match="bound to another record"):
        owner.open(sealed, b"template:2:face_pay")
    tampered = type(sealed)(
        sealed.ciphertext[:-1] + bytes([sealed.ciphertext[-1] ^ 1]), sealed.wrapped_key, sealed.master_key_id
    )
    with pytest.raises(KeyUnavailable):
        owner.open(tampered, b"template:1:face_pay")


def test_rotation_rewraps_data_keys_and_keeps_reading(tmp_path, template_bytes):
    path = tmp_path / "keys.json"
    ring = Keyring.load_or_create(path)
    old = ring.seal(template_bytes, b"t")
    new_id = ring.rotate()  # the key file's provider adds the key and saves the file
    assert new_id == "mk-2" and ring.active == "mk-2"
    assert Keyring.load(path).active == "mk-2"
    assert ring.open(old, b"t") == template_bytes  # readable mid-rotation
    rewrapped = ring.rewrap(old)
    assert rewrapped.master_key_id == "mk-2" and rewrapped.ciphertext == old.ciphertext
    del ring.provider.keys["mk-1"]  # once every data key is re-wrapped the old key can go
    ring.provider.save(path)
    assert ring.open(rewrapped, b"t") == template_bytes
    with pytest.raises(KeyUnavailable, match="not in the keyring"):
        ring.open(old, b"t")


def test_bad_keyrings_are_refused(tmp_path):
    (tmp_path / "k.json").write_text("{not json")
    with pytest.raises(KeyUnavailable):
        Keyring.load(tmp_path / "k.json")
    with pytest.raises(KeyUnavailable, match="32"):
        Keyring.from_keys({"mk-1": b"short"}, "mk-1")
    with pytest.raises(KeyUnavailable, match="active"):
        Keyring.from_keys({"mk-1": bytes(32)}, "mk-9")


def test_master_key_from_the_environment(tmp_path, template_bytes):
    import base64

    from facetrust.security.envelope import keyring_for

    key = base64.b64encode(bytes(range(32))).decode()
    ring = keyring_for(tmp_path / "unused.json", key)
    sealed = ring.seal(template_bytes, b"x")
    assert sealed.master_key_id == "env" and not (tmp_path / "unused.json").exists()
    assert keyring_for(tmp_path / "unused.json", key).open(sealed, b"x") == template_bytes
    with pytest.raises(KeyUnavailable):
        keyring_for(tmp_path / "unused.json", "not base64!")
    with pytest.raises(KeyRotationUnavailable):  # rotation means deploying a key file
        ring.rotate()
