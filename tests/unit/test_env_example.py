"""`.env.example` documents every setting the code reads from the environment."""
from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _documented() -> set[str]:
    return set(re.findall(r"^([A-Z][A-Z0-9_]+)=", (ROOT / ".env.example").read_text(), re.M))


def _read_by_code() -> set[str]:
    keys: set[str] = set()
    for path in [ROOT / "config.py", ROOT / "Procfile", *(ROOT / "blog").rglob("*.py"), *(ROOT / "e2e").rglob("*.py")]:
        text = path.read_text()
        keys |= set(re.findall(r"""os\.environ(?:\.get)?[\(\[]["']([A-Z][A-Z0-9_]+)["']""", text))
        keys |= set(re.findall(r"""_env_(?:bool|int)\(["']([A-Z][A-Z0-9_]+)["']""", text))
        keys |= set(re.findall(r"\$\{([A-Z][A-Z0-9_]+)", text))
    return keys


def test_every_setting_read_by_the_code_is_in_env_example():
    missing = _read_by_code() - _documented()
    assert not missing, f"add to .env.example: {sorted(missing)}"
