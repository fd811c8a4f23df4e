"""Shared pytest set-up: make the repo's tools (the local cluster) and the collection importable."""
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
for _path in (ROOT / "tools", ROOT / "tests"):  # tools: the local cluster; tests: spec_strategies
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

import collection_path  # noqa: E402  (needs tools/ on sys.path)

COLLECTIONS_DIR = collection_path.ensure()
