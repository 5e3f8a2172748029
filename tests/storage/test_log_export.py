"""An export verified offline with only the public key; every kind of tampering is named."""

from __future__ import annotations

import hashlib
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from hub.cli import app as cli
from hub.crypto.keys import write_key_file
from hub.disclosure import checkpoint, export, log, verify_share
from hub.disclosure.export import CHAIN, CHECKPOINTS, ENTRIES, VKEY, ExportCheck, verify_export
from hub.runtime import Hub
from hub.settings import get_settings
from hub.vocab import LogEvent

MUTATIONS = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@dataclass(frozen=True)
class Export:
    files: dict[str, bytes]
    vkey: str

    def lines(self) -> list[bytes]:
        return self.files[ENTRIES].split(b"\n")[:-1]

    def check(
        self, extra: tuple[str, ...] = (), *, helper: bool = False, **changed: bytes
    ) -> tuple[bool, int | None, str]:
        """Verify (deep) in this process alone, or (not deep) with the helper process."""
        result, _ = self.verify(extra, helper=helper, **changed)
        return result.ok, result.first_bad, result.reason or ""

    def verify(
        self,
        extra: tuple[str, ...] = (),
        *,
        helper: bool = False,
        deep: bool | None = None,
        front: float = 0.5,
        **changed: bytes,
    ) -> tuple[ExportCheck, bool]:
        """The check, and whether a helper process's answer was used for it.

        With the helper, the helper hashes the first ``front`` of the bytes (up to the end of
        a line) and this process the rest: otherwise, on an export this small, this process
        would hash every entry before the helper had started.
        """
        files = {**self.files, **{_NAMES[k]: v for k, v in changed.items()}}
        helped: list[bool] = []
        real = export._hash_in_parallel

        def spy(*args: Any) -> Any:
            hashed = real(*args)
            helped.append(hashed is not None)
            return hashed

        with (
            tempfile.TemporaryDirectory() as tmp,
            mock.patch.object(export, "_hash_in_parallel", spy),
            mock.patch.object(export, "_a_core_is_free", lambda: True),
            mock.patch.object(verify_share, "CHUNK", _chunk(files[ENTRIES], front)),
            mock.patch.object(export._Helper, "take", _front_first(front)),
        ):
            for name, data in files.items():
                (Path(tmp) / name).write_bytes(data)
            result = verify_export(
                Path(tmp),
                self.vkey,
                extra_notes=extra,
                deep=not helper if deep is None else deep,
                parallel_above=1 if helper else export.PARALLEL_ABOVE,
            )
        return result, any(helped)


_NAMES = {"entries": ENTRIES, "chain": CHAIN, "checkpoints": CHECKPOINTS}
_TAKE = export._Helper.take


def _chunk(entries: bytes, front: float) -> int:
    return max(1, round(len(entries) * (1 - front)))


def _front_first(share: float) -> Any:
    """A take for this process that leaves the first ``share`` of the bytes to the helper.

    Chunks are set to the rest of the bytes (see Export.verify): this process claims them at
    once, before the helper has started, then hands the baton back until the helper has
    claimed everything else.
    """

    def take(self: export._Helper, deadline: float) -> tuple[int, int] | None:
        first = not hasattr(self, "_claimed")
        object.__setattr__(self, "_claimed", True)
        waited_until = time.monotonic() + 10
        while True:
            claim = _TAKE(self, deadline)
            if claim is None or claim[0] >= claim[1] or (first and share < 1):
                return claim
            if self.process.poll() is not None or time.monotonic() > min(waited_until, deadline):
                return claim  # a helper that stopped taking part: go on alone
            self.baton.give(*claim)
            time.sleep(0.001)

    return take


HELPED = pytest.mark.parametrize("helper", [False, True], ids=["alone", "with-helper"])


def _cli(hub: Hub, *args: str) -> tuple[int, str]:
    env = {
        "HUB_DATABASE_URL": hub.settings.sqlalchemy_url,
        "HUB_DATA_DIR": str(hub.settings.data_dir),
        "HUB_PUBLIC_URL": hub.settings.public_url,
    }
    get_settings.cache_clear()
    result = CliRunner().invoke(cli, list(args), env=env)
    get_settings.cache_clear()
    return result.exit_code, result.output


