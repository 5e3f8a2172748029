"""C2SP checkpoints as Ed25519 signed notes (c2sp.org/tlog-checkpoint, c2sp.org/signed-note).

Using the same wire format as Go's golang.org/x/mod/sumdb/note and the
transparency-dev ecosystem means existing witnesses and monitors can check the
disclosure log's tree heads without any Early Help Hub code.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

__all__ = [
    "ED25519_SIGNATURE_TYPE",
    "Checkpoint",
    "CheckpointError",
    "format_checkpoint",
    "generate_skey",
    "key_hash",
    "open_note",
    "parse_checkpoint",
    "parse_skey",
    "parse_vkey",
    "sign_checkpoint",
    "sign_note",
    "skey_for",
    "verify_note",
    "vkey_for",
]

ED25519_SIGNATURE_TYPE = 0x01
"""signed-note signature type identifier byte for plain Ed25519."""

ROOT_HASH_SIZE = 32
MAX_TREE_SIZE = 2**64 - 1
MAX_SIGNATURES = 100
"""The spec requires accepting at least 16; Go's note package stops at 100."""

_SIG_PREFIX = "\u2014 "  # em dash, space
_SIG_LEN = 64
_KEY_HASH_LEN = 4
_DECIMAL = re.compile(r"0|[1-9][0-9]*", re.ASCII)
_HEX8 = re.compile(r"[0-9a-fA-F]{8}", re.ASCII)
_PRIVATE_PREFIX = "PRIVATE+KEY+"


class CheckpointError(ValueError):
    """A checkpoint, note or key was malformed or did not verify."""


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A log's signed claim about its tree: who (origin), how big, and which root."""

    origin: str
    size: int
    root_hash: bytes
    extensions: tuple[str, ...] = ()


def _b64encode(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def _b64decode(text: str, what: str) -> bytes:
    """Strict standard base64: one canonical spelling, so a note has one byte form."""
    try:
        raw = base64.b64decode(text.encode("ascii"), validate=True)
    except (UnicodeEncodeError, binascii.Error) as exc:
        raise CheckpointError(f"{what} is not valid base64") from exc
    if _b64encode(raw) != text:
        raise CheckpointError(f"{what} is not canonical base64")
    return raw


_CONTROL = re.compile("[\x00-\x09\x0b-\x1f]")
"""Control characters other than newline; a regex scans a note far faster than a loop in
Python, and an export check reads one note per signed head."""


def _has_control(text: str) -> bool:
    return _CONTROL.search(text) is not None


def _valid_key_name(name: str) -> bool:
    """signed-note: non-empty, no Unicode spaces, no '+' (and no control characters)."""
    return (
        bool(name)
        and "+" not in name
        and not any(ch.isspace() or ord(ch) < 0x20 for ch in name)
        and not any(0xD800 <= ord(ch) <= 0xDFFF for ch in name)
    )


def _check_key_name(name: str) -> None:
    if not _valid_key_name(name):
        raise CheckpointError(
            f"invalid key name {name!r}: must be non-empty, without spaces, '+' or controls"
        )


def _raw_public_key(public_key: Ed25519PublicKey | bytes) -> bytes:
    if isinstance(public_key, Ed25519PublicKey):
        return public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)
    if len(public_key) != 32:
        raise CheckpointError(f"Ed25519 public key is {len(public_key)} bytes, expected 32")
    return bytes(public_key)


def key_hash(name: str, public_key: Ed25519PublicKey | bytes) -> bytes:
    """4-byte key ID: SHA-256(name || 0x0A || 0x01 || public key)[:4], as signed-note recommends."""
    _check_key_name(name)
    raw = _raw_public_key(public_key)
    material = name.encode("utf-8") + b"\n" + bytes([ED25519_SIGNATURE_TYPE]) + raw
    return hashlib.sha256(material).digest()[:_KEY_HASH_LEN]


def vkey_for(name: str, public_key: Ed25519PublicKey | bytes) -> str:
    """Verifier key text "<name>+<hex key ID>+<base64(0x01 || key)>" to hand to verifiers."""
    raw = _raw_public_key(public_key)
    kh = key_hash(name, raw)
    return f"{name}+{kh.hex()}+{_b64encode(bytes([ED25519_SIGNATURE_TYPE]) + raw)}"


