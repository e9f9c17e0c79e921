"""``json_logs``: Rulebook's logging configured in json mode for one test (as ``serve`` and
the CLI configure it), its lines read back parsed; the test runner's logging is restored."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from rules import logs

Lines = Callable[[], list[dict[str, Any]]]


@pytest.fixture
def json_logs(capsys: pytest.CaptureFixture[str]) -> Iterator[Lines]:
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    logs.configure(logs.LogSettings(format="json"))
    capsys.readouterr()

    def lines() -> list[dict[str, Any]]:
        err = capsys.readouterr().err
        return [json.loads(line) for line in err.splitlines() if line.strip()]

    try:
        yield lines
    finally:
        logging.captureWarnings(False)
        root.handlers[:], _ = saved[0], root.setLevel(saved[1])
