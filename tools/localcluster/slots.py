"""Address slots: several local clusters at once on one machine, each with a pod range of its own.

Every address the local clusters hand out is inside 198.18.0.0/16 (cluster.NETWORK), blackholed on the host.
A cluster's pods get IPs from its nodes' podCIDRs; the pod network namespace of that cluster (podnet.py) holds
those addresses, and the host routes them there through a veth pair. Two clusters with the same pod range would
need the same host route, so each running cluster claims a slot, and the slot decides its addresses:

  slot 0   pods 198.18.0.0/22   (the addresses of the first version: node-0 .0.0/24, node-1 .1.0/24,
                                 KWOK's fallback .2.0/24, node IPs and the stand-in's probe address in .3.0/24)
  slot k   pods 198.18.B.0/22 with B = 32 + 4 (k - 1), laid out the same way   (k = 1 .. MAX_SLOT)
  veth     198.18.255.(4k + 1) on the host, .(4k + 2) in the namespace (a /30 per slot)

Service ClusterIPs (198.18.16.0/20) are the same in every cluster: nothing routes them (there is no kube-proxy).

A claim is a file `<cache>/slots/<k>.json` naming the cluster's run directory and the claiming process, written
under a lock. It is stale, and taken over, when that process has exited and no cluster is running in that run
directory any more; `down` releases it.
"""
from __future__ import annotations

import fcntl
import ipaddress
import json
import os
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from . import build

MAX_SLOT = 55   # B = 32 + 4 * 54 = 248: slot 55's /22 ends at 198.18.251.255, below the veth range (198.18.255.0/24)


class NoFreeSlot(RuntimeError):
    pass


@dataclass(frozen=True)
class Slot:
    index: int

    @property
    def base(self) -> int:
        if not 0 <= self.index <= MAX_SLOT:
            raise ValueError(f"slot {self.index} is outside 0..{MAX_SLOT}")
        return 0 if self.index == 0 else 32 + 4 * (self.index - 1)

    def _net(self, offset: int, prefix: int) -> str:
        return f"198.18.{self.base + offset}.0/{prefix}"

    @property
    def pod_network(self) -> str:
        return self._net(0, 22)

    @property
    def kwok_fallback_cidr(self) -> str:
        return self._net(2, 24)

    @property
    def probe_ip(self) -> str:
        """An address of the pod network no pod gets: the stand-in is checked there."""
        return f"198.18.{self.base + 3}.254"

    @property
    def link_net(self) -> tuple[str, str]:
        """The host and namespace ends of the veth pair (a /30)."""
        return f"198.18.255.{4 * self.index + 1}", f"198.18.255.{4 * self.index + 2}"

    def nodes(self, templates: list[dict]) -> list[dict]:
        """The cluster's nodes (cluster.NODES as templates: names, capacity, labels) with this slot's addresses."""
        out = []
        for i, node in enumerate(templates):
            out.append(dict(node, ip=f"198.18.{self.base + 3}.{i + 1}", pod_cidr=self._net(i, 24)))
        return out

    def check(self) -> None:
        """Every address of this slot is inside the test network and inside its own pod range."""
        net, pods = ipaddress.ip_network("198.18.0.0/16"), ipaddress.ip_network(self.pod_network)
        assert pods.subnet_of(net) and ipaddress.ip_address(self.probe_ip) in pods


def _dir() -> Path:
    d = build.cache_root() / "slots"
    d.mkdir(parents=True, exist_ok=True)
    return d


@contextmanager
def _locked():
    with open(_dir() / ".lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _pid_alive(pid) -> bool:
    try:
        os.kill(int(pid), 0)
    except (OSError, ValueError, TypeError):
        return False
    return True


def _stale(claim: dict) -> bool:
    from . import cluster  # imports this module

    if _pid_alive(claim.get("pid")):
        return False
    run_dir = Path(claim.get("run_dir", "/nonexistent"))
    if not (run_dir / "state.json").exists():
        return True
    try:
        return not cluster.Cluster.load(run_dir).running()
    except (OSError, ValueError, KeyError):
        return True


def claim(run_dir: Path, routed=None) -> Slot:
    """The slot of the cluster in run_dir: the one it holds already, else the lowest free one. `routed(slot)` tells
    whether the slot's pod network is routed on this host by someone else (then the slot is skipped)."""
    run_dir = Path(run_dir).resolve()
    with _locked():
        claims = {}
        for f in _dir().glob("*.json"):
            try:
                claims[int(f.stem)] = json.loads(f.read_text())
            except (OSError, ValueError):
                claims[int(f.stem)] = {}
        for index, c in claims.items():
            if c.get("run_dir") == str(run_dir):
                c["pid"] = os.getpid()
                (_dir() / f"{index}.json").write_text(json.dumps(c))
                return Slot(index)
        for index in range(MAX_SLOT + 1):
            c = claims.get(index)
            if c is not None and not _stale(c):
                continue
            if routed is not None and routed(Slot(index)):
                continue
            (_dir() / f"{index}.json").write_text(json.dumps({"run_dir": str(run_dir), "pid": os.getpid()}))
            return Slot(index)
    raise NoFreeSlot(f"all {MAX_SLOT + 1} address slots are held by running local clusters (see {_dir()}); stop one "
                     f"with `python -m localcluster down --run-dir DIR`")


def release(run_dir: Path) -> None:
    run_dir = Path(run_dir).resolve()
    with _locked():
        for f in _dir().glob("*.json"):
            try:
                if json.loads(f.read_text()).get("run_dir") == str(run_dir):
                    f.unlink()
            except (OSError, ValueError):
                continue
