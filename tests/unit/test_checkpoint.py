"""Checkpoints and signed notes, pinned to the Go sumdb/note reference vectors."""

from __future__ import annotations

import base64
import hashlib

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from hub.disclosure.checkpoint import (
    Checkpoint,
    CheckpointError,
    format_checkpoint,
    generate_skey,
    key_hash,
    open_note,
    parse_checkpoint,
    parse_skey,
    parse_vkey,
    sign_checkpoint,
    sign_note,
    skey_for,
    verify_note,
    vkey_for,
)
from hub.disclosure.merkle import leaf_hash, root

# golang.org/x/mod/sumdb/note: note.go's package example and note_test.go.
PETER_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
PETER_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
ENOCH_VKEY = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop"
GO_TEXT = (
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n"
)
PETER_SIG = (
    "\u2014 PeterNeumann "
    "x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
)
ENOCH_SIG = (
    "\u2014 EnochRoot "
    "rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ=\n"
)
GO_NOTE = GO_TEXT + "\n" + PETER_SIG

ORIGIN = "hub.example/disclosure-log"


def _raw(private_key: Ed25519PrivateKey) -> bytes:
    return private_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def _spec_key_id(name: str, raw_public_key: bytes) -> bytes:
    """signed-note: key ID = SHA-256(key name || 0x0A || 0x01 || public key)[:4]."""
    return hashlib.sha256(name.encode() + b"\x0a" + b"\x01" + raw_public_key).digest()[:4]


@pytest.fixture
def key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


@pytest.fixture
def checkpoint() -> Checkpoint:
    leaves = [leaf_hash(f"entry {i}".encode()) for i in range(7)]
    return Checkpoint(origin=ORIGIN, size=7, root_hash=root(leaves))


# --- the Go reference vectors ------------------------------------------------------------


def test_go_signer_reproduces_published_note_byte_for_byte() -> None:
    name, kh, private_key = parse_skey(PETER_SKEY)
    assert name == "PeterNeumann"
    assert kh == bytes.fromhex("c74f20a3")
    assert sign_note(GO_TEXT, name, private_key) == GO_NOTE
    assert vkey_for(name, private_key.public_key()) == PETER_VKEY
    assert skey_for(name, private_key) == PETER_SKEY


def test_go_note_opens_with_each_key() -> None:
    both = GO_NOTE + ENOCH_SIG
    assert open_note(GO_NOTE, PETER_VKEY) == GO_TEXT
    assert open_note(both, PETER_VKEY) == GO_TEXT  # EnochRoot is unknown, so ignored
    assert open_note(both, ENOCH_VKEY) == GO_TEXT
    assert open_note(both, [PETER_VKEY, ENOCH_VKEY]) == GO_TEXT
    assert open_note(both.encode(), [ENOCH_VKEY, PETER_VKEY, ENOCH_VKEY]) == GO_TEXT
    with pytest.raises(CheckpointError, match="no signature from a trusted key"):
        open_note(GO_NOTE, ENOCH_VKEY)
    with pytest.raises(CheckpointError, match="invalid signature"):
        open_note(GO_NOTE.replace("cryptography", "cryptographY"), PETER_VKEY)


def test_go_key_id_matches_spec_formula() -> None:
    name, kh, public_key = parse_vkey(PETER_VKEY)
    raw = public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)
    assert _spec_key_id(name, raw) == kh == bytes.fromhex("c74f20a3")
    assert key_hash(name, raw) == kh
    assert key_hash(name, public_key) == kh


def test_go_note_malformed_variants_are_rejected() -> None:
    bad = [
        GO_TEXT,
        GO_TEXT + "\n",
        GO_TEXT + "\n" + PETER_SIG[:-1],
        "\x01" + GO_TEXT + "\n" + PETER_SIG,
        GO_TEXT + "\n" + PETER_SIG.replace("PeterNeumann", "Bad Name")[:-1],
        GO_TEXT + "\n" + PETER_SIG + "Unexpected line.\n",
        GO_TEXT + "\n" + PETER_SIG * 101,
        GO_TEXT + "\n" + PETER_SIG[:60] + "ABCD" + PETER_SIG[60:],
        GO_TEXT + "\n" + PETER_SIG.replace("\u2014", "-"),
    ]
    for note in bad:
        with pytest.raises(CheckpointError):
            open_note(note, PETER_VKEY)
    with pytest.raises(CheckpointError, match="UTF-8"):
        open_note(b"\xff" + GO_NOTE.encode(), PETER_VKEY)


