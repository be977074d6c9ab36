"""Envelope encryption for face templates (and any other secret blob).

Each blob gets its own 256-bit data key; the blob is sealed with AES-256-GCM under that key, and the
data key is sealed (wrapped) under a master key whose id is stored beside it. Rotating the master key
re-wraps the small data keys only; the blobs themselves are never re-encrypted. Old master keys stay
in the keyring until no wrapped key names them, so readers keep working during a rotation.

The associated data binds a ciphertext to its row (for example ``template:<id>:<purpose>``), so a
blob copied onto another row or purpose fails to decrypt instead of being read as that row's.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

NONCE_BYTES = 12


class KeyUnavailable(Exception):
    """A master key is missing, malformed, or does not open a wrapped data key."""

    code = "key_unavailable"


@dataclass(frozen=True)
class Sealed:
    ciphertext: bytes  # nonce + AES-GCM output
    wrapped_key: bytes  # nonce + data key sealed under the master key
    master_key_id: str


class Keyring:
    """Master keys by id, and which one wraps new data keys."""

    def __init__(self, keys: dict[str, bytes], active: str, path: Path | None = None) -> None:
        if active not in keys:
            raise KeyUnavailable(f"the active master key {active!r} is not in the keyring")
        for key_id, key in keys.items():
            if len(key) != 32:
                raise KeyUnavailable(f"master key {key_id!r} is {len(key)} bytes; AES-256 needs 32")
        self.keys, self.active, self.path = dict(keys), active, path

    # -- persistence -------------------------------------------------------------------------

    @classmethod
    def load(cls, path: Path) -> Keyring:
        try:
            data = json.loads(path.read_text())
            keys = {k: base64.b64decode(v) for k, v in data["keys"].items()}
            return cls(keys, data["active"], path)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise KeyUnavailable(f"cannot read the keyring {path}: {exc}") from exc

    @classmethod
    def load_or_create(cls, path: Path) -> Keyring:
        """The keyring file, created with one fresh key (mode 0600) on first use."""
        if path.exists():
            return cls.load(path)
        ring = cls({"mk-1": secrets.token_bytes(32)}, "mk-1", path)
        ring.save(path)
        return ring

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        body = {"active": self.active, "keys": {k: base64.b64encode(v).decode() for k, v in self.keys.items()}}
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump(body, fh)
        os.replace(tmp, path)  # atomic: a crash leaves the old or the new keyring, never half

    def add_key(self) -> str:
        """Add a fresh master key and make it active; the old ones stay for reading."""
        n = 1 + max((int(k.split("-")[-1]) for k in self.keys if k.startswith("mk-")), default=0)
        key_id = f"mk-{n}"
        self.keys[key_id] = secrets.token_bytes(32)
        self.active = key_id
        return key_id

    # -- sealing -----------------------------------------------------------------------------

    def _master(self, key_id: str) -> AESGCM:
        if key_id not in self.keys and self.path is not None and self.path.exists():
            # A rotation in another process added the key: pick it up without a restart.
            fresh = Keyring.load(self.path)
            self.keys.update(fresh.keys)
            self.active = fresh.active
        try:
            return AESGCM(self.keys[key_id])
        except KeyError:
            raise KeyUnavailable(f"master key {key_id!r} is not in the keyring") from None

    def seal(self, plaintext: bytes, associated: bytes) -> Sealed:
        data_key = AESGCM.generate_key(bit_length=256)
        nonce = secrets.token_bytes(NONCE_BYTES)
        ciphertext = nonce + AESGCM(data_key).encrypt(nonce, plaintext, associated)
        return Sealed(ciphertext, self._wrap(data_key, self.active), self.active)

    def open(self, sealed: Sealed, associated: bytes) -> bytes:
        data_key = self._unwrap(sealed.wrapped_key, sealed.master_key_id)
        try:
            return AESGCM(data_key).decrypt(sealed.ciphertext[:NONCE_BYTES], sealed.ciphertext[NONCE_BYTES:], associated)
        except InvalidTag:
            raise KeyUnavailable("the sealed data does not open: altered, or bound to another record") from None

    def rewrap(self, sealed: Sealed) -> Sealed:
        """The same ciphertext with its data key wrapped under the active master key."""
        if sealed.master_key_id == self.active:
            return sealed
        data_key = self._unwrap(sealed.wrapped_key, sealed.master_key_id)
        return Sealed(sealed.ciphertext, self._wrap(data_key, self.active), self.active)

    def _wrap(self, data_key: bytes, key_id: str) -> bytes:
        nonce = secrets.token_bytes(NONCE_BYTES)
        return nonce + self._master(key_id).encrypt(nonce, data_key, f"dek:{key_id}".encode())

    def _unwrap(self, wrapped: bytes, key_id: str) -> bytes:
        try:
            return self._master(key_id).decrypt(wrapped[:NONCE_BYTES], wrapped[NONCE_BYTES:], f"dek:{key_id}".encode())
        except InvalidTag:
            raise KeyUnavailable(f"master key {key_id!r} does not open this data key") from None


def keyring_for(keyring_path: Path, master_key_b64: str | None) -> Keyring:
    """The deployment's keyring: the environment's key if one is given, else the key file."""
    if master_key_b64:
        try:
            key = base64.b64decode(master_key_b64, validate=True)
        except ValueError as exc:
            raise KeyUnavailable("FACETRUST_MASTER_KEY is not valid base64") from exc
        return Keyring({"env": key}, "env")
    return Keyring.load_or_create(keyring_path)
