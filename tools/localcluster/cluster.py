"""Start and stop a real Kubernetes control plane as local processes, with KWOK playing the nodes.

Everything listens on 127.0.0.1 only, on free ports. The addresses KWOK hands to pods, nodes and
services are all inside 198.18.0.0/16 (RFC 2544's benchmarking range), which no real host uses; tests
that must reach a pod put that range inside a network namespace they create themselves.
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from . import build, pki, slots, versions

HERE = Path(__file__).resolve().parent
KWOK_STAGES = HERE / "kwok-stages.yaml"

NETWORK = "198.18.0.0/16"          # every address the cluster hands out is inside this range
# The addresses of address slot 0 (slots.py); a cluster started while another holds slot 0 gets another slot,
# with the same layout in another /22: use Cluster.addresses / Cluster.nodes for a running cluster's own.
POD_NETWORK = "198.18.0.0/22"      # pod IPs: one /24 per node (see NODES) and KWOK's fallback range
KWOK_FALLBACK_CIDR = "198.18.2.0/24"  # used by KWOK only for a pod whose node has no podCIDR
SERVICE_CIDR = "198.18.16.0/20"
SERVICE_IP = "198.18.16.1"         # the `kubernetes` Service's ClusterIP (first address of SERVICE_CIDR)
GPU_RESOURCE = "gpu.intel.com/i915"
NODE_LABEL = ("ovms.kwok.test/managed", "true")  # KWOK manages the nodes carrying this label

# KWOK failure convention, see kwok-stages.yaml and README: set this pod label to make KWOK keep the pod
# Running but never Ready ("notready"), or crash its container over and over ("crash").
FAIL_LABEL = "kwok.ovms.test/fail"
READY_DELAY_ANNOTATION = "kwok.ovms.test/ready-delay"  # e.g. "3s": the pod turns Ready that much later

NODES = [
    {"name": "kwok-node-0", "ip": "198.18.3.1", "pod_cidr": "198.18.0.0/24",
     "capacity": {"cpu": "16", "memory": "64Gi", "pods": "250"}, "labels": {}},
    {"name": "kwok-node-1", "ip": "198.18.3.2", "pod_cidr": "198.18.1.0/24",
     "capacity": {"cpu": "16", "memory": "64Gi", "pods": "250", GPU_RESOURCE: "2"},
     "labels": {"intel.feature.node.kubernetes.io/gpu": "true"}},
]

AUDIT_POLICY = """\
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
  - level: Metadata
"""


class ClusterError(RuntimeError):
    pass


log = build.log


def default_run_dir(name: str = "default") -> Path:
    return build.cache_root() / "clusters" / name


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def kubeconfig_text(server: str, ca: Path, cert: Path, key: Path, user: str, cluster: str = "ovms-local") -> str:
    return f"""\
apiVersion: v1
kind: Config
clusters:
  - name: {cluster}
    cluster:
      server: {server}
      certificate-authority: {ca}
users:
  - name: {user}
    user:
      client-certificate: {cert}
      client-key: {key}
contexts:
  - name: {cluster}
    context:
      cluster: {cluster}
      user: {user}
      namespace: default
