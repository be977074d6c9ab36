"""Master-key providers: where the master keys of the envelope encryption live and do their work.

A provider wraps and unwraps a data key under a master key named by id, says which master key wraps
new data keys (the active one), lists the ids it holds, and rotates (adds a fresh active key; the old
ones stay for reading). ``facetrust.security.envelope.Keyring`` seals and opens blobs with per-blob
data keys and leaves all master-key work to its provider.

- ``FileKeyProvider``: the embedded default. Master keys in a JSON key file (mode 0600) on the
  service's disk, or one key from the environment (FACETRUST_MASTER_KEY). Wrapping is AES-256-GCM
  in this process, so the master keys are in its memory.
- ``Pkcs11KeyProvider``: the keys are AES-256 secret keys on a PKCS#11 token (an HSM; SoftHSM2 in
  the tests), generated there as sensitive and non-extractable, one per key id (label ``mk-N``).
  Wrapping is AES-GCM done by the token: the master keys never leave it, and this process only ever
  holds handles. Whoever has a copy of the database but not the token (and its PIN) opens nothing.

Both wrap a data key the same way: a fresh 12-byte nonce, then AES-GCM of the data key with the
associated data ``dek:<key_id>``; the stored wrapped key is the nonce followed by the output.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import secrets
import threading
from pathlib import Path
from typing import Any, Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

NONCE_BYTES = 12
_KEY_ID = re.compile(r"^mk-(\d+)$")


class KeyUnavailable(Exception):
    """A master key is missing, malformed, or does not open a wrapped data key; or the place that
    holds the master keys (the key file, the token) cannot be used."""

    code = "key_unavailable"


class KeyRotationUnavailable(Exception):
    """This provider's keys cannot be rotated from here (the key came from the environment)."""

    code = "key_rotation_unavailable"


class KeyProvider(Protocol):
    """Master keys by id, one of them active; wrap and unwrap data keys under them."""

    name: str

    @property
    def active_key_id(self) -> str: ...

    def wrap(self, data_key: bytes, key_id: str) -> bytes: ...

    def unwrap(self, wrapped: bytes, key_id: str) -> bytes: ...

    def rotate(self) -> str:
        """Add a fresh master key and make it active; return its id. The old keys stay for reading."""
        ...

    def key_ids(self) -> list[str]: ...

    def describe(self) -> dict[str, Any]:
        """What and where, for an operator: never a key or a secret."""
        ...


def _aad(key_id: str) -> bytes:
    return f"dek:{key_id}".encode()


def _next_id(ids: list[str]) -> str:
    return f"mk-{1 + max((int(m.group(1)) for m in map(_KEY_ID.match, ids) if m), default=0)}"


# -- the key file ---------------------------------------------------------------------------------


class FileKeyProvider:
    """Master keys by id in a JSON key file (or one key given in the environment, id ``env``)."""

    name = "file"

    def __init__(self, keys: dict[str, bytes], active: str, path: Path | None = None) -> None:
        if active not in keys:
            raise KeyUnavailable(f"the active master key {active!r} is not in the keyring")
        for key_id, key in keys.items():
            if len(key) != 32:
                raise KeyUnavailable(f"master key {key_id!r} is {len(key)} bytes; AES-256 needs 32")
        self.keys, self.active, self.path = dict(keys), active, path

    @classmethod
    def load(cls, path: Path) -> FileKeyProvider:
        try:
            data = json.loads(path.read_text())
            keys = {k: base64.b64decode(v) for k, v in data["keys"].items()}
            return cls(keys, data["active"], path)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise KeyUnavailable(f"cannot read the keyring {path}: {exc}") from exc

    @classmethod
    def load_or_create(cls, path: Path) -> FileKeyProvider:
        """The key file, created with one fresh key (mode 0600) on first use."""
        if path.exists():
            return cls.load(path)
        provider = cls({"mk-1": secrets.token_bytes(32)}, "mk-1", path)
        provider.save(path)
        return provider

    @classmethod
    def from_environment(cls, master_key_b64: str) -> FileKeyProvider:
        try:
            key = base64.b64decode(master_key_b64, validate=True)
        except ValueError as exc:
            raise KeyUnavailable("FACETRUST_MASTER_KEY is not valid base64") from exc
        return cls({"env": key}, "env")

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        body = {"active": self.active, "keys": {k: base64.b64encode(v).decode() for k, v in self.keys.items()}}
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump(body, fh)
        os.replace(tmp, path)  # atomic: a crash leaves the old or the new keyring, never half

    def add_key(self) -> str:
        """Add a fresh master key and make it active (in memory; ``save`` writes it)."""
        key_id = _next_id(list(self.keys))
        self.keys[key_id] = secrets.token_bytes(32)
        self.active = key_id
        return key_id

    # -- the provider's work --------------------------------------------------------------------

    @property
    def active_key_id(self) -> str:
        return self.active

    def key_ids(self) -> list[str]:
        return sorted(self.keys)

    def rotate(self) -> str:
        if self.path is None:
            raise KeyRotationUnavailable(
                "the master key comes from FACETRUST_MASTER_KEY; rotate by deploying a keyring file"
            )
        key_id = self.add_key()
        self.save(self.path)
        return key_id

    def describe(self) -> dict[str, Any]:
        where = str(self.path) if self.path is not None else "FACETRUST_MASTER_KEY"
        return {"provider": self.name, "location": where, "active_key": self.active, "keys": self.key_ids()}

    def _master(self, key_id: str) -> AESGCM:
        if key_id not in self.keys and self.path is not None and self.path.exists():
            # A rotation in another process added the key: pick it up without a restart.
            fresh = FileKeyProvider.load(self.path)
            self.keys.update(fresh.keys)
            self.active = fresh.active
        try:
            return AESGCM(self.keys[key_id])
        except KeyError:
            raise KeyUnavailable(f"master key {key_id!r} is not in the keyring") from None

    def wrap(self, data_key: bytes, key_id: str) -> bytes:
        nonce = secrets.token_bytes(NONCE_BYTES)
        return nonce + self._master(key_id).encrypt(nonce, data_key, _aad(key_id))

    def unwrap(self, wrapped: bytes, key_id: str) -> bytes:
        try:
            return self._master(key_id).decrypt(wrapped[:NONCE_BYTES], wrapped[NONCE_BYTES:], _aad(key_id))
        except InvalidTag:
            raise KeyUnavailable(f"master key {key_id!r} does not open this data key") from None


