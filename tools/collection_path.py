"""Make this checkout importable and findable as the collection openvino.ovms.

Ansible (and `import ansible_collections.openvino.ovms`) needs the collection at
<dir>/ansible_collections/openvino/ovms. This creates <cache>/collections/<hash of the checkout path>/ with
such a symlink to the checkout, and prints <dir>. The Makefile exports it as ANSIBLE_COLLECTIONS_PATH;
tests and tools call ensure() to put it on sys.path.
"""
from __future__ import annotations

import hashlib
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def cache_root() -> Path:
    if os.environ.get("OVMS_CACHE_DIR"):
        return Path(os.environ["OVMS_CACHE_DIR"]).expanduser()
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "openvino-ovms"


def ensure() -> Path:
    top = cache_root() / "collections" / hashlib.sha256(str(ROOT).encode()).hexdigest()[:12]
    link = top / "ansible_collections" / "openvino" / "ovms"
    if not (link.is_symlink() and Path(os.readlink(link)) == ROOT):
        link.parent.mkdir(parents=True, exist_ok=True)
        tmp = link.with_name(".ovms.tmp")
        if tmp.is_symlink():
            tmp.unlink()
        tmp.symlink_to(ROOT)
        os.replace(tmp, link)
    if str(top) not in sys.path:
        sys.path.insert(0, str(top))
    return top


if __name__ == "__main__":
    print(ensure())