def test_go_note_tolerates_repeats_and_unknown_signatures() -> None:
    enoch_abcd = ENOCH_SIG[:60] + "ABCD" + ENOCH_SIG[60:]
    note = GO_TEXT + "\n" + PETER_SIG + PETER_SIG + ENOCH_SIG + ENOCH_SIG + enoch_abcd
    assert open_note(note, PETER_VKEY) == GO_TEXT


def test_go_verifier_key_manglings_are_rejected() -> None:
    for i in range(len(PETER_VKEY) + 1):
        for j in range(i + 1, len(PETER_VKEY) + 1):
            if (i, j) != (0, len(PETER_VKEY)):
                with pytest.raises(CheckpointError):
                    parse_vkey(PETER_VKEY[i:j])
    for i in range(len(PETER_VKEY)):
        mangled = PETER_VKEY[:i] + chr(ord(PETER_VKEY[i]) + 1) + PETER_VKEY[i + 1 :]
        with pytest.raises(CheckpointError):
            parse_vkey(mangled)
    # From note_test.go: a wrong-length key and an unknown type, each with a matching ID.
    with pytest.raises(CheckpointError):
        parse_vkey("PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY==")
    with pytest.raises(CheckpointError):
        parse_vkey("PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW")


def test_go_signer_key_manglings_are_rejected() -> None:
    for i in range(len(PETER_SKEY)):
        mangled = PETER_SKEY[:i] + chr(ord(PETER_SKEY[i]) + 1) + PETER_SKEY[i + 1 :]
        with pytest.raises(CheckpointError):
            parse_skey(mangled)
    for j in range(len(PETER_SKEY)):
        with pytest.raises(CheckpointError):
            parse_skey(PETER_SKEY[:j])


# --- checkpoints -------------------------------------------------------------------------


def test_checkpoint_text_format(checkpoint: Checkpoint) -> None:
    b64 = base64.b64encode(checkpoint.root_hash).decode()
    assert format_checkpoint(checkpoint) == f"{ORIGIN}\n7\n{b64}\n"
    with_ext = Checkpoint(ORIGIN, 7, checkpoint.root_hash, ("ext one", "ext two"))
    assert format_checkpoint(with_ext) == f"{ORIGIN}\n7\n{b64}\next one\next two\n"
    assert parse_checkpoint(format_checkpoint(with_ext)) == with_ext


def test_c2sp_spec_example_parses() -> None:
    text = "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
    cp = parse_checkpoint(text)
    assert cp.origin == "example.com/behind-the-sofa"
    assert cp.size == 20852163
    assert cp.root_hash == base64.b64decode("CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=")
    assert cp.extensions == ()
    assert format_checkpoint(cp) == text


def test_sign_and_verify_round_trip(key: Ed25519PrivateKey, checkpoint: Checkpoint) -> None:
    note = sign_checkpoint(checkpoint, ORIGIN, key)
    vkey = vkey_for(ORIGIN, key.public_key())
    assert note.startswith(format_checkpoint(checkpoint) + "\n\u2014 " + ORIGIN + " ")
    assert note.endswith("\n")
    assert verify_note(note, vkey) == checkpoint
    assert verify_note(note, [vkey], origin=ORIGIN) == checkpoint
    with pytest.raises(CheckpointError, match="origin"):
        verify_note(note, vkey, origin="other.example/log")


def test_signature_line_layout(key: Ed25519PrivateKey, checkpoint: Checkpoint) -> None:
    note = sign_checkpoint(checkpoint, ORIGIN, key)
    body = format_checkpoint(checkpoint)
    sig_line = note[len(body) + 1 : -1]
    dash, name, b64 = sig_line.split(" ")
    assert dash == "\u2014"
    assert name == ORIGIN
    blob = base64.b64decode(b64)
    assert len(blob) == 4 + 64
    assert blob[:4] == _spec_key_id(ORIGIN, _raw(key))
    key.public_key().verify(blob[4:], body.encode())


