"""Everything one hub process holds for its lifetime: settings, database, keys, rules."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from hub.auth.tokens import TokenService
from hub.crypto.fields import BlindIndex, FieldCipher
from hub.crypto.keys import Keyring, load_keyring
from hub.db.engine import make_engine, make_read_engine, make_sessionmaker
from hub.disclosure.tree import LogSigner, log_origin
from hub.disclosure.writer import LogWriter
from hub.linkage.bulk import Thresholds
from hub.linkage.live import LiveLinker
from hub.logging import log
from hub.people.service import Crypto
from hub.settings import Settings
from policies.engine import PolicyError, SharingRules

RELOAD_MARKER = "policy.reload"


def reload_marker(settings: Settings) -> Path:
    """The file ``hub policy reload`` touches; running hubs reload when it changes."""
    return settings.data_dir / RELOAD_MARKER


def _stamp(path: str) -> int | None:
    try:
        return os.stat(path).st_mtime_ns
    except OSError:
        return None


@dataclass
class Hub:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    read_engine: Engine
    keyring: Keyring
    crypto: Crypto
    tokens: TokenService
    rules: SharingRules
    log_signer: LogSigner
    log: LogWriter
    _reload_stamp: int | None = field(default=None, init=False)
    _reload_path: str = field(default="", init=False)

    def __post_init__(self) -> None:
        # Built once as a string: every decision stats it, and pathlib cost more than the stat.
        self._reload_path = str(reload_marker(self.settings))
        self._reload_stamp = _stamp(self._reload_path)

    linker: LiveLinker

    @classmethod
    def start(cls, settings: Settings, *, keyring: Keyring | None = None) -> Hub:
        settings.check_for_production()
        keyring = keyring or load_keyring(settings)
        engine = make_engine(settings.sqlalchemy_url)
        sessions = make_sessionmaker(engine)
        signer = LogSigner(log_origin(settings.public_url), keyring.log_signing_key)
        return cls(
            settings=settings,
            engine=engine,
            sessions=sessions,
            read_engine=make_read_engine(engine),
            keyring=keyring,
            crypto=Crypto(cipher=FieldCipher(keyring), blind=BlindIndex(keyring)),
            tokens=TokenService(settings, keyring),
            rules=SharingRules(settings.resolved_policy_dir),
            log_signer=signer,
            log=LogWriter(
                sessions, signer, engine=engine, shared_head=settings.data_dir / "log-head"
            ),
            linker=LiveLinker(
                settings.data_dir,
                Thresholds(settings.linkage_link_weight, settings.linkage_review_weight),
            ),
        )

    def reload_rules(self) -> SharingRules:
        """Swap in the rules on disk; a malformed file raises and the old rules stay."""
        self.rules = SharingRules(self.settings.resolved_policy_dir)
        return self.rules

    def current_rules(self) -> SharingRules:
        """The rules in force, after picking up a ``hub policy reload`` if one happened.

        One stat() per call; a malformed file is refused and the previous rules stay.
        """
        stamp = _stamp(self._reload_path)
        if stamp != self._reload_stamp:
            self._reload_stamp = stamp
            previous = self.rules.version
            try:
                self.reload_rules()
                log.info("policy_reloaded", previous=previous, version=self.rules.version)
            except PolicyError as exc:
                log.warning("policy_reload_refused", reason=str(exc), version=previous)
        return self.rules

    def close(self) -> None:
        self.log.close()
        self.engine.dispose()
        if self.read_engine is not self.engine:
            self.read_engine.dispose()
