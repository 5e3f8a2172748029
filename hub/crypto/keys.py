"""The hub's keyring: field encryption keys, the blind-index key and the signing keys.

Keys live in a JSON key file (mode 0600) beside the database, or in ``HUB_KEYS_JSON`` for
containers. They never live in the database: a stolen database file is ciphertext and
keyed hashes only. Field keys carry ids so that new data can be written under a new key
while old ciphertexts stay readable (rotation).
"""

from __future__ import annotations

import base64
import json
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat
from joserfc.jwk import ECKey

from hub.settings import Settings

KEYRING_VERSION = 1


class KeyringError(RuntimeError):
    """The keys cannot be read; the hub must not start without them."""


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text.encode("ascii"), validate=True)


@dataclass
class Keyring:
    field_keys: dict[str, bytes]
    active_field_key_id: str
    blind_index_key: bytes
    token_signing_key: ECKey
    log_signing_key: Ed25519PrivateKey
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def generate(cls) -> Keyring:
        key_id = "k" + secrets.token_hex(4)
        return cls(
            field_keys={key_id: secrets.token_bytes(32)},
            active_field_key_id=key_id,
            blind_index_key=secrets.token_bytes(32),
            token_signing_key=ECKey.generate_key("P-256", private=True),
            log_signing_key=Ed25519PrivateKey.generate(),
        )

    def rotate_field_key(self) -> str:
        """Add a new field key and make it the one new ciphertexts use."""
        key_id = "k" + secrets.token_hex(4)
        self.field_keys[key_id] = secrets.token_bytes(32)
        self.active_field_key_id = key_id
        return key_id

    def to_json(self) -> str:
        raw_log_key = self.log_signing_key.private_bytes(
            Encoding.Raw, PrivateFormat.Raw, NoEncryption()
        )
        return json.dumps(
            {
                "version": KEYRING_VERSION,
                "field_keys": {kid: _b64(k) for kid, k in self.field_keys.items()},
                "active_field_key": self.active_field_key_id,
                "blind_index_key": _b64(self.blind_index_key),
                "token_signing_key": self.token_signing_key.as_dict(private=True),
                "log_signing_key": _b64(raw_log_key),
            },
            indent=2,
        )

    @classmethod
    def from_json(cls, text: str) -> Keyring:
        try:
            data = json.loads(text)
            if data.get("version") != KEYRING_VERSION:
                raise KeyringError(f"unsupported keyring version {data.get('version')!r}")
            field_keys = {kid: _unb64(k) for kid, k in data["field_keys"].items()}
            active = data["active_field_key"]
            if active not in field_keys:
                raise KeyringError("the active field key is not in the keyring")
            if any(len(k) != 32 for k in field_keys.values()):
                raise KeyringError("every field key must be 256 bits")
            blind = _unb64(data["blind_index_key"])
            if len(blind) != 32:
                raise KeyringError("the blind-index key must be 256 bits")
            token_key = ECKey.import_key(data["token_signing_key"])
            log_key = Ed25519PrivateKey.from_private_bytes(_unb64(data["log_signing_key"]))
        except KeyringError:
            raise
        except (KeyError, ValueError, TypeError) as exc:
            raise KeyringError(f"the keyring is malformed ({type(exc).__name__})") from None
        return cls(field_keys, active, blind, token_key, log_key)


def write_key_file(keyring: Keyring, path: Path) -> None:
    """Write the key file readable by its owner only, atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(keyring.to_json())
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def load_keyring(settings: Settings, *, create: bool = False) -> Keyring:
    """Load the keyring from the environment or the key file; create it only when asked."""
    if settings.keys_json:
        return Keyring.from_json(settings.keys_json)
    path = settings.resolved_key_file
    if path.exists():
        return Keyring.from_json(path.read_text(encoding="utf-8"))
    if not create:
        raise KeyringError(
            f"No key file at {path}. Run 'hub keys init' (or 'hub demo'), or set HUB_KEYS_JSON."
        )
    keyring = Keyring.generate()
    write_key_file(keyring, path)
    return keyring