current-context: {cluster}
"""


def node_manifest(node: dict) -> dict:
    capacity = dict(node["capacity"])
    labels = {
        "kubernetes.io/hostname": node["name"], "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64",
        "type": "kwok", NODE_LABEL[0]: NODE_LABEL[1], **node["labels"],
    }
    return {
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": node["name"], "labels": labels, "annotations": {"kwok.x-k8s.io/node": "fake"}},
        "spec": {"podCIDR": node["pod_cidr"], "podCIDRs": [node["pod_cidr"]]},
        "status": {
            "capacity": capacity, "allocatable": capacity,
            "addresses": [{"type": "InternalIP", "address": node["ip"]},
                          {"type": "Hostname", "address": node["name"]}],
            "nodeInfo": {"architecture": "amd64", "operatingSystem": "linux",
                         "kubeletVersion": f"{versions.KUBERNETES_VERSION}-kwok",
                         "kubeProxyVersion": "", "containerRuntimeVersion": "kwok",
                         "kernelVersion": "", "osImage": "kwok", "machineID": "", "systemUUID": "",
                         "bootID": ""},
        },
    }


class Api:
    """Just enough of an HTTPS client for bring-up checks (the tests use the kubernetes library)."""

    def __init__(self, port: int, ca: Path, cert: Path, key: Path):
        self.port = port
        self.ctx = ssl.create_default_context(cafile=str(ca))
        self.ctx.load_cert_chain(str(cert), str(key))

    def request(self, method: str, path: str, body=None, timeout: float = 10.0):
        conn = http.client.HTTPSConnection("127.0.0.1", self.port, context=self.ctx, timeout=timeout)
        try:
            headers = {"Content-Type": "application/json"} if body is not None else {}
            conn.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
            resp = conn.getresponse()
            data = resp.read()
            return resp.status, data
        finally:
            conn.close()

    def json(self, method: str, path: str, body=None):
        status, data = self.request(method, path, body)
        if status >= 300:
            raise ClusterError(f"{method} {path}: HTTP {status}: {data[:300]!r}")
        return json.loads(data)


@dataclass
class Cluster:
    run_dir: Path
    ports: dict = field(default_factory=dict)
    pids: dict = field(default_factory=dict)      # component -> pid, in start order
    binaries: dict = field(default_factory=dict)  # component -> path
    # the processes this object started itself: liveness comes from the Popen, not from /proc, because between
    # fork and exec a child's /proc/<pid>/cmdline is still its parent's
    procs: dict = field(default_factory=dict, repr=False)
    commands: dict = field(default_factory=dict, repr=False)  # component -> (args, env): what restart() runs again
    slot: int = 0                                 # its address slot (slots.py): pod range, node IPs, veth

    @property
    def addresses(self) -> slots.Slot:
        return slots.Slot(self.slot)

    @property
    def nodes(self) -> list[dict]:
        """NODES with this cluster's addresses."""
        return self.addresses.nodes(NODES)

    @property
    def kubeconfig(self) -> Path:
        return self.run_dir / "kubeconfig"

    @property
    def server(self) -> str:
        return f"https://127.0.0.1:{self.ports['apiserver']}"

    @property
    def state_file(self) -> Path:
        return self.run_dir / "state.json"

    def api(self) -> Api:
        p = self.run_dir / "pki"
        return Api(self.ports["apiserver"], p / "ca.crt", p / "admin.crt", p / "admin.key")

    def save(self) -> None:
        self.state_file.write_text(json.dumps({
            "ports": self.ports, "pids": self.pids, "binaries": {k: str(v) for k, v in self.binaries.items()},
            "kubeconfig": str(self.kubeconfig), "server": self.server, "slot": self.slot,
            "pod_network": self.addresses.pod_network,
            "versions": {"kubernetes": versions.KUBERNETES_VERSION, "etcd": versions.ETCD_VERSION,
                         "kwok": versions.KWOK_VERSION},
        }, indent=2), encoding="utf-8")

    @classmethod
    def load(cls, run_dir: Path) -> "Cluster":
        state = json.loads((run_dir / "state.json").read_text(encoding="utf-8"))
        return cls(run_dir=run_dir, ports=state["ports"], pids=state["pids"],
                   binaries={k: Path(v) for k, v in state["binaries"].items()}, slot=state.get("slot", 0))

    # -- processes ---------------------------------------------------------------------------------
    def _start(self, component: str, args: list[str], env: dict | None = None) -> None:
        binary = self.binaries[component]
        logfile = open(self.run_dir / "logs" / f"{component}.log", "ab")
        proc = subprocess.Popen([str(binary)] + args, stdout=logfile, stderr=subprocess.STDOUT,
                                env=dict(os.environ, **(env or {})),
                                stdin=subprocess.DEVNULL, cwd=self.run_dir, start_new_session=True)
        logfile.close()
        self.pids[component] = proc.pid
        self.procs[component] = proc
        self.commands[component] = (args, env)
        self.save()

    def _alive(self, component: str) -> bool:
        if component in self.procs:
            return self.procs[component].poll() is None
        pid = self.pids.get(component)
        if not pid:
            return False
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            return False
        # a zombie is not alive; a recycled PID running another program is not ours
        return stat.rsplit(")", 1)[1].split()[0] != "Z" and cmdline[0] == str(self.binaries[component]).encode()

    def _exit_status(self, component: str) -> str:
        proc = self.procs.get(component)
        return f" with status {proc.returncode}" if proc is not None and proc.returncode is not None else ""

    def log_tail(self, component: str, lines: int = 20) -> str:
        try:
            text = (self.run_dir / "logs" / f"{component}.log").read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def _wait(self, what: str, component: str, check, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            if not self._alive(component):
                time.sleep(0.5)  # let its last words reach the log
                raise ClusterError(f"{component} exited{self._exit_status(component)} while waiting for {what}; "
                                   f"last log lines "
                                   f"({self.run_dir}/logs/{component}.log):\n{self.log_tail(component)}")
            try:
                if check():
                    return
            except (OSError, ClusterError, http.client.HTTPException, ValueError) as exc:
                last = exc
            time.sleep(0.2)
        raise ClusterError(f"timed out after {timeout:.0f} s waiting for {what} ({last}); last log lines of "
                           f"{component}:\n{self.log_tail(component)}")

    # -- bring-up ----------------------------------------------------------------------------------
    def start(self, timeout: float = 120.0) -> None:
        # every `up` starts a fresh cluster: no data or PKI from an earlier run is reused
        for d in ("etcd", "pki", "kwok"):
            shutil.rmtree(self.run_dir / d, ignore_errors=True)
        for d in ("logs", "etcd", "kwok"):
            (self.run_dir / d).mkdir(parents=True, exist_ok=True)
        self.ports = {k: free_port() for k in ("etcd", "etcd_peer", "apiserver", "controller_manager",
                                                 "scheduler")}
        paths = pki.generate(self.run_dir / "pki", SERVICE_IP)
        for comp in ("admin", "kube-controller-manager", "kube-scheduler", "kwok"):
            name = "kubeconfig" if comp == "admin" else f"{comp}.kubeconfig"
            (self.run_dir / name).write_text(kubeconfig_text(
                self.server, paths["ca.crt"], paths[f"{comp}.crt"], paths[f"{comp}.key"], comp))
            (self.run_dir / name).chmod(0o600)
        (self.run_dir / "audit-policy.yaml").write_text(AUDIT_POLICY)
        self.save()
        t0 = time.monotonic()
        etcd_url = f"http://127.0.0.1:{self.ports['etcd']}"
        peer_url = f"http://127.0.0.1:{self.ports['etcd_peer']}"
        self._start("etcd", [
            "--name=local", f"--data-dir={self.run_dir / 'etcd'}",
            f"--listen-client-urls={etcd_url}", f"--advertise-client-urls={etcd_url}",
            f"--listen-peer-urls={peer_url}", f"--initial-advertise-peer-urls={peer_url}",
            f"--initial-cluster=local={peer_url}", "--initial-cluster-state=new",
            "--unsafe-no-fsync=true", "--quota-backend-bytes=4294967296", "--log-level=warn",
        ])

        def etcd_healthy():
            conn = http.client.HTTPConnection("127.0.0.1", self.ports["etcd"], timeout=2)
            try:
                conn.request("GET", "/health")
                return conn.getresponse().status == 200
            finally:
                conn.close()
        self._wait("etcd /health", "etcd", etcd_healthy, timeout)

        pk = self.run_dir / "pki"
        self._start("kube-apiserver", [
            f"--etcd-servers={etcd_url}",
            "--bind-address=127.0.0.1", "--advertise-address=127.0.0.1",
            f"--secure-port={self.ports['apiserver']}",
            f"--tls-cert-file={pk / 'apiserver.crt'}", f"--tls-private-key-file={pk / 'apiserver.key'}",
            f"--client-ca-file={pk / 'ca.crt'}",
            "--authorization-mode=Node,RBAC",
            "--enable-admission-plugins=NodeRestriction",  # added to the default set (ServiceAccount, ...)
            "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
            f"--service-account-key-file={pk / 'sa.pub'}", f"--service-account-signing-key-file={pk / 'sa.key'}",
            f"--service-cluster-ip-range={SERVICE_CIDR}",
            "--allow-privileged=true", "--profiling=false",
            "--endpoint-reconciler-type=none",  # the `kubernetes` Service would point at 127.0.0.1
            f"--audit-policy-file={self.run_dir / 'audit-policy.yaml'}",
            f"--audit-log-path={self.run_dir / 'logs' / 'audit.log'}",
            "--audit-log-maxsize=200", "--audit-log-maxbackup=1",
        ])
        api = self.api()
        self._wait("kube-apiserver /readyz", "kube-apiserver",
                   lambda: api.request("GET", "/readyz")[0] == 200, timeout)

        common = ["--bind-address=127.0.0.1", "--leader-elect=false"]
        self._start("kube-controller-manager", common + [
            f"--kubeconfig={self.run_dir / 'kube-controller-manager.kubeconfig'}",
            f"--authentication-kubeconfig={self.run_dir / 'kube-controller-manager.kubeconfig'}",
            f"--authorization-kubeconfig={self.run_dir / 'kube-controller-manager.kubeconfig'}",
            f"--secure-port={self.ports['controller_manager']}",
            f"--service-account-private-key-file={pk / 'sa.key'}", f"--root-ca-file={pk / 'ca.crt'}",
            "--use-service-account-credentials=true",
            f"--cluster-signing-cert-file={pk / 'ca.crt'}", f"--cluster-signing-key-file={pk / 'ca.key'}",
            f"--service-cluster-ip-range={SERVICE_CIDR}",
            "--controllers=*,-nodeipam",  # nodes are created with their podCIDR already set
            "--concurrent-deployment-syncs=10", "--concurrent-replicaset-syncs=10",
        ])
        self._start("kube-scheduler", common + [
            f"--kubeconfig={self.run_dir / 'kube-scheduler.kubeconfig'}",
            f"--authentication-kubeconfig={self.run_dir / 'kube-scheduler.kubeconfig'}",
            f"--authorization-kubeconfig={self.run_dir / 'kube-scheduler.kubeconfig'}",
            f"--secure-port={self.ports['scheduler']}",
        ])
        for node in self.nodes:
            status, body = api.request("POST", "/api/v1/nodes", node_manifest(node))
            if status not in (201, 409):
                raise ClusterError(f"creating node {node['name']}: HTTP {status}: {body[:300]!r}")
        self._start("kwok", [
            f"--kubeconfig={self.run_dir / 'kwok.kubeconfig'}",
            f"--config={KWOK_STAGES}",
            "--manage-all-nodes=false",
            f"--manage-nodes-with-label-selector={NODE_LABEL[0]}={NODE_LABEL[1]}",
            # no --server-address/--node-port: KWOK then opens no listening socket at all
            f"--cidr={self.addresses.kwok_fallback_cidr}",
        ], env={"KWOK_WORKDIR": str(self.run_dir / "kwok")})
        names = {n["name"] for n in self.nodes}

        def nodes_ready():
            items = api.json("GET", "/api/v1/nodes")["items"]
            ready = {n["metadata"]["name"] for n in items
                     if any(c["type"] == "Ready" and c["status"] == "True"
                            for c in n.get("status", {}).get("conditions", []))}
            return names <= ready
        self._wait("Ready nodes", "kwok", nodes_ready, timeout)
        # pods can only be created once the namespace's default ServiceAccount exists
        self._wait("the default ServiceAccount", "kube-controller-manager",
                   lambda: api.request("GET", "/api/v1/namespaces/default/serviceaccounts/default")[0] == 200,
                   timeout)
        for comp in ("kube-controller-manager", "kube-scheduler"):
            if not self._alive(comp):
                raise ClusterError(f"{comp} exited during start-up:\n{self.log_tail(comp)}")
        self.started_in = time.monotonic() - t0

    def stop(self, timeout: float = 15.0) -> list[str]:
        """Stop exactly the processes this cluster started (by PID, checking the PID is still ours)."""
        stopped = []
        for comp in reversed(list(self.pids)):
            if self.stop_component(comp, timeout=timeout):
                stopped.append(f"{comp} (pid {self.pids[comp]})")
        return stopped

    def stop_component(self, comp: str, timeout: float = 15.0, kill: bool = False) -> bool:
        """Stop one component (SIGTERM, then SIGKILL after timeout; SIGKILL at once with kill). False if it was
        not running."""
        if not self._alive(comp):
            return False
        pid = self.pids[comp]
        os.kill(pid, signal.SIGKILL if kill else signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while self._alive(comp) and time.monotonic() < deadline:
            _reap(pid)
            time.sleep(0.1)
        if self._alive(comp):
            os.kill(pid, signal.SIGKILL)
        _reap(pid)
        return True

    def restart_component(self, comp: str, timeout: float = 120.0) -> None:
        """Start a stopped component again with the same arguments, keeping its data (etcd's data dir, so the
        cluster's objects survive), and wait until it serves again: a fault test's API server outage."""
        if comp not in self.commands:
            raise ClusterError(f"{comp} was not started by this process: cannot restart it in place")
        if self._alive(comp):
            raise ClusterError(f"{comp} is still running")
        args, env = self.commands[comp]
        self._start(comp, args, env)
        if comp == "kube-apiserver":
            api = self.api()
            self._wait("kube-apiserver /readyz", comp, lambda: api.request("GET", "/readyz")[0] == 200, timeout)
            self.wait_controllers(timeout)

    def wait_controllers(self, timeout: float = 120.0) -> None:
        """Wait until the controllers act again (their watches resume with a backoff after an API server restart):
        a fresh namespace gets its default ServiceAccount."""
        api = self.api()
        probe = f"probe-{int(time.time() * 1000) % 10**9}"
        api.request("POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": probe}})
        self._wait("the controllers after a restart", "kube-controller-manager",
                   lambda: api.request("GET", f"/api/v1/namespaces/{probe}/serviceaccounts/default")[0] == 200, timeout)
        api.request("DELETE", f"/api/v1/namespaces/{probe}")

    def running(self) -> bool:
        return bool(self.pids) and all(self._alive(c) for c in self.pids)


