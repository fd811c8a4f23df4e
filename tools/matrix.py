"""The compatibility matrix: every ansible-core that runs on this Python x the oldest supported, a middle and the
newest kubernetes library. Each combination gets its own small virtual environment (ansible-core, kubernetes,
PyYAML, jmespath), cached under <cache>/matrix/ by the hash of what it holds, built once and reused.
The collections the playbooks need besides this one (kubernetes.core, ansible.posix for the JSON callback) come
from the main venv's `ansible` package, through ANSIBLE_COLLECTIONS_PATH (see environment()).

  python tools/matrix.py build      build the missing venvs (two at a time), with a line per venv
  python tools/matrix.py list       print the combinations and their venvs
tests/integration/test_matrix.py runs a short lifecycle (tests/matrix/lifecycle.yml) in each.
"""
from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import sysconfig
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from collection_path import cache_root

ANSIBLE_CORE = ("2.16.19", "2.17.14", "2.18.19", "2.19.14")  # every minor that runs on Python 3.11
KUBERNETES = ("24.2.0", "30.1.0", "37.0.2")                   # the oldest we support, a middle one, the newest
EXTRA = ("PyYAML==6.0.3", "jmespath==1.0.1")
COMBOS = [(core, k8s) for core in ANSIBLE_CORE for k8s in KUBERNETES]


def requirements(core: str, k8s: str) -> list[str]:
    return [f"ansible-core=={core}", f"kubernetes=={k8s}"] + list(EXTRA)


def venv_dir(core: str, k8s: str) -> Path:
    reqs = requirements(core, k8s)
    tag = hashlib.sha256("\n".join(reqs + [sys.version]).encode()).hexdigest()[:8]
    return cache_root() / "matrix" / f"venv-core{core}-k8s{k8s}-{tag}"


def installed(core: str, k8s: str) -> bool:
    return (venv_dir(core, k8s) / ".installed").exists()


def build_one(core: str, k8s: str) -> tuple[str, float]:
    """Build one venv in place (venvs hold absolute paths); the .installed marker is written last, so a venv
    left half-built by an interrupted run is rebuilt from scratch."""
    venv = venv_dir(core, k8s)
    if installed(core, k8s):
        return f"{venv.name}: cached", 0.0
    started = time.monotonic()
    subprocess.run(["rm", "-rf", str(venv)], check=True)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    proc = subprocess.run([str(venv / "bin" / "pip"), "install", "--disable-pip-version-check", "-q"]
                          + requirements(core, k8s), capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"pip install {' '.join(requirements(core, k8s))} failed:\n{proc.stdout}{proc.stderr}")
    (venv / ".installed").write_text("\n".join(requirements(core, k8s)) + "\n")
    return f"{venv.name}: built", time.monotonic() - started


def build(jobs: int = 2) -> int:
    missing = [c for c in COMBOS if not installed(*c)]
    print(f"[matrix] {len(COMBOS)} combinations, {len(missing)} venvs to build under {cache_root() / 'matrix'}",
          flush=True)
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        for what, seconds in pool.map(lambda c: build_one(*c), missing):
            print(f"[matrix] {what} in {seconds:.0f} s", flush=True)
    return 0


def main_collections() -> str:
    """The directory holding ansible_collections/ of the running (main) venv: kubernetes.core, ansible.posix."""
    return sysconfig.get_paths()["purelib"]


def environment(core: str, k8s: str, collections_dir: Path) -> dict:
    """The environment for running this combination's ansible-playbook."""
    venv = venv_dir(core, k8s)
    env = dict(os.environ)
    env["PATH"] = f"{venv / 'bin'}:{env.get('PATH', '')}"
    env["ANSIBLE_COLLECTIONS_PATH"] = f"{collections_dir}:{main_collections()}"
    env.pop("PYTHONPATH", None)  # the matrix venv's own kubernetes library, not the main venv's
    return env


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    if len(sys.argv) > 1 and sys.argv[1] == "list":
        for c in COMBOS:
            print(*c, venv_dir(*c), "installed" if installed(*c) else "missing")
        raise SystemExit(0)
    raise SystemExit(build())
