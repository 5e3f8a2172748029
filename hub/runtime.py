"""Everything one hub process holds for its lifetime: settings, database, keys, rules."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from hub.auth.tokens import TokenService
from hub.crypto.fields import BlindIndex, FieldCipher
from hub.crypto.keys import Keyring, load_keyring
from hub.db.engine import make_engine, make_sessionmaker
from hub.disclosure.tree import LogSigner, log_origin
from hub.disclosure.writer import LogWriter
from hub.people.service import Crypto
from hub.settings import Settings
from policies.engine import SharingRules


@dataclass
class Hub:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    keyring: Keyring
    crypto: Crypto
    tokens: TokenService
    rules: SharingRules
    log_signer: LogSigner
    log: LogWriter

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
            keyring=keyring,
            crypto=Crypto(cipher=FieldCipher(keyring), blind=BlindIndex(keyring)),
            tokens=TokenService(settings, keyring),
            rules=SharingRules(settings.resolved_policy_dir),
            log_signer=signer,
            log=LogWriter(sessions, signer, engine=engine),
        )

    def reload_rules(self) -> SharingRules:
        """Swap in the rules on disk; a malformed file raises and the old rules stay."""
        self.rules = SharingRules(self.settings.resolved_policy_dir)
        return self.rules

    def close(self) -> None:
        self.log.close()
        self.engine.dispose()