def _parse_typed_key(name: str, hash_hex: str, key_b64: str, what: str) -> tuple[bytes, bytes]:
    _check_key_name(name)
    if not _HEX8.fullmatch(hash_hex):
        raise CheckpointError(f"{what} key ID must be 8 hex digits")
    typed = _b64decode(key_b64, f"{what} key material")
    if len(typed) != 33:
        raise CheckpointError(f"{what} key material is {len(typed)} bytes, expected 33")
    if typed[0] != ED25519_SIGNATURE_TYPE:
        raise CheckpointError(f"{what} key has unsupported signature type 0x{typed[0]:02x}")
    return bytes.fromhex(hash_hex), typed[1:]


def parse_vkey(vkey: str) -> tuple[str, bytes, Ed25519PublicKey]:
    """Split a verifier key and check that its key ID really matches its name and key."""
    parts = vkey.split("+", 2)
    if len(parts) != 3:
        raise CheckpointError("verifier key must look like <name>+<key ID>+<key>")
    name, hash_hex, key_b64 = parts
    kh, raw = _parse_typed_key(name, hash_hex, key_b64, "verifier")
    if key_hash(name, raw) != kh:
        raise CheckpointError(f"verifier key ID {hash_hex} does not match name and key")
    return name, kh, Ed25519PublicKey.from_public_bytes(raw)


def skey_for(name: str, private_key: Ed25519PrivateKey) -> str:
    """Signer key text "PRIVATE+KEY+<name>+<hex key ID>+<base64(0x01 || seed)>" (Go's format)."""
    seed = private_key.private_bytes_raw()
    kh = key_hash(name, private_key.public_key())
    return (
        f"{_PRIVATE_PREFIX}{name}+{kh.hex()}+{_b64encode(bytes([ED25519_SIGNATURE_TYPE]) + seed)}"
    )


def parse_skey(skey: str) -> tuple[str, bytes, Ed25519PrivateKey]:
    """Split a signer key, checking its key ID against the derived public key."""
    if not skey.startswith(_PRIVATE_PREFIX):
        raise CheckpointError("signer key must start with PRIVATE+KEY+")
    parts = skey[len(_PRIVATE_PREFIX) :].split("+", 2)
    if len(parts) != 3:
        raise CheckpointError("signer key must look like PRIVATE+KEY+<name>+<key ID>+<key>")
    name, hash_hex, key_b64 = parts
    kh, seed = _parse_typed_key(name, hash_hex, key_b64, "signer")
    private_key = Ed25519PrivateKey.from_private_bytes(seed)
    if key_hash(name, private_key.public_key()) != kh:
        raise CheckpointError(f"signer key ID {hash_hex} does not match name and key")
    return name, kh, private_key


def generate_skey(name: str) -> tuple[str, str]:
    """Fresh (signer key, verifier key) pair for a log named `name`."""
    private_key = Ed25519PrivateKey.generate()
    return skey_for(name, private_key), vkey_for(name, private_key.public_key())


def format_checkpoint(checkpoint: Checkpoint) -> str:
    """Checkpoint note text: origin, decimal size, base64 root, extension lines, each + "\\n"."""
    origin, size, root_hash = checkpoint.origin, checkpoint.size, checkpoint.root_hash
    if not origin or "\n" in origin or _has_control(origin):
        raise CheckpointError("origin must be one non-empty line without control characters")
    if isinstance(size, bool) or not 0 <= size <= MAX_TREE_SIZE:
        raise CheckpointError(f"tree size {size!r} is not a uint64")
    if len(root_hash) != ROOT_HASH_SIZE:
        raise CheckpointError(f"root hash is {len(root_hash)} bytes, expected {ROOT_HASH_SIZE}")
    for ext in checkpoint.extensions:
        if not ext or "\n" in ext or _has_control(ext):
            raise CheckpointError("extension lines must be non-empty single lines")
    lines = [origin, str(size), _b64encode(root_hash), *checkpoint.extensions]
    return "".join(line + "\n" for line in lines)


def parse_checkpoint(text: str) -> Checkpoint:
    """Parse checkpoint note text strictly, so one checkpoint has exactly one spelling."""
    if not text.endswith("\n"):
        raise CheckpointError("checkpoint text must end with a newline")
    if _has_control(text):
        raise CheckpointError("checkpoint text contains control characters")
    lines = text[:-1].split("\n")
    if len(lines) < 3:
        raise CheckpointError(f"checkpoint needs at least 3 lines, got {len(lines)}")
    if any(not line for line in lines):
        raise CheckpointError("checkpoint lines must not be empty")
    origin, size_text, root_text, *extensions = lines
    if not _DECIMAL.fullmatch(size_text):
        raise CheckpointError(f"tree size {size_text!r} is not a decimal without leading zeros")
    size = int(size_text)
    if size > MAX_TREE_SIZE:
        raise CheckpointError(f"tree size {size_text} does not fit in 64 bits")
    root_hash = _b64decode(root_text, "root hash")
    if len(root_hash) != ROOT_HASH_SIZE:
        raise CheckpointError(f"root hash is {len(root_hash)} bytes, expected {ROOT_HASH_SIZE}")
    return Checkpoint(origin=origin, size=size, root_hash=root_hash, extensions=tuple(extensions))


