"""Shared pytest set-up: make the repo's tools (the local cluster) importable."""
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
for p in (ROOT / "tools",):
    if str(p) not in sys.path:
        sys.path.insert(0, str(p))
