"""Build the control plane's binaries from their Go module sources, cached outside the repository.

Layout of the cache (``$OVMS_CACHE_DIR``, else ``$XDG_CACHE_HOME/openvino-ovms``, else
``~/.cache/openvino-ovms``)::

    bin/kubernetes-v1.35.4/{kube-apiserver,kube-controller-manager,kube-scheduler,kubectl}
    bin/etcd-v3.6.16/etcd
    bin/kwok-v0.8.0/kwok
    src/<component>-<version>/      the small wrapper Go modules the binaries are built from

Only what is missing is built. ``OVMS_CLUSTER_BIN_DIR`` (or ``--bin-dir``) points at a directory that
already holds all of the binaries, and then nothing is built.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from collection_path import cache_root  # tools/ is on sys.path whenever this package is importable

from . import versions

ETCD_MAIN = """\
// Wrapper main for etcd: go.etcd.io/etcd/server/v3's own main package cannot be built with
// `go install module@version` from outside its repository, so this calls etcdmain.Main.
package main

import (
\t"os"

\t"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
\tetcdmain.Main(os.Args)
}
"""


class BuildError(RuntimeError):
    pass


def log(msg: str) -> None:
    print(f"[localcluster] {msg}", file=sys.stderr, flush=True)


def _go_env(extra: dict | None = None) -> dict:
    env = dict(os.environ, **(extra or {}))
    env["CGO_ENABLED"] = "0"
    env.setdefault("GOFLAGS", "-buildvcs=false")
    return env


PROGRESS_EVERY = 30.0  # seconds between progress lines while a long go command runs


def _run(cmd: list[str], cwd: Path, logfile: Path, extra_env: dict | None = None) -> str:
    """Run a go command, appending its output to logfile and printing a progress line (what runs, for how long,
    how many output lines: packages with -v) every PROGRESS_EVERY seconds; raise BuildError with the tail on
    failure."""
    started = time.monotonic()
    lines: list[str] = []
    with open(logfile, "a", encoding="utf-8") as out:
        out.write(f"\n$ {' '.join(cmd)}\n")
        out.flush()
        proc = subprocess.Popen(cmd, cwd=cwd, env=_go_env(extra_env), stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True)

        def pump():
            for line in proc.stdout:
                lines.append(line)
                out.write(line)

        reader = threading.Thread(target=pump, daemon=True)
        reader.start()
        while True:
            reader.join(PROGRESS_EVERY)
            if not reader.is_alive():
                break
            elapsed = int(time.monotonic() - started)
            log(f"  ... still running `{' '.join(cmd[:2])}` in {cwd.name}: {elapsed // 60}m{elapsed % 60:02d}s, "
                f"{len(lines)} lines of output so far (log: {logfile})")
        proc.wait()
    output = "".join(lines)
    if proc.returncode != 0:
        tail = "\n".join(output.splitlines()[-25:])
        raise BuildError(f"{' '.join(cmd[:3])} failed (exit {proc.returncode}); full log: {logfile}\n{tail}")
    return output


def _require_go() -> str:
    go = shutil.which("go")
    if not go:
        raise BuildError("the Go toolchain ('go') is not on PATH; it is needed to build the cluster binaries")
    return go


def _install(built: Path, names, dest: Path) -> None:
    """Move freshly built binaries into their versioned directory, each atomically."""
    dest.mkdir(parents=True, exist_ok=True)
    for name in names:
        tmp = dest / f".{name}.tmp"
        shutil.copy2(built / name, tmp)
        os.replace(tmp, dest / name)


def _staging_modules(go: str, workdir: Path, logfile: Path, version: str) -> list[str]:
    """Read k8s.io/kubernetes's go.mod from the module proxy and list the staging modules it replaces."""
    out = _run([go, "mod", "download", "-json", f"k8s.io/kubernetes@{version}"], workdir, logfile)
    gomod = Path(json.loads(out[out.index("{"):])["GoMod"]).read_text(encoding="utf-8")
    mods = re.findall(r"^\s*(k8s\.io/[\w.-]+)\s*=>\s*\./staging/", gomod, flags=re.M)
    if not mods:
        raise BuildError(f"no staging replace directives found in k8s.io/kubernetes@{version}'s go.mod")
    return mods


def build_kubernetes(dest: Path, version: str = versions.KUBERNETES_VERSION) -> None:
    """k8s.io/kubernetes replaces its staging modules with local paths, so `go install` cannot build it.
    A wrapper module requires it and pins each staging module to the matching published v0.X.Y."""
    go = _require_go()
    src = cache_root() / "src" / f"kubernetes-{version}"
    src.mkdir(parents=True, exist_ok=True)
    logfile = src / "build.log"
    staging = versions.staging_version(version)
    (src / "go.mod").write_text("module ovms.local/kubernetes-build\n\ngo 1.25.0\n", encoding="utf-8")
    mods = _staging_modules(go, src, logfile, version)
    replaces = "".join(f"\t{m} => {m} {staging}\n" for m in mods)
    (src / "go.mod").write_text(
        "module ovms.local/kubernetes-build\n\ngo 1.25.0\n\n"
        f"require k8s.io/kubernetes {version}\n\nreplace (\n{replaces})\n", encoding="utf-8")
    pkgs = [f"k8s.io/kubernetes/cmd/{c}" for c in versions.KUBERNETES_COMMANDS]
    _run([go, "get"] + [f"{p}@{version}" for p in pkgs], src, logfile)
    minor = version.lstrip("v").split(".")[1]
    ldflags = " ".join([
        "-s", "-w",
        f"-X k8s.io/component-base/version.gitVersion={version}",
        "-X k8s.io/component-base/version.gitMajor=1",
        f"-X k8s.io/component-base/version.gitMinor={minor}",
        "-X k8s.io/component-base/version.gitTreeState=clean",
        f"-X k8s.io/client-go/pkg/version.gitVersion={version}",
        "-X k8s.io/client-go/pkg/version.gitMajor=1",
        f"-X k8s.io/client-go/pkg/version.gitMinor={minor}",
    ])
    with tempfile.TemporaryDirectory(dir=src) as out:
        # -v: one line per package compiled, so the progress lines show the build moving
        _run([go, "build", "-v", "-trimpath", "-ldflags", ldflags, "-o", out + "/"] + pkgs, src, logfile)
        _install(Path(out), versions.KUBERNETES_COMMANDS, dest)


