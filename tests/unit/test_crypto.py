"""Field encryption and the blind index."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hub.crypto.fields import BlindIndex, DecryptionError, FieldCipher
from hub.crypto.keys import Keyring, KeyringError, load_keyring
from hub.settings import Settings


def test_round_trip_and_fresh_nonce_each_time() -> None:
    cipher = FieldCipher(Keyring.generate())

    first = cipher.encrypt("Jayden", column="agency_record.given_name")
    second = cipher.encrypt("Jayden", column="agency_record.given_name")

    assert first != second
    assert "Jayden" not in (first or "")
    assert cipher.decrypt(first, column="agency_record.given_name") == "Jayden"


def test_a_value_moved_to_another_column_does_not_decrypt() -> None:
    cipher = FieldCipher(Keyring.generate())
    token = cipher.encrypt("Smyth", column="agency_record.family_name")

    with pytest.raises(DecryptionError):
        cipher.decrypt(token, column="agency_record.given_name")


def test_a_tampered_ciphertext_is_refused() -> None:
    cipher = FieldCipher(Keyring.generate())
    token = cipher.encrypt("Smyth", column="c") or ""
    tampered = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")

    with pytest.raises(DecryptionError):
        cipher.decrypt(tampered, column="c")


def test_rotation_keeps_old_ciphertexts_readable() -> None:
    keyring = Keyring.generate()
    old = FieldCipher(keyring).encrypt("2015-04-03", column="c") or ""
    old_kid = keyring.active_field_key_id

    new_kid = keyring.rotate_field_key()
    cipher = FieldCipher(keyring)
    new = cipher.encrypt("2015-04-03", column="c") or ""

    assert old.split(":")[1] == old_kid and new.split(":")[1] == new_kid
    assert cipher.decrypt(old, column="c") == cipher.decrypt(new, column="c") == "2015-04-03"


def test_a_key_we_do_not_hold_is_a_clear_error() -> None:
    token = FieldCipher(Keyring.generate()).encrypt("x", column="c")

    with pytest.raises(DecryptionError, match="key this hub lacks"):
        FieldCipher(Keyring.generate()).decrypt(token, column="c")


def test_blind_index_is_keyed_and_system_scoped() -> None:
    keyring = Keyring.generate()
    index = BlindIndex(keyring)

    assert index.of("nhs", "9434765919") == index.of("nhs", "9434765919")
    assert index.of("nhs", "9434765919") != index.of("upn", "9434765919")
    assert index.of("nhs", "9434765919") != BlindIndex(Keyring.generate()).of("nhs", "9434765919")


def test_key_file_is_created_private_and_reloads(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)

    created = load_keyring(settings, create=True)
    again = load_keyring(settings)

    assert (tmp_path / "keys.json").stat().st_mode & 0o777 == 0o600
    assert again.field_keys == created.field_keys
    assert again.blind_index_key == created.blind_index_key


def test_missing_or_malformed_keys_refuse_to_start(tmp_path: Path) -> None:
    with pytest.raises(KeyringError, match="No key file"):
        load_keyring(Settings(data_dir=tmp_path))
    broken = json.loads(Keyring.generate().to_json())
    broken["blind_index_key"] = "c2hvcnQ="
    with pytest.raises(KeyringError, match="256 bits"):
        load_keyring(Settings(data_dir=tmp_path, keys_json=json.dumps(broken)))