def test_empty_tree_checkpoint(key: Ed25519PrivateKey) -> None:
    cp = Checkpoint(ORIGIN, 0, root([]))
    assert format_checkpoint(cp).split("\n")[1] == "0"
    assert verify_note(sign_checkpoint(cp, ORIGIN, key), vkey_for(ORIGIN, key.public_key())) == cp


def test_tampering_is_rejected(key: Ed25519PrivateKey, checkpoint: Checkpoint) -> None:
    note = sign_checkpoint(checkpoint, ORIGIN, key)
    vkey = vkey_for(ORIGIN, key.public_key())
    body = format_checkpoint(checkpoint)
    sigs = note[len(body) :]
    other_root = leaf_hash(b"not the root")
    tampered_bodies = [
        format_checkpoint(Checkpoint(ORIGIN, checkpoint.size + 1, checkpoint.root_hash)),
        format_checkpoint(Checkpoint(ORIGIN, checkpoint.size, other_root)),
        format_checkpoint(Checkpoint("evil.example/log", checkpoint.size, checkpoint.root_hash)),
        format_checkpoint(Checkpoint(ORIGIN, checkpoint.size, checkpoint.root_hash, ("x",))),
    ]
    for tampered in tampered_bodies:
        with pytest.raises(CheckpointError, match="invalid signature"):
            verify_note(tampered + sigs, vkey)

    name_and_b64 = sigs.rstrip("\n").rsplit(" ", 1)
    blob = bytearray(base64.b64decode(name_and_b64[1]))
    for position in (4, 40, 67):  # inside the Ed25519 signature
        flipped = bytearray(blob)
        flipped[position] ^= 0x01
        bad = f"{name_and_b64[0]} {base64.b64encode(bytes(flipped)).decode()}\n"
        with pytest.raises(CheckpointError, match="invalid signature"):
            verify_note(body + bad, vkey)
    blob[0] ^= 0x01  # the key ID: now a signature by an unknown key
    bad = f"{name_and_b64[0]} {base64.b64encode(bytes(blob)).decode()}\n"
    with pytest.raises(CheckpointError, match="no signature from a trusted key"):
        verify_note(body + bad, vkey)


def test_wrong_key_is_rejected(key: Ed25519PrivateKey, checkpoint: Checkpoint) -> None:
    note = sign_checkpoint(checkpoint, ORIGIN, key)
    stranger = Ed25519PrivateKey.generate()
    for vkey in (
        vkey_for(ORIGIN, stranger.public_key()),
        vkey_for("other.example/log", key.public_key()),
    ):
        with pytest.raises(CheckpointError, match="no signature from a trusted key"):
            verify_note(note, vkey)


def test_known_key_with_bad_signature_spoils_the_note(
    key: Ed25519PrivateKey, checkpoint: Checkpoint
) -> None:
    note = sign_checkpoint(checkpoint, ORIGIN, key)
    body = format_checkpoint(checkpoint)
    forged = sign_note(
        format_checkpoint(Checkpoint(ORIGIN, 99, checkpoint.root_hash)), ORIGIN, key
    ).split("\n\n")[1]
    with pytest.raises(CheckpointError, match="invalid signature"):
        verify_note(note + forged, vkey_for(ORIGIN, key.public_key()))
    assert open_note(note, vkey_for(ORIGIN, key.public_key())) == body


def test_cosignature_from_unknown_key_is_ignored(
    key: Ed25519PrivateKey, checkpoint: Checkpoint
) -> None:
    witness = Ed25519PrivateKey.generate()
    note = sign_checkpoint(checkpoint, ORIGIN, key)
    cosigned = note + sign_checkpoint(checkpoint, "witness.example", witness).split("\n\n")[1]
    assert verify_note(cosigned, vkey_for(ORIGIN, key.public_key())) == checkpoint
    assert verify_note(cosigned, vkey_for("witness.example", witness.public_key())) == checkpoint