def _append(hub: Hub, n: int) -> None:
    with hub.sessions() as session:
        log.append_many(
            session,
            [
                log.Pending(LogEvent.DISCLOSURE_DECIDED, {"i": i}, agency="T", outcome="deny")
                for i in range(n)
            ],
        )
        session.commit()


@pytest.fixture
def exported(hub: Hub, tmp_path: Path) -> Iterator[Export]:
    write_key_file(hub.keyring, hub.settings.resolved_key_file)
    _append(hub, 30)
    hub.log.sign_now()
    _append(hub, 45)
    assert _cli(hub, "audit", "checkpoint")[0] == 0
    _append(hub, 12)
    code, output = _cli(hub, "audit", "export", "--out", str(tmp_path / "export"))
    assert code == 0, output
    files = {p.name: p.read_bytes() for p in (tmp_path / "export").iterdir()}
    yield Export(files=files, vkey=files[VKEY].decode().strip())


def test_an_untouched_export_verifies_with_the_cli(exported: Export, tmp_path: Path) -> None:
    for name, data in exported.files.items():
        (tmp_path / name).write_bytes(data)
    result = CliRunner().invoke(
        cli, ["audit", "verify", "--export", str(tmp_path), "--vkey", exported.vkey, "--deep"]
    )
    assert result.exit_code == 0, result.output
    assert "87 entries" in result.output and "3 signed checkpoints" in result.output


def test_the_database_verify_checks_the_checkpoints(hub: Hub, exported: Export) -> None:
    code, output = _cli(hub, "audit", "verify")
    assert code == 0, output
    assert "3 signed checkpoints match" in output


@HELPED
@MUTATIONS
@given(data=st.data())
def test_any_changed_byte_of_an_entry_is_named(
    helper: bool, exported: Export, data: st.DataObject
) -> None:
    raw = exported.files[ENTRIES]
    position = data.draw(st.integers(0, len(raw) - 1))
    byte = data.draw(st.integers(0, 255).filter(lambda b: b != raw[position]))
    changed = raw[:position] + bytes([byte]) + raw[position + 1 :]

    ok, first_bad, _ = exported.check(helper=helper, entries=changed)

    assert not ok
    assert first_bad == raw[:position].count(b"\n")


@HELPED
@MUTATIONS
@given(data=st.data())
def test_any_changed_byte_of_the_chain_is_named(
    helper: bool, exported: Export, data: st.DataObject
) -> None:
    raw = exported.files[CHAIN]
    position = data.draw(st.integers(0, len(raw) - 1))
    byte = data.draw(st.integers(0, 255).filter(lambda b: b != raw[position]))

    ok, first_bad, _ = exported.check(
        helper=helper, chain=raw[:position] + bytes([byte]) + raw[position + 1 :]
    )

    assert not ok
    assert first_bad == position // 32


@MUTATIONS
@given(data=st.data())
def test_any_changed_byte_of_a_tree_head_is_caught(exported: Export, data: st.DataObject) -> None:
    raw = exported.files[CHECKPOINTS]
    position = data.draw(st.integers(0, len(raw) - 1))
    byte = data.draw(st.integers(0, 255).filter(lambda b: b != raw[position]))

    ok, _, reason = exported.check(checkpoints=raw[:position] + bytes([byte]) + raw[position + 1 :])

    assert not ok
    assert "checkpoint" in reason or "signed" in reason


@HELPED
@MUTATIONS
@given(data=st.data(), with_chain=st.booleans())
def test_a_deleted_entry_is_named(
    helper: bool, exported: Export, data: st.DataObject, with_chain: bool
) -> None:
    lines = exported.lines()
    i = data.draw(st.integers(0, len(lines) - 1))
    entries = b"".join(line + b"\n" for j, line in enumerate(lines) if j != i)
    chain = exported.files[CHAIN]
    if with_chain:
        chain = chain[: i * 32] + chain[i * 32 + 32 :]

    ok, first_bad, _ = exported.check(helper=helper, entries=entries, chain=chain)

    assert not ok
    assert first_bad == i


