"""Loading the demo: the Boston HMDA walkthrough in an empty database (``rulebook demo load``).

It records ``hmda.yaml`` as version 1 of its ruleset, imports the 2,380 real applications of
``hmda_boston.csv`` (both shipped in this package) with the lender's decisions as their
resolutions,
creates one user per role (username = role, random password) and one API key with every scope,
all in the caller's transaction. Passwords and the key are returned once and stored only hashed.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from rules.core.document import load_document
from rules.errors import UnavailableError
from rules.store import accounts, versions
from rules.store.history import ImportReport, ImportSpec, import_csv
from rules.store.models import ROLES, SCOPES, ApiKey, Ruleset, User

__all__ = ["DEMO_CSV", "DEMO_RULESET", "EXAMPLE_FACTS", "DemoLoad", "is_empty", "load_demo"]

HERE = Path(__file__).resolve().parent
DEMO_RULESET = HERE / "hmda.yaml"
DEMO_CSV = HERE / "hmda_boston.csv"
DEMO_SPEC = ImportSpec(
    outcome_column="deny",
    mapping={"yes": "decline", "no": "approve"},
    id_column="case_id",
    file_name=DEMO_CSV.name,
)
DEMO_KEY_NAME = "demo"
# An applicant the demo ruleset approves, for the ready-to-paste curl example.
EXAMPLE_FACTS: dict[str, Any] = {
    "pirat": 0.29,
    "hirat": 0.24,
    "lvrat": 0.8,
    "chist": 1,
    "mhist": 2,
    "phist": False,
    "unemp": 3.2,
    "selfemp": False,
    "insurance": False,
    "condomin": False,
    "hschool": True,
}


@dataclass(frozen=True, slots=True)
class DemoLoad:
    """What was loaded, with the secrets that are shown only this once."""

    ruleset: str
    version: int
    history: ImportReport
    passwords: dict[str, str]
    api_key: str
    api_key_prefix: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "loaded": True,
            "ruleset": self.ruleset,
            "version": self.version,
            "history": self.history.to_dict(),
            "users": [
                {"username": name, "role": name, "password": password}
                for name, password in self.passwords.items()
            ],
            "api_key": {"name": DEMO_KEY_NAME, "prefix": self.api_key_prefix, "key": self.api_key},
        }


def is_empty(session: Session) -> bool:
    """No rulesets, users or API keys yet: a database the demo may be loaded into."""
    found = session.scalar(
        select(exists(select(Ruleset.id)) | exists(select(User.id)) | exists(select(ApiKey.id)))
    )
    return not found


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise UnavailableError(
            f"the demo needs {path}, which cannot be read ({exc.strerror}); "
            "run the demo from a source checkout of Rulebook"
        ) from exc


def load_demo(
    session: Session,
    actor: str,
    *,
    ruleset_file: Path = DEMO_RULESET,
    csv_file: Path = DEMO_CSV,
) -> DemoLoad:
    """Load the demo in the caller's transaction (ConflictError if any part already exists)."""
    doc = load_document(_read(ruleset_file))
    version = versions.create_ruleset(session, doc, actor)
    spec = replace(DEMO_SPEC, file_name=csv_file.name)
    report = import_csv(session, doc.name, _read(csv_file), spec, actor=actor)
    passwords = {}
    for role in ROLES:
        password = secrets.token_urlsafe(12)
        accounts.create_user(session, role, role, password, actor)
        passwords[role] = password
    key, token = accounts.create_api_key(session, DEMO_KEY_NAME, SCOPES, actor)
    return DemoLoad(doc.name, version.number, report, passwords, token, key.prefix)
