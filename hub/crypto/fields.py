"""AES-256-GCM for personal fields, and an HMAC blind index for exact look-ups.

A ciphertext reads ``v1:<key id>:<base64(nonce || ciphertext+tag)>``; the key id lets old
rows stay readable after rotation. The associated data binds each ciphertext to the
column it belongs to, so a value copied into another column fails to decrypt.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from hub.crypto.keys import Keyring

_PREFIX = "v1"


class DecryptionError(RuntimeError):
    """A stored value cannot be decrypted with the keys we hold."""


class FieldCipher:
    """Encrypts and decrypts one personal field at a time."""

    def __init__(self, keyring: Keyring) -> None:
        self._keyring = keyring
        self._aead = {kid: AESGCM(key) for kid, key in keyring.field_keys.items()}

    def encrypt(self, plaintext: str | None, *, column: str) -> str | None:
        if plaintext is None:
            return None
        kid = self._keyring.active_field_key_id
        nonce = os.urandom(12)
        sealed = self._aead[kid].encrypt(nonce, plaintext.encode("utf-8"), column.encode())
        return f"{_PREFIX}:{kid}:{base64.b64encode(nonce + sealed).decode('ascii')}"

    def decrypt(self, token: str | None, *, column: str) -> str | None:
        if token is None:
            return None
        try:
            prefix, kid, body = token.split(":", 2)
            if prefix != _PREFIX:
                raise ValueError("unknown ciphertext version")
            raw = base64.b64decode(body, validate=True)
            aead = self._aead[kid]
            return aead.decrypt(raw[:12], raw[12:], column.encode()).decode("utf-8")
        except KeyError:
            raise DecryptionError("the field was written under a key this hub lacks") from None
        except (ValueError, InvalidTag):
            raise DecryptionError("a stored field failed its integrity check") from None


class BlindIndex:
    """Keyed hashes of identifiers: equal inputs match, but nothing can be read back."""

    def __init__(self, keyring: Keyring) -> None:
        self._key = keyring.blind_index_key

    def of(self, system: str, value: str) -> str:
        message = f"{system}\x1f{value}".encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()