# -- a PKCS#11 token --------------------------------------------------------------------------------

# One logged-in session per token and process. PKCS#11 keeps the login per application and token:
# a second C_Login is refused (CKR_USER_ALREADY_LOGGED_IN) and a C_Logout would log out every other
# session of the process, so every provider on one token shares one session, opened once and kept
# for the life of the process. The PIN is remembered only as a salted digest, to refuse a second
# provider that names the same token with another PIN.
_SESSIONS: dict[tuple[str, str], tuple[Any, bytes]] = {}
_SESSIONS_LOCK = threading.Lock()
_PIN_SALT = secrets.token_bytes(16)


def _pin_digest(pin: str) -> bytes:
    return hashlib.sha256(_PIN_SALT + pin.encode()).digest()


def _token_session(library: str, token_label: str, pin: str) -> Any:
    try:
        import pkcs11
        from pkcs11 import exceptions as p11
    except ImportError:
        raise KeyUnavailable(
            "FACETRUST_KEY_PROVIDER=pkcs11 needs the python-pkcs11 package (pip install 'facetrust[hsm]')"
        ) from None
    with _SESSIONS_LOCK:
        known = _SESSIONS.get((library, token_label))
        if known is not None:
            if not secrets.compare_digest(known[1], _pin_digest(pin)):
                raise KeyUnavailable(
                    f"the PKCS#11 token {token_label!r} is open in this process with another PIN (FACETRUST_PKCS11_PIN)"
                )
            return known[0]
        try:
            lib = pkcs11.lib(library)
        except (OSError, RuntimeError) as exc:  # not a file, not a PKCS#11 module, C_Initialize failed
            raise KeyUnavailable(
                f"cannot load the PKCS#11 library {library} (FACETRUST_PKCS11_LIBRARY): {type(exc).__name__}"
            ) from None
        try:
            token = lib.get_token(token_label=token_label)
        except p11.NoSuchToken:
            raise KeyUnavailable(
                f"no PKCS#11 token labelled {token_label!r} (FACETRUST_PKCS11_TOKEN_LABEL) in {library}"
            ) from None
        except p11.MultipleTokensReturned:
            raise KeyUnavailable(
                f"more than one PKCS#11 token is labelled {token_label!r} (FACETRUST_PKCS11_TOKEN_LABEL)"
            ) from None
        try:
            session = token.open(user_pin=pin, rw=True)
        except (p11.PinIncorrect, p11.PinInvalid, p11.PinLenRange, p11.PinExpired, p11.PinLocked):
            raise KeyUnavailable(f"the PKCS#11 token {token_label!r} refused the PIN (FACETRUST_PKCS11_PIN)") from None
        except p11.PKCS11Error as exc:
            raise KeyUnavailable(f"cannot log in to the PKCS#11 token {token_label!r}: {type(exc).__name__}") from None
        _SESSIONS[(library, token_label)] = (session, _pin_digest(pin))
        return session


