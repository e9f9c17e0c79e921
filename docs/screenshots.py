"""Regenerate the README's screenshots in docs/screenshots/ from a real run of the
end-to-end browser tests (tests/review_app/test_e2e_browser.py and test_e2e_layout.py, on
SQLite): the proposal queue, a dossier (at 1280 px and at phone width, 390 px), a bolder
proposal's backtest and forecast, a ruleset's history after activation, and the pictures:
the dossier's summary card, the frontier of the proposer's run, the ruleset's rates.

    .venv/bin/python docs/screenshots.py [extra pytest arguments]

The screenshots are taken only when the walkthrough's checks pass up to that page; the test
run in CI does not write them (it saves them only when RULEBOOK_SCREENSHOTS is set).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "screenshots"
TESTS = (
    "tests/review_app/test_e2e_browser.py"
    "::test_an_edited_proposal_is_accepted_activated_and_decides[sqlite]",
    "tests/review_app/test_e2e_layout.py::test_pages_fit_1280_px_and_show_their_pictures[sqlite]",
)


def main(extra: list[str]) -> int:
    env = {**os.environ, "RULEBOOK_SCREENSHOTS": str(OUT)}
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:randomly", *TESTS, *extra]
    done = subprocess.run(command, cwd=ROOT, env=env, check=False)
    if done.returncode == 0:
        for path in sorted(OUT.glob("*.png")):
            print(f"wrote {path.relative_to(ROOT)}")
    return done.returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
