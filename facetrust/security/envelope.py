"""Envelope encryption for face templates (and any other secret blob).

Each blob gets its own 256-bit data key; the blob is sealed with AES-256-GCM under that key, and the
data key is sealed (wrapped) under a master key whose id is stored beside it. Rotating the master key
re-wraps the small data keys only; the blobs themselves are never re-encrypted. Old master keys stay
in the keyring until no wrapped key names them, so readers keep working during a rotation.

The associated data binds a ciphertext to its row (for example ``template:<id>:<purpose>``), so a
blob copied onto another row or purpose fails to decrypt instead of being read as that row's.

Where the master keys live and who does the wrapping is the keyring's provider
(``facetrust.security.keyproviders``): a key file by default, or a PKCS#11 token (an HSM) whose keys
never leave it.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from facetrust.security.keyproviders import (
    NONCE_BYTES,
    FileKeyProvider,
    KeyProvider,
    KeyRotationUnavailable,
    KeyUnavailable,
)

__all__ = ["NONCE_BYTES", "KeyProvider", "KeyRotationUnavailable", "KeyUnavailable", "Keyring", "Sealed", "keyring_for"]


@dataclass(frozen=True)
class Sealed:
    ciphertext: bytes  # nonce + AES-GCM output
    wrapped_key: bytes  # nonce + data key sealed under the master key
    master_key_id: str


class Keyring:
    """Seals and opens blobs under per-blob data keys; its provider holds the master keys, says
    which one is active, and wraps and unwraps the data keys."""

    def __init__(self, provider: KeyProvider) -> None:
        self.provider = provider

    @classmethod
    def load(cls, path: Path) -> Keyring:
        return cls(FileKeyProvider.load(path))

    @classmethod
    def load_or_create(cls, path: Path) -> Keyring:
        """The key file's keyring, the file created with one fresh key (mode 0600) on first use."""
        return cls(FileKeyProvider.load_or_create(path))

    @classmethod
    def from_keys(cls, keys: dict[str, bytes], active: str) -> Keyring:
        """Master keys held in memory only (tests, tools)."""
        return cls(FileKeyProvider(keys, active))

    @property
    def active(self) -> str:
        """The id of the master key that wraps new data keys."""
        return self.provider.active_key_id

    def rotate(self) -> str:
        """A fresh active master key (the old ones stay for reading); its id."""
        return self.provider.rotate()

    def describe(self) -> dict[str, Any]:
        """The provider, where its keys are, the active key id and the ids it holds: no secret."""
        return self.provider.describe()

    # -- sealing -----------------------------------------------------------------------------

    def seal(self, plaintext: bytes, associated: bytes) -> Sealed:
        data_key = AESGCM.generate_key(bit_length=256)
        nonce = secrets.token_bytes(NONCE_BYTES)
        ciphertext = nonce + AESGCM(data_key).encrypt(nonce, plaintext, associated)
        active = self.active
        return Sealed(ciphertext, self.provider.wrap(data_key, active), active)

    def open(self, sealed: Sealed, associated: bytes) -> bytes:
        data_key = self.provider.unwrap(sealed.wrapped_key, sealed.master_key_id)
        try:
            return AESGCM(data_key).decrypt(
                sealed.ciphertext[:NONCE_BYTES], sealed.ciphertext[NONCE_BYTES:], associated
            )
        except InvalidTag:
            raise KeyUnavailable("the sealed data does not open: altered, or bound to another record") from None

    def rewrap(self, sealed: Sealed) -> Sealed:
        """The same ciphertext with its data key wrapped under the active master key."""
        active = self.active
        if sealed.master_key_id == active:
            return sealed
        data_key = self.provider.unwrap(sealed.wrapped_key, sealed.master_key_id)
        return Sealed(sealed.ciphertext, self.provider.wrap(data_key, active), active)


def keyring_for(keyring_path: Path, master_key_b64: str | None) -> Keyring:
    """The key-file keyring: the environment's key if one is given, else the key file."""
    if master_key_b64:
        return Keyring(FileKeyProvider.from_environment(master_key_b64))
    return Keyring.load_or_create(keyring_path)
