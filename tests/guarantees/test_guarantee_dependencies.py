"""Dependency health: the environment is exactly requirements.txt and pip finds no conflicts in it.

(Installing from scratch in a throw-away venv is ``make deps-check``; known vulnerabilities are
``make audit``, which needs pip-audit and the network — see docs/guarantees.md.)
"""

from __future__ import annotations

import re
import subprocess
import sys
from importlib import metadata

from tests.helpers import ROOT


def _pins() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "requirements.txt").read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            match = re.fullmatch(r"([A-Za-z0-9_.\-]+)==([A-Za-z0-9_.+\-]+)", line)
            assert match, f"requirements.txt: {line!r} is not pinned as NAME==VERSION"
            pins[match.group(1)] = match.group(2)
    return pins


def test_every_requirement_is_pinned_and_installed_at_exactly_that_version():
    pins = _pins()
    assert len(pins) >= 15
    # "==2.13.0" is met by "2.13.0+cpu": PEP 440 ignores a local label the pin does not name.
    installed = {name: metadata.version(name).split("+", 1)[0] for name in pins}
    assert installed == pins


def test_pip_finds_no_broken_or_conflicting_requirements():
    result = subprocess.run([sys.executable, "-m", "pip", "check", "--disable-pip-version-check"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == "No broken requirements found."