def _reap(pid: int) -> None:
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def up(run_dir: Path | None = None, bin_dir=None, timeout: float = 120.0, quiet: bool = False) -> Cluster:
    """Bring a cluster up in run_dir (reusing it when it is already running) and return it."""
    run_dir = Path(run_dir or default_run_dir()).resolve()
    if (run_dir / "state.json").exists():
        existing = Cluster.load(run_dir)
        if existing.running():
            if not quiet:
                log(f"cluster in {run_dir} is already running ({existing.server})")
            return existing
        existing.stop()
    run_dir.mkdir(parents=True, exist_ok=True)
    from . import podnet  # imports this module

    if not podnet.ensure_blackhole() and not quiet:
        log(f"warning: could not blackhole {NETWORK} (needs root and iproute2): traffic to a pod IP would follow "
            f"the default route; do not use the API server's service proxy on this cluster")
    binaries = build.ensure_binaries(bin_dir)
    cluster = Cluster(run_dir=run_dir, slot=slots.claim(run_dir, routed=podnet.routed_elsewhere).index)
    cluster.binaries = {
        "etcd": binaries["etcd"], "kube-apiserver": binaries["kube-apiserver"],
        "kube-controller-manager": binaries["kube-controller-manager"],
        "kube-scheduler": binaries["kube-scheduler"], "kwok": binaries["kwok"],
    }
    try:
        cluster.start(timeout=timeout)
    except BaseException:
        cluster.stop()
        slots.release(run_dir)
        raise
    if not quiet:
        log(f"cluster up in {cluster.started_in:.1f} s: Kubernetes {versions.KUBERNETES_VERSION}, "
            f"etcd {versions.ETCD_VERSION}, KWOK {versions.KWOK_VERSION}, nodes "
            f"{', '.join(n['name'] for n in NODES)} (simulated by KWOK), pods in {cluster.addresses.pod_network} "
            f"(address slot {cluster.slot})")
        log(f"API server {cluster.server}; logs in {run_dir / 'logs'}")
        log(f"use it:  export KUBECONFIG={cluster.kubeconfig}")
    return cluster


def down(run_dir: Path | None = None) -> list[str]:
    from . import podnet  # imports this module

    run_dir = Path(run_dir or default_run_dir()).resolve()
    stopped = podnet.down(run_dir)
    if (run_dir / "state.json").exists():
        stopped = Cluster.load(run_dir).stop() + stopped
    slots.release(run_dir)
    return stopped
