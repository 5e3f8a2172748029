"""Everything one hub process holds for its lifetime: settings, database, keys, rules."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from hub.auth.tokens import TokenService
from hub.crypto.fields import BlindIndex, FieldCipher
from hub.crypto.keys import Keyring, load_keyring
from hub.db.engine import make_engine, make_sessionmaker
from hub.linkage.bulk import Thresholds
from hub.linkage.live import LiveLinker
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
    linker: LiveLinker

    @classmethod
    def start(cls, settings: Settings, *, keyring: Keyring | None = None) -> Hub:
        settings.check_for_production()
        keyring = keyring or load_keyring(settings)
        engine = make_engine(settings.sqlalchemy_url)
        return cls(
            settings=settings,
            engine=engine,
            sessions=make_sessionmaker(engine),
            keyring=keyring,
            crypto=Crypto(cipher=FieldCipher(keyring), blind=BlindIndex(keyring)),
            tokens=TokenService(settings, keyring),
            rules=SharingRules(settings.resolved_policy_dir),
            linker=LiveLinker(
                settings.data_dir,
                Thresholds(settings.linkage_link_weight, settings.linkage_review_weight),
            ),
        )

    def reload_rules(self) -> SharingRules:
        """Swap in the rules on disk; a malformed file raises and the old rules stay."""
        self.rules = SharingRules(self.settings.resolved_policy_dir)
        return self.rules

    def close(self) -> None:
        self.engine.dispose()