def sign_note(text: str, name: str, private_key: Ed25519PrivateKey) -> str:
    """Signed note: text, a blank line, then "— <name> base64(key ID || signature)"."""
    if not text.endswith("\n"):
        raise CheckpointError("note text must end with a newline")
    if _has_control(text):
        raise CheckpointError("note text contains control characters")
    kh = key_hash(name, private_key.public_key())
    signature = private_key.sign(text.encode("utf-8"))
    return f"{text}\n{_SIG_PREFIX}{name} {_b64encode(kh + signature)}\n"


def sign_checkpoint(checkpoint: Checkpoint, name: str, private_key: Ed25519PrivateKey) -> str:
    """Signed checkpoint note; the key name SHOULD equal the origin per tlog-checkpoint."""
    return sign_note(format_checkpoint(checkpoint), name, private_key)


def open_note(note: str | bytes, vkeys: str | Iterable[str]) -> str:
    """Return the note text once a trusted key's signature over it verifies.

    Follows signed-note: signatures from unknown keys (name and ID not both
    matching) are ignored, any failing signature from a known key rejects the
    whole note, and at least one known signature must verify.
    """
    if isinstance(note, bytes):
        try:
            note = note.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise CheckpointError("note is not valid UTF-8") from exc
    try:
        msg = note.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise CheckpointError("note is not valid UTF-8") from exc
    if _has_control(note):
        raise CheckpointError("note contains control characters other than newline")

    known: dict[tuple[str, bytes], Ed25519PublicKey] = {}
    for vkey in [vkeys] if isinstance(vkeys, str) else vkeys:
        vname, kh, public_key = parse_vkey(vkey)
        raw = public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)
        earlier = known.get((vname, kh))
        if earlier is not None and earlier.public_bytes(Encoding.Raw, PublicFormat.Raw) != raw:
            raise CheckpointError(f"ambiguous verifier keys for {vname}+{kh.hex()}")
        known[(vname, kh)] = public_key
    if not known:
        raise CheckpointError("no verifier keys given")

    split = msg.rfind(b"\n\n")
    if split < 0:
        raise CheckpointError("note has no blank line before its signatures")
    text, sig_block = msg[: split + 1], msg[split + 2 :]
    if not sig_block or not sig_block.endswith(b"\n"):
        raise CheckpointError("note signature block is empty or lacks a final newline")

    sig_lines = sig_block[:-1].decode("utf-8").split("\n")
    if len(sig_lines) > MAX_SIGNATURES:
        raise CheckpointError(f"note has more than {MAX_SIGNATURES} signatures")
    verified = 0
    for line in sig_lines:
        if not line.startswith(_SIG_PREFIX):
            raise CheckpointError("signature line does not start with an em dash and a space")
        name, sep, sig_b64 = line[len(_SIG_PREFIX) :].partition(" ")
        if not sep or not _valid_key_name(name):
            raise CheckpointError(f"malformed signature line for {name!r}")
        blob = _b64decode(sig_b64, f"signature by {name}")
        if len(blob) < _KEY_HASH_LEN + 1:
            raise CheckpointError(f"signature by {name} is too short")
        kh, signature = blob[:_KEY_HASH_LEN], blob[_KEY_HASH_LEN:]
        trusted = known.get((name, kh))
        if trusted is None:
            continue  # unknown key: a cosigner or a rotated key, not ours to judge
        if len(signature) != _SIG_LEN:
            raise CheckpointError(f"signature by {name}+{kh.hex()} is not 64 bytes")
        try:
            trusted.verify(signature, text)
        except InvalidSignature as exc:
            raise CheckpointError(f"invalid signature by {name}+{kh.hex()}") from exc
        verified += 1
    if not verified:
        raise CheckpointError("note carries no signature from a trusted key")
    return text.decode("utf-8")


def verify_note(
    note: str | bytes, vkeys: str | Iterable[str], *, origin: str | None = None
) -> Checkpoint:
    """Verify a signed checkpoint and parse it; optionally insist on the expected origin."""
    checkpoint = parse_checkpoint(open_note(note, vkeys))
    if origin is not None and checkpoint.origin != origin:
        raise CheckpointError(f"checkpoint origin {checkpoint.origin!r} is not {origin!r}")
    return checkpoint
