"""The versioned prompts: ``prompts/<name>-v<N>.md``, the version in the file name and in every
run record, with the SHA-256 of the file's bytes.

A prompt file holds two sections, ``<!-- system -->`` and ``<!-- user -->``, written as
:class:`string.Template` text (``$ruleset``, ``$version``, ``$versions``, ``$active``,
``$decisions``, ``$exceptions``, ``$limit``). A changed prompt is a new file with a new
version; a file is never edited once released.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from importlib import resources
from string import Template
from typing import Any

__all__ = ["PROMPT_VERSION", "Prompt", "load_prompt"]

PROMPT_VERSION = "propose-v2"
_VERSION = re.compile(r"[a-z][a-z0-9-]*-v[0-9]+\Z")
_SECTION = re.compile(r"^<!-- (system|user) -->\n", re.MULTILINE)


@dataclass(frozen=True, slots=True)
class Prompt:
    version: str
    sha256: str
    system: Template
    user: Template

    def messages(self, **values: Any) -> list[dict[str, Any]]:
        """The conversation's first two messages (KeyError for a missing value)."""
        return [
            {"role": "system", "content": self.system.substitute(values).strip()},
            {"role": "user", "content": self.user.substitute(values).strip()},
        ]


def load_prompt(version: str = PROMPT_VERSION) -> Prompt:
    """The prompt of that version, from the package's ``prompts`` folder."""
    if not _VERSION.match(version):
        raise ValueError(f"{version!r} is not a prompt version like {PROMPT_VERSION!r}")
    data = resources.files("proposer.llm").joinpath("prompts", f"{version}.md").read_bytes()
    text = data.decode("utf-8")
    parts = _SECTION.split(text)
    sections = dict(zip(parts[1::2], parts[2::2], strict=True))
    if set(sections) != {"system", "user"}:
        raise ValueError(f"prompt {version} needs a system and a user section")
    return Prompt(
        version=version,
        sha256=hashlib.sha256(data).hexdigest(),
        system=Template(sections["system"]),
        user=Template(sections["user"]),
    )