@HELPED
@MUTATIONS
@given(data=st.data(), with_chain=st.booleans())
def test_reordered_entries_are_named(
    helper: bool, exported: Export, data: st.DataObject, with_chain: bool
) -> None:
    lines = exported.lines()
    i = data.draw(st.integers(0, len(lines) - 2))
    j = data.draw(st.integers(i + 1, len(lines) - 1))
    lines[i], lines[j] = lines[j], lines[i]
    chain = bytearray(exported.files[CHAIN])
    if with_chain:
        a, b = bytes(chain[i * 32 : i * 32 + 32]), bytes(chain[j * 32 : j * 32 + 32])
        chain[i * 32 : i * 32 + 32], chain[j * 32 : j * 32 + 32] = b, a

    ok, first_bad, _ = exported.check(
        helper=helper, entries=b"".join(line + b"\n" for line in lines), chain=bytes(chain)
    )

    assert not ok
    assert first_bad == i


@HELPED
@MUTATIONS
@given(data=st.data())
def test_a_cut_tail_is_caught_by_the_signed_head(
    helper: bool, exported: Export, data: st.DataObject
) -> None:
    lines = exported.lines()
    keep = data.draw(st.integers(0, len(lines) - 1))

    ok, first_bad, reason = exported.check(
        helper=helper,
        entries=b"".join(line + b"\n" for line in lines[:keep]),
        chain=exported.files[CHAIN][: keep * 32],
    )

    assert not ok
    assert first_bad == keep and "cut" in reason


@HELPED
def test_a_tail_cut_at_a_signed_head_is_caught_by_a_head_held_outside(
    helper: bool, exported: Export
) -> None:
    notes = exported.files[CHECKPOINTS].split(b"\n")[:-1]
    held_outside = _note(notes[-1])
    keep = 30  # the first signed head's size: the export now ends at a genuine checkpoint
    cut = {
        "entries": b"".join(line + b"\n" for line in exported.lines()[:keep]),
        "chain": exported.files[CHAIN][: keep * 32],
        "checkpoints": notes[0] + b"\n",
    }
    assert exported.check(helper=helper, **cut)[0]  # alone, the shortened export looks whole

    ok, first_bad, reason = exported.check(extra=(held_outside,), helper=helper, **cut)

    assert not ok
    assert first_bad == keep and "cut" in reason


def test_a_forged_tree_head_is_refused(exported: Export) -> None:
    notes = exported.files[CHECKPOINTS].split(b"\n")[:-1]
    signed = checkpoint.verify_note(_note(notes[-1]), exported.vkey)
    name = signed.origin
    forged_root = checkpoint.Checkpoint(origin=name, size=signed.size, root_hash=b"\x07" * 32)
    other_key = Ed25519PrivateKey.generate()
    forged = checkpoint.sign_checkpoint(forged_root, name, other_key)

    ok, _, reason = exported.check(extra=(forged,))

    assert not ok and "not validly signed" in reason


@HELPED
def test_a_rewritten_entry_with_recomputed_chain_is_caught_by_the_root(
    helper: bool, exported: Export
) -> None:
    """An attacker who rewrites an entry and recomputes every hash still cannot re-sign."""
    import hashlib

    lines = exported.lines()
    lines[40] = lines[40].replace(b'"deny"', b'"permit"')
    chain, previous = b"", bytes(32)
    for line in lines:
        leaf = hashlib.sha256(b"\x00" + line).digest()
        previous = hashlib.sha256(previous + leaf).digest()
        chain += previous

    ok, first_bad, reason = exported.check(
        helper=helper, entries=b"".join(line + b"\n" for line in lines), chain=chain
    )

    assert not ok
    assert first_bad == 30 and "40" not in reason and "Merkle root" in reason


def _note(line: bytes) -> str:
    import json

    return str(json.loads(line)["note"])


# The helper process ---------------------------------------------------------------------------


def test_a_small_export_is_checked_in_this_process(exported: Export, tmp_path: Path) -> None:
    for name, data in exported.files.items():
        (tmp_path / name).write_bytes(data)

    with mock.patch.object(export.subprocess, "Popen", side_effect=AssertionError("spawned")):
        result = verify_export(tmp_path, exported.vkey)

    assert result.ok and result.entries == 87


