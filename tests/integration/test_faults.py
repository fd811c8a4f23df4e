"""Faults mid-run, against the real control plane: the API server is killed and restarted in place (etcd keeps the
data) while the role waits, and while the module converges a fleet; and a fleet whose API server never comes back
reports each server's outcome. Every moment is driven by what the test observes (an audit-log line, the first
connection a stand-in listener accepts), never by how fast the machine is. These tests get a control plane of their
own (the fixtures below override conftest's), so that their restarts never disturb the other tests' cluster."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from kubernetes import client

from kubernetes import config

from ansible_runner import run_task
from conftest import wait_for
from conftest_paths import COLLECTIONS_DIR
from localcluster import cluster as localcluster
from test_role import FAIL_LABEL, failure_message, role_play

OUTAGE = 5.0  # seconds the API server stays down: the fault's size, not an expectation about speed


@pytest.fixture(scope="module")
def kwok_cluster(cluster_mode, tmp_path_factory):
    if cluster_mode == "existing":
        pytest.skip("restarts the local control plane's API server (OVMS_TEST_CLUSTER=existing is set)")
    run_dir = tmp_path_factory.mktemp("fault-cluster")
    c = localcluster.up(run_dir)
    try:
        yield c
    finally:
        localcluster.down(run_dir)


@pytest.fixture(scope="module")
def kubeconfig(kwok_cluster):
    return kwok_cluster.kubeconfig


@pytest.fixture(scope="module")
def api_client(kubeconfig):
    return config.new_client_from_config(config_file=str(kubeconfig))


@pytest.fixture(scope="module")
def core(api_client):
    return client.CoreV1Api(api_client)


def start_playbook(play, kubeconfig: Path, tmp_path: Path) -> subprocess.Popen:
    playbook = tmp_path / "play.yml"
    playbook.write_text(json.dumps(play))
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(COLLECTIONS_DIR), ANSIBLE_STDOUT_CALLBACK="ansible.posix.json",
               K8S_AUTH_KUBECONFIG=str(kubeconfig), ANSIBLE_LOCALHOST_WARNING="false",
               ANSIBLE_INVENTORY_UNPARSED_WARNING="false")
    cmd = [str(Path(sys.executable).parent / "ansible-playbook"), "-i", "localhost,", "-c", "local", str(playbook),
           "-e", "ansible_python_interpreter=%s" % sys.executable]
    return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(proc: subprocess.Popen) -> dict:
    stdout, stderr = proc.communicate(timeout=600)
    try:
        return json.loads(stdout)
    except ValueError:
        raise AssertionError("ansible-playbook printed no JSON (exit %d):\n%s\n%s" % (proc.returncode, stdout, stderr))


def audit_seen(cluster, predicate) -> bool:
    with open(cluster.run_dir / "logs" / "audit.log", "rb") as handle:
        return any(predicate(json.loads(line)) for line in handle.read().decode().splitlines() if line.strip())


def all_results(out):
    return [t["hosts"]["localhost"] for play in out["plays"] for t in play["tasks"]]


def test_role_survives_an_api_server_restart_while_it_waits(kwok_cluster, namespace, kubeconfig, api_client, tmp_path):
    core = client.CoreV1Api(api_client)
    # the pods stay Pending ("hold" matches no KWOK stage) until the test lets them go: the role must be waiting.
    # This cluster has no pod network (the OVMS stand-in lives on the other tests' cluster): the rollout is verified.
    play = role_play(namespace, "outage", "outage", timeout=300, pod_labels={FAIL_LABEL: "hold"})
    play[0]["tasks"][0]["vars"]["modelserver_verify"] = False
    proc = start_playbook(play, kubeconfig, tmp_path)
    try:
        wait_for(lambda: audit_seen(kwok_cluster, lambda e: e.get("verb") == "watch"
                                    and e.get("userAgent", "").startswith("openvino.ovms/")
                                    and (e.get("objectRef") or {}).get("namespace") == namespace),
                 240, "the role's watch on its Deployment")
        assert kwok_cluster.stop_component("kube-apiserver", kill=True)
        time.sleep(OUTAGE)
        kwok_cluster.restart_component("kube-apiserver")
        pods = wait_for(lambda: core.list_namespaced_pod(namespace, label_selector=FAIL_LABEL).items, 120,
                        "the held pods")
        for pod in pods:
            core.patch_namespaced_pod(pod.metadata.name, namespace,
                                      [{"op": "remove", "path": "/metadata/labels/kwok.ovms.test~1fail"}])
        out = finish(proc)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert failure_message(out) is None, failure_message(out)
    waits = [r for r in all_results(out) if "modelservers" in r and "api_requests" in r]
    assert sum(r["api_requests"].get("retries", 0) for r in waits) > 0, [r["api_requests"] for r in waits]
    assert any("outage-ovms is ready: %s/outage-ovms: 2/2 pods ready" % namespace in str(r.get("msg", ""))
               for r in all_results(out)), all_results(out)[-1]


def test_fleet_converge_survives_a_dropped_connection_and_an_api_server_restart(kwok_cluster, namespace, kubeconfig,
                                                                               api_client, tmp_path):
    servers = [{"apiVersion": "intel.com/v1alpha1", "kind": "ModelServer",
                "metadata": {"name": "f%02d" % i, "namespace": namespace},
                "spec": {"models_settings": {"model_name": "m", "model_path": "gs://bucket/m%d" % i}}}
               for i in range(12)]
    port = kwok_cluster.ports["apiserver"]
    assert kwok_cluster.stop_component("kube-apiserver", kill=True)
    # a stand-in listener on the API server's port takes the module's first connection and drops it
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", port))
    listener.listen(16)
    listener.settimeout(240)
    play = [{"hosts": "localhost", "gather_facts": False, "tasks": [
        {"name": "fleet", "openvino.ovms.modelserver": {"servers": servers}}]}]
    proc = start_playbook(play, kubeconfig, tmp_path)
    try:
        conn, _ = listener.accept()
        conn.close()
        listener.close()
        time.sleep(OUTAGE)  # connections are refused meanwhile
        kwok_cluster.restart_component("kube-apiserver")
        out = finish(proc)
    finally:
        listener.close()
        if proc.poll() is None:
            proc.kill()
        if not kwok_cluster._alive("kube-apiserver"):
            kwok_cluster.restart_component("kube-apiserver")
    result = out["plays"][0]["tasks"][0]["hosts"]["localhost"]
    assert not result.get("failed"), result.get("msg")
    assert result["api_requests"]["retries"] >= 1
    assert [r["outcome"] for r in result["results"]] == ["applied"] * 12
    deployments = client.AppsV1Api(api_client).list_namespaced_deployment(namespace).items
    assert len(deployments) == 12
    again = run_task("openvino.ovms.modelserver", {"servers": servers}, kubeconfig, tmp_path)
    assert again.get("changed") is False and again["api_requests"]["retries"] == 0


def test_fleet_reports_each_server_when_the_api_server_is_gone(kwok_cluster, namespace, kubeconfig, tmp_path):
    servers = [{"apiVersion": "intel.com/v1alpha1", "kind": "ModelServer",
                "metadata": {"name": "g%d" % i, "namespace": namespace},
                "spec": {"models_settings": {"model_name": "m", "model_path": "gs://bucket/m"}}} for i in range(3)]
    assert kwok_cluster.stop_component("kube-apiserver", kill=True)
    try:
        result = run_task("openvino.ovms.modelserver", {"servers": servers}, kubeconfig, tmp_path)
    finally:
        kwok_cluster.restart_component("kube-apiserver")
    assert result.get("failed")
    assert [r["outcome"] for r in result["results"]] == ["not attempted"] * 3
    assert all("the Kubernetes API server did not answer" in r["msg"] for r in result["results"])
    assert result["msg"].startswith("3 of 3 model servers failed: ")
