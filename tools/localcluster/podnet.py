"""The pod network of the local cluster: a network namespace holding the pod IP range, where the OVMS
stand-in (a test double) answers for every pod.

KWOK gives pods IPs from the nodes' podCIDRs (the pod network of the cluster's address slot, see slots.py).
Nothing listens there on a real host, so the API server's service proxy (/api/v1/namespaces/<ns>/services/<svc>:rest/proxy/...) would have nowhere to
go. `up` creates a namespace owned by this cluster, a veth pair into it, a host route for the pod network
through the veth, and makes every address of the pod network local inside the namespace; the stand-in listens
there on the pods' REST port. Everything else of 198.18.0.0/16 is blackholed on the host, so no packet for
the cluster's made-up addresses ever leaves this machine. Fail closed: without root or iproute2, `up`
raises PodnetUnavailable and nothing is sent to those addresses.
"""
from __future__ import annotations

import hashlib
import http.client
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from . import cluster

STANDIN = Path(__file__).resolve().parent / "ovms_standin.py"
REST_PORT = 8081                     # the ovms container's REST port (plugins/module_utils/_render.py)


class PodnetUnavailable(RuntimeError):
    pass


def _ip(*args, netns: str | None = None, check=True) -> subprocess.CompletedProcess:
    cmd = (["ip", "netns", "exec", netns, "ip"] if netns else ["ip"]) + list(args)
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise PodnetUnavailable(f"`{' '.join(cmd)}` failed: {proc.stderr.strip()}")
    return proc


def names(run_dir: Path) -> dict:
    tag = hashlib.sha256(str(run_dir.resolve()).encode()).hexdigest()[:8]
    return {"netns": f"ovms-pods-{tag}", "veth_host": f"ovh{tag}", "veth_ns": f"ovn{tag}"}


def ensure_blackhole() -> bool:
    """Route the cluster's made-up range nowhere (more specific routes, such as the pod network's, win)."""
    if os.geteuid() != 0 or not shutil.which("ip"):
        return False
    return _ip("route", "replace", "blackhole", cluster.NETWORK, check=False).returncode == 0


def routed_elsewhere(slot) -> bool:
    """Whether the slot's pod network is routed on this host by something other than the blackhole (a cluster
    whose claim was lost, or another tool): then the slot is not used."""
    if os.geteuid() != 0 or not shutil.which("ip"):
        return False
    routed = _ip("route", "show", slot.pod_network, check=False).stdout.strip()
    return bool(routed) and "blackhole" not in routed


def addresses(run_dir: Path):
    """The address slot of the cluster in run_dir."""
    return cluster.Cluster.load(run_dir.resolve()).addresses


def probe_url(run_dir: Path) -> str:
    """http://<an address of the cluster's pod network no pod gets>:<REST port>: the stand-in, reached directly."""
    return "http://%s:%d" % (addresses(run_dir).probe_ip, REST_PORT)


def state_file(run_dir: Path) -> Path:
    return run_dir / "podnet.json"


def script_file(run_dir: Path) -> Path:
    return run_dir / "ovms-standin-script.json"


def write_script(run_dir: Path, script: dict) -> None:
    """Replace the stand-in's model behaviours (see ovms_standin.py); it re-reads the file per request."""
    tmp = script_file(run_dir).with_suffix(".tmp")
    tmp.write_text(json.dumps(script, indent=1))
    os.replace(tmp, script_file(run_dir))


def up(run_dir: Path, script: dict | None = None, timeout: float = 15.0) -> dict:
    run_dir = run_dir.resolve()
    if os.geteuid() != 0:
        raise PodnetUnavailable("creating a network namespace needs root")
    if not shutil.which("ip"):
        raise PodnetUnavailable("iproute2 ('ip') is not installed")
    if state_file(run_dir).exists():
        down(run_dir)
    n = names(run_dir)
    slot = addresses(run_dir)
    pod_network, link_net = slot.pod_network, slot.link_net
    routed = _ip("route", "show", pod_network).stdout.strip()
    if routed and "blackhole" not in routed:
        raise PodnetUnavailable(f"{pod_network} is already routed ({routed}): another pod network holds this cluster's "
                                f"address slot {slot.index}; stop it first")
    ensure_blackhole()
    state = dict(n, pid=None, pod_network=pod_network)
    state_file(run_dir).write_text(json.dumps(state))
    try:
        _ip("netns", "add", n["netns"])
        _ip("link", "add", n["veth_host"], "type", "veth", "peer", "name", n["veth_ns"])
        _ip("link", "set", n["veth_ns"], "netns", n["netns"])
        _ip("addr", "add", f"{link_net[0]}/30", "dev", n["veth_host"])
        _ip("link", "set", n["veth_host"], "up")
        _ip("link", "set", "lo", "up", netns=n["netns"])
        _ip("addr", "add", f"{link_net[1]}/30", "dev", n["veth_ns"], netns=n["netns"])
        _ip("link", "set", n["veth_ns"], "up", netns=n["netns"])
        # every pod address is local inside the namespace: one listener on 0.0.0.0 answers for all pods
        _ip("route", "add", "local", pod_network, "dev", "lo", netns=n["netns"])
        _ip("route", "add", pod_network, "via", link_net[1], "dev", n["veth_host"])
        write_script(run_dir, script or {})
        (run_dir / "logs").mkdir(exist_ok=True)
        with open(run_dir / "logs" / "ovms-standin.log", "ab") as log:
            proc = subprocess.Popen(["ip", "netns", "exec", n["netns"], sys.executable, str(STANDIN),
                                     "--script", str(script_file(run_dir)), "--port", str(REST_PORT)],
                                    stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                    start_new_session=True)
        state["pid"] = proc.pid
        state_file(run_dir).write_text(json.dumps(state))
        deadline = time.monotonic() + timeout
        while True:
            try:
                conn = http.client.HTTPConnection(slot.probe_ip, REST_PORT, timeout=1)
                conn.request("GET", "/v2/health/live")
                if conn.getresponse().status == 200:
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise PodnetUnavailable("the OVMS stand-in did not answer inside the pod network namespace; see "
                                            f"{run_dir / 'logs' / 'ovms-standin.log'}")
                time.sleep(0.1)
            finally:
                conn.close()
    except BaseException:
        down(run_dir)
        raise
    return state


def down(run_dir: Path) -> list[str]:
    run_dir = run_dir.resolve()
    if not state_file(run_dir).exists():
        return []
    state = json.loads(state_file(run_dir).read_text())
    done = []
    pid = state.get("pid")
    if pid:
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            cmdline = b""
        if str(STANDIN).encode() in cmdline:
            os.killpg(pid, signal.SIGTERM)
            for _ in range(50):
                try:
                    os.waitpid(pid, os.WNOHANG)
                except ChildProcessError:
                    pass
                if not Path(f"/proc/{pid}").exists():
                    break
                time.sleep(0.05)
            done.append(f"ovms-standin (pid {pid})")
    # deleting the namespace deletes the veth pair, and the host route through it goes with it
    if _ip("netns", "del", state["netns"], check=False).returncode == 0:
        done.append(f"network namespace {state['netns']}")
    _ip("link", "del", state["veth_host"], check=False)
    state_file(run_dir).unlink()
    return done