def test_no_helper_is_started_when_no_core_is_free(exported: Export, tmp_path: Path) -> None:
    for name, data in exported.files.items():
        (tmp_path / name).write_bytes(data)

    with (
        mock.patch.object(export, "_a_core_is_free", lambda: False),
        mock.patch.object(export.subprocess, "Popen", side_effect=AssertionError("spawned")),
    ):
        result = verify_export(tmp_path, exported.vkey, parallel_above=1)

    assert result.ok and result.entries == 87


@pytest.mark.parametrize("front", [0.0, 0.5, 1.0])
def test_an_untouched_export_verifies_with_the_helper(exported: Export, front: float) -> None:
    result, helped = exported.verify(helper=True, front=front)

    assert helped
    assert result == ExportCheck(True, 87, 3)


@pytest.mark.parametrize("front", [0.5, 1.0])
@pytest.mark.parametrize("index", [0, 2, 20, 50, 86])
def test_a_changed_entry_is_named_whoever_hashed_it(
    exported: Export, index: int, front: float
) -> None:
    """Entries 0-43 are the helper's and the rest this process's; with front 1.0 all are the
    helper's."""
    lines = exported.lines()
    lines[index] = lines[index].replace(b'"deny"', b'"DENY"')

    result, helped = exported.verify(
        helper=True, front=front, entries=b"".join(x + b"\n" for x in lines)
    )

    assert helped
    assert not result.ok and result.entries == 87 and result.first_bad == index
    assert result.reason == f"entry {index} does not match its recorded chain hash"


@MUTATIONS
@given(data=st.data())
def test_the_helper_answers_as_this_process_alone_would(
    exported: Export, data: st.DataObject
) -> None:
    """Every changed byte that keeps the lines whole is answered with the helper's share."""
    raw = bytearray(exported.files[ENTRIES])
    position = data.draw(st.integers(0, len(raw) - 1).filter(lambda p: raw[p] != ord("\n")))
    raw[position] = data.draw(st.integers(0, 255).filter(lambda b: b not in (raw[position], 10)))
    chain = bytearray(exported.files[CHAIN])
    if data.draw(st.booleans()):
        spot = data.draw(st.integers(0, len(chain) - 1))
        chain[spot] ^= data.draw(st.integers(1, 255))

    alone, _ = exported.verify(deep=False, entries=bytes(raw), chain=bytes(chain))
    helped_result, helped = exported.verify(helper=True, entries=bytes(raw), chain=bytes(chain))

    assert helped
    assert helped_result == alone


_TAKE_BATON = """
import os, select, sys
def take_baton(fd):
    while True:
        select.select([fd], [], [])
        try:
            return os.read(fd, 16)
        except BlockingIOError:
            pass
"""
"""A helper waits for the baton as verify_share's does: the pipe's read end is non-blocking
(verify_share.Baton.new), and this process may take the baton between select and read."""

_CLAIM_HALF = (
    _TAKE_BATON
    + """
entries, baton_read, baton_write = sys.argv[1], int(sys.argv[5]), int(sys.argv[6])
sys.stdin.buffer.readline()
held = take_baton(baton_read)
lo, hi = int.from_bytes(held[:8], "little"), int.from_bytes(held[8:], "little")
data = open(entries, "rb").read()
mid = data.index(b"\\n", (lo + hi) // 2) + 1
os.write(baton_write, mid.to_bytes(8, "little") + hi.to_bytes(8, "little"))
count = data[:mid].count(b"\\n")
"""
)
_BROKEN_HELPERS = {
    "exits-after-claiming": _CLAIM_HALF + "sys.exit(1)",
    "dies-holding-the-baton": _TAKE_BATON
    + "import signal\nsys.stdin.buffer.readline()\ntake_baton(int(sys.argv[5]))\n"
    + "os.kill(os.getpid(), signal.SIGKILL)",
    "dies-after-answering": _CLAIM_HALF + "print(count, -1, flush=True)\nsys.exit(3)",
    "answers-short": _CLAIM_HALF + "sys.stdout.buffer.write(b'%d -1\\n' % count + b'x' * 7)",
    "miscounts": _CLAIM_HALF + "print(count + 1, -1)",
    "babbles": _CLAIM_HALF + "print('hello')",
    "says-nothing": _CLAIM_HALF,
}