def build_etcd(dest: Path, version: str = versions.ETCD_VERSION) -> None:
    """etcd's server module is built through a wrapper main (kept apart from the Kubernetes module,
    whose dependency versions differ)."""
    go = _require_go()
    src = cache_root() / "src" / f"etcd-{version}"
    src.mkdir(parents=True, exist_ok=True)
    logfile = src / "build.log"
    (src / "go.mod").write_text("module ovms.local/etcd-build\n\ngo 1.25.0\n", encoding="utf-8")
    (src / "main.go").write_text(ETCD_MAIN, encoding="utf-8")
    _run([go, "get", f"go.etcd.io/etcd/server/v3@{version}"], src, logfile)
    _run([go, "mod", "tidy"], src, logfile)
    ldflags = f"-s -w -X go.etcd.io/etcd/api/v3/version.GitSHA={version}"
    with tempfile.TemporaryDirectory(dir=src) as out:
        _run([go, "build", "-trimpath", "-ldflags", ldflags, "-o", out + "/etcd", "."], src, logfile)
        _install(Path(out), ["etcd"], dest)


def build_kwok(dest: Path, version: str = versions.KWOK_VERSION) -> None:
    go = _require_go()
    src = cache_root() / "src" / f"kwok-{version}"
    src.mkdir(parents=True, exist_ok=True)
    logfile = src / "build.log"
    ldflags = f"-s -w -X sigs.k8s.io/kwok/pkg/consts.Version={version}"
    with tempfile.TemporaryDirectory(dir=src) as out:
        _run([go, "install", "-trimpath", "-ldflags", ldflags, f"sigs.k8s.io/kwok/cmd/kwok@{version}"],
             src, logfile, extra_env={"GOBIN": out})
        _install(Path(out), ["kwok"], dest)


COMPONENTS = {
    # component: (version, binaries, builder)
    "kubernetes": (versions.KUBERNETES_VERSION, versions.KUBERNETES_COMMANDS, build_kubernetes),
    "etcd": (versions.ETCD_VERSION, ("etcd",), build_etcd),
    "kwok": (versions.KWOK_VERSION, ("kwok",), build_kwok),
}


def ensure_binaries(bin_dir: str | os.PathLike | None = None) -> dict[str, Path]:
    """Return {binary name: path}, building whatever is missing from the versioned cache.

    With bin_dir (or $OVMS_CLUSTER_BIN_DIR), that directory must already hold every binary."""
    bin_dir = bin_dir or os.environ.get("OVMS_CLUSTER_BIN_DIR")
    paths: dict[str, Path] = {}
    if bin_dir:
        bin_dir = Path(bin_dir).expanduser()
        for _, names, _ in COMPONENTS.values():
            for name in names:
                p = bin_dir / name
                if not os.access(p, os.X_OK):
                    raise BuildError(f"{p} is missing or not executable (from OVMS_CLUSTER_BIN_DIR/--bin-dir)")
                paths[name] = p
        return paths
    cache_root().mkdir(parents=True, exist_ok=True)
    lock = open(cache_root() / "build.lock", "w")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        log(f"another process is building the cluster binaries in {cache_root()}: waiting for it ...")
        fcntl.flock(lock, fcntl.LOCK_EX)
    try:
        return _build_missing(paths)
    finally:
        lock.close()


def _build_missing(paths: dict) -> dict[str, Path]:
    """Build what is missing (one process at a time: the caller holds the build lock)."""
    started_all = time.monotonic()
    built_any = False
    for component, (version, names, builder) in COMPONENTS.items():
        dest = cache_root() / "bin" / f"{component}-{version}"
        missing = [n for n in names if not os.access(dest / n, os.X_OK)]
        if missing:
            built_any = True
            log(f"building {component} {version} ({', '.join(missing)}) from Go module sources "
                f"into {dest}; the first build takes several minutes ...")
            started = time.monotonic()
            builder(dest, version)
            log(f"built {component} {version} in {time.monotonic() - started:.0f} s")
        for n in names:
            paths[n] = dest / n
    if built_any:
        log(f"cluster binaries built in {time.monotonic() - started_all:.0f} s (cold build)")
    return paths


def main_build(args) -> int:
    try:
        paths = ensure_binaries(args.bin_dir)
    except BuildError as exc:
        log(f"error: {exc}")
        return 1
    for name, path in sorted(paths.items()):
        print(f"{name}: {path}")
    return 0