class Pkcs11KeyProvider:
    """Master keys as non-extractable AES-256 keys on a PKCS#11 token, labelled ``mk-N``; the active
    one is the highest N. The token does every wrap and unwrap."""

    name = "pkcs11"

    def __init__(self, library: str, token_label: str, pin: str, *, create: bool = True) -> None:
        """``create``: generate ``mk-1`` on a token that holds no master key yet (first use)."""
        from pkcs11 import Attribute, KeyType, Mechanism, ObjectClass
        from pkcs11 import exceptions as p11
        from pkcs11.mechanisms import GCMParams

        self._p11, self._gcm_params = p11, GCMParams
        self._attribute, self._key_type, self._object_class = Attribute, KeyType, ObjectClass
        self._mechanism = Mechanism.AES_GCM
        self.library, self.token_label = library, token_label
        self._session = _token_session(library, token_label, pin)
        self._lock = threading.RLock()
        self._handles: dict[str, Any] = {}
        self._active = ""
        self._scan()
        if not self._active:
            if not create:
                raise KeyUnavailable(f"the PKCS#11 token {token_label!r} holds no master key (mk-N)")
            self._generate("mk-1")

    # -- the token's objects --------------------------------------------------------------------

    def _scan(self) -> None:
        """Learn the token's master keys (another process may have added one) and the active one."""
        with self._lock:
            try:
                found = [
                    o[self._attribute.LABEL]
                    for o in self._session.get_objects(
                        {
                            self._attribute.CLASS: self._object_class.SECRET_KEY,
                            self._attribute.KEY_TYPE: self._key_type.AES,
                        }
                    )
                ]
            except self._p11.PKCS11Error as exc:
                raise KeyUnavailable(
                    f"cannot list the keys on the PKCS#11 token {self.token_label!r}: {type(exc).__name__}"
                ) from None
            ids = [label for label in found if _KEY_ID.match(label)]
            if ids:
                self._active = max(ids, key=lambda k: int(k.split("-")[1]))
            self._ids = sorted(set(ids), key=lambda k: int(k.split("-")[1]))

    def _generate(self, key_id: str) -> None:
        with self._lock:
            try:
                key = self._session.generate_key(
                    self._key_type.AES,
                    256,
                    label=key_id,
                    store=True,
                    template={
                        self._attribute.SENSITIVE: True,
                        self._attribute.EXTRACTABLE: False,
                        self._attribute.TOKEN: True,
                        self._attribute.PRIVATE: True,
                        self._attribute.ENCRYPT: True,
                        self._attribute.DECRYPT: True,
                        self._attribute.WRAP: False,
                        self._attribute.UNWRAP: False,
                        self._attribute.MODIFIABLE: False,
                    },
                )
            except self._p11.PKCS11Error as exc:
                raise KeyUnavailable(
                    f"cannot generate a master key on the PKCS#11 token {self.token_label!r}: {type(exc).__name__}"
                ) from None
            self._handles[key_id] = key
            self._ids = [*self._ids, key_id]
            self._active = key_id

    def _key(self, key_id: str) -> Any:
        with self._lock:
            if key_id in self._handles:
                return self._handles[key_id]
            try:
                key = self._session.get_key(
                    object_class=self._object_class.SECRET_KEY, key_type=self._key_type.AES, label=key_id
                )
            except self._p11.NoSuchKey:
                raise KeyUnavailable(
                    f"master key {key_id!r} is not on the PKCS#11 token {self.token_label!r}"
                ) from None
            except self._p11.PKCS11Error as exc:
                raise KeyUnavailable(
                    f"cannot find master key {key_id!r} on the PKCS#11 token {self.token_label!r}: {type(exc).__name__}"
                ) from None
            self._handles[key_id] = key
            if key_id not in self._ids:
                self._scan()  # a rotation in another process added it: pick up the new active key too
            return key

    # -- the provider's work --------------------------------------------------------------------

    @property
    def active_key_id(self) -> str:
        return self._active

    def key_ids(self) -> list[str]:
        return list(self._ids)

    def rotate(self) -> str:
        with self._lock:
            self._scan()
            key_id = _next_id(self._ids)
            self._generate(key_id)
            return key_id

    def describe(self) -> dict[str, Any]:
        return {
            "provider": self.name,
            "location": f"PKCS#11 token {self.token_label!r} ({self.library})",
            "active_key": self._active,
            "keys": self.key_ids(),
        }

    def wrap(self, data_key: bytes, key_id: str) -> bytes:
        key = self._key(key_id)
        nonce = secrets.token_bytes(NONCE_BYTES)
        try:
            with self._lock:
                out = key.encrypt(
                    data_key, mechanism=self._mechanism, mechanism_param=self._gcm_params(nonce, _aad(key_id), 128)
                )
        except self._p11.PKCS11Error as exc:
            raise KeyUnavailable(
                f"the PKCS#11 token did not wrap with master key {key_id!r}: {type(exc).__name__}"
            ) from None
        return nonce + bytes(out)

    def unwrap(self, wrapped: bytes, key_id: str) -> bytes:
        key = self._key(key_id)
        try:
            with self._lock:
                out = key.decrypt(
                    wrapped[NONCE_BYTES:],
                    mechanism=self._mechanism,
                    mechanism_param=self._gcm_params(wrapped[:NONCE_BYTES], _aad(key_id), 128),
                )
        except self._p11.PKCS11Error:  # a wrong key or an altered blob (SoftHSM answers CKR_GENERAL_ERROR)
            raise KeyUnavailable(f"master key {key_id!r} does not open this data key") from None
        return bytes(out)