@pytest.fixture(params=sorted(_BROKEN_HELPERS))
def broken_helper(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[None]:
    script = tmp_path / "helper.py"
    script.write_text(_BROKEN_HELPERS[request.param], encoding="utf-8")
    with mock.patch.object(export, "WORKER", script):
        yield


@pytest.mark.usefixtures("broken_helper")
@pytest.mark.parametrize("index", [None, 1, 80])
def test_a_failed_helper_leaves_the_whole_check_to_this_process(
    exported: Export, index: int | None
) -> None:
    lines = exported.lines()
    if index is not None:
        lines[index] = lines[index].replace(b'"deny"', b'"DENY"')
    entries = b"".join(x + b"\n" for x in lines)

    result, helped = exported.verify(helper=True, entries=entries)

    assert not helped
    assert result == exported.verify(deep=False, entries=entries)[0]
    assert result.ok == (index is None) and result.first_bad == index


def test_a_helper_that_never_takes_part_leaves_every_entry_to_this_process(
    exported: Export, tmp_path: Path
) -> None:
    script = tmp_path / "helper.py"
    script.write_text("import sys; sys.exit(1)", encoding="utf-8")
    lines = exported.lines()
    lines[60] = lines[60].replace(b'"deny"', b'"DENY"')
    entries = b"".join(x + b"\n" for x in lines)

    with mock.patch.object(export, "WORKER", script):
        result, helped = exported.verify(helper=True, entries=entries)

    assert helped  # this process's own answer, for every entry: the helper's is not needed
    assert not result.ok and result.first_bad == 60


def test_a_missing_helper_or_interpreter_leaves_the_check_to_this_process(
    exported: Export, tmp_path: Path
) -> None:
    with mock.patch.object(export, "WORKER", tmp_path / "gone.py"):
        result, _ = exported.verify(helper=True)  # it never takes part: all hashed here
    assert result == ExportCheck(True, 87, 3)

    with mock.patch.object(sys, "executable", str(tmp_path / "no-python")):
        result, helped = exported.verify(helper=True)
    assert result == ExportCheck(True, 87, 3) and not helped


def test_a_helper_that_hangs_is_stopped_and_the_check_done_here(
    exported: Export, tmp_path: Path
) -> None:
    script = tmp_path / "helper.py"
    script.write_text(_CLAIM_HALF + "import time; time.sleep(60)", encoding="utf-8")
    lines = exported.lines()
    lines[3] = lines[3].replace(b'"deny"', b'"DENY"')
    started = time.monotonic()

    with (
        mock.patch.object(export, "WORKER", script),
        mock.patch.object(export, "WAIT_SECONDS", 0.5),
    ):
        result, helped = exported.verify(helper=True, entries=b"".join(x + b"\n" for x in lines))

    assert not helped and time.monotonic() - started < 10
    assert not result.ok and result.first_bad == 3


def test_a_list_of_sizes_longer_than_a_pipe_holds_reaches_the_helper(
    exported: Export, tmp_path: Path
) -> None:
    """A list longer than a pipe buffer gets through whole, and sizes past the end are unused."""
    for name, data in exported.files.items():
        (tmp_path / name).write_bytes(data)
    signed = [30, 75, 87]
    beyond = list(range(10**9, 10**9 + 10_000))  # 110 kB in all; sizes past the end are unused

    with (
        mock.patch.object(verify_share, "CHUNK", _chunk(exported.files[ENTRIES], 0.5)),
        mock.patch.object(export._Helper, "take", _front_first(0.5)),
    ):
        helper = export._Helper.start(tmp_path)
        assert helper is not None
        try:
            hashed = export._hash_in_parallel(helper, tmp_path, [*signed, *beyond])
        finally:
            helper.stop()

    assert hashed is not None and hashed.broken is None and hashed.entries == 87
    leaves = [hashlib.sha256(b"\x00" + line).digest() for line in exported.lines()]
    assert export._fold(hashed.covered, hashed.roots, signed) == export.roots_at(leaves, signed)