@pytest.mark.parametrize(
    "text",
    [
        "origin\n7\n",
        "origin\n7\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        "\n7\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n",
        "origin\n07\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n",
        "origin\n+7\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n",
        "origin\n-1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n",
        "origin\n7 \nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n",
        "origin\n\u0667\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n",
        "origin\n18446744073709551616\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n",
        "origin\n7\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n",
        "origin\n7\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAB=\n",
        "origin\n7\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==\n",
        "origin\n7\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n\n",
        "origin\n7\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\next\n\nmore\n",
        "ori\tgin\n7\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n",
    ],
)
def test_malformed_checkpoints_are_rejected(text: str) -> None:
    with pytest.raises(CheckpointError):
        parse_checkpoint(text)


def test_largest_tree_size_parses() -> None:
    text = "origin\n18446744073709551615\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n"
    assert parse_checkpoint(text).size == 2**64 - 1


def test_unformattable_checkpoints_are_refused(checkpoint: Checkpoint) -> None:
    r = checkpoint.root_hash
    for bad in (
        Checkpoint("", 1, r),
        Checkpoint("two\nlines", 1, r),
        Checkpoint(ORIGIN, -1, r),
        Checkpoint(ORIGIN, 2**64, r),
        Checkpoint(ORIGIN, 1, r[:31]),
        Checkpoint(ORIGIN, 1, r, ("",)),
        Checkpoint(ORIGIN, 1, r, ("a\nb",)),
    ):
        with pytest.raises(CheckpointError):
            format_checkpoint(bad)


def test_bad_signer_names_are_refused(key: Ed25519PrivateKey, checkpoint: Checkpoint) -> None:
    for name in ("", "has space", "has+plus", "tab\there", "nbsp\u00a0here"):
        with pytest.raises(CheckpointError, match="key name"):
            sign_checkpoint(checkpoint, name, key)
        with pytest.raises(CheckpointError, match="key name"):
            vkey_for(name, key.public_key())


def test_note_text_must_end_in_newline(key: Ed25519PrivateKey) -> None:
    with pytest.raises(CheckpointError, match="newline"):
        sign_note("no newline", "name", key)


# --- keys --------------------------------------------------------------------------------


def test_vkey_round_trip(key: Ed25519PrivateKey) -> None:
    vkey = vkey_for(ORIGIN, key.public_key())
    name, hash_hex, typed_b64 = vkey.split("+", 2)
    assert name == ORIGIN
    assert hash_hex == _spec_key_id(ORIGIN, _raw(key)).hex()
    assert base64.b64decode(typed_b64) == b"\x01" + _raw(key)
    parsed_name, kh, public_key = parse_vkey(vkey)
    assert (parsed_name, kh.hex()) == (ORIGIN, hash_hex)
    assert public_key.public_bytes(Encoding.Raw, PublicFormat.Raw) == _raw(key)
    assert vkey_for(ORIGIN, _raw(key)) == vkey
    assert vkey_for(parsed_name, public_key) == vkey


def test_vkey_with_wrong_key_id_is_rejected(key: Ed25519PrivateKey) -> None:
    name, hash_hex, typed_b64 = vkey_for(ORIGIN, key.public_key()).split("+", 2)
    wrong = f"{int(hash_hex, 16) ^ 1:08x}"
    with pytest.raises(CheckpointError, match="does not match"):
        parse_vkey(f"{name}+{wrong}+{typed_b64}")
    with pytest.raises(CheckpointError, match="does not match"):
        parse_vkey(f"other.example+{hash_hex}+{typed_b64}")
    with pytest.raises(CheckpointError):
        parse_vkey(f"{name}+{hash_hex}")


def test_generated_skey_signs_for_its_vkey(checkpoint: Checkpoint) -> None:
    skey, vkey = generate_skey(ORIGIN)
    name, kh, private_key = parse_skey(skey)
    assert (name, kh) == parse_vkey(vkey)[:2]
    assert verify_note(sign_checkpoint(checkpoint, name, private_key), vkey) == checkpoint


def test_public_key_must_be_32_bytes() -> None:
    with pytest.raises(CheckpointError, match="32"):
        vkey_for(ORIGIN, b"\x00" * 31)
