"""Drift that server-side apply cannot see: fields another client added to our objects (owned by that client
alone). The real kubectl adds them (`set env`, `annotate`, `rollout restart`); check mode reports them with the
field manager's name and changes nothing; a real run removes them; ignore_differences and the documented defaults
leave theirs alone."""
from __future__ import annotations

import os
import subprocess

import pytest
from kubernetes import client

from ansible_runner import run_task
from localcluster import versions
from collection_path import cache_root

SPEC = {"models_settings": {"model_name": "ff", "model_path": "gs://bucket/ff"}}
ENV_PATH = "spec.template.spec.containers[name=ovms].env[name=NEW_VAR]"


def kubectl(kubeconfig, *args):
    binary = cache_root() / "bin" / ("kubernetes-%s" % versions.KUBERNETES_VERSION) / "kubectl"
    if os.environ.get("OVMS_CLUSTER_BIN_DIR"):
        binary = os.path.join(os.environ["OVMS_CLUSTER_BIN_DIR"], "kubectl")
    proc = subprocess.run([str(binary), "--kubeconfig", str(kubeconfig)] + list(args), capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def env_names(api_client, namespace):
    dep = client.AppsV1Api(api_client).read_namespaced_deployment("ff-ovms", namespace)
    return [e.name for e in dep.spec.template.spec.containers[0].env or []]


def changes_of(result, kind):
    entry = next(o for o in result["objects"] if o["kind"] == kind)
    return entry["action"], dict((c["path"], (c["before"], c["after"])) for c in entry.get("changes", []))


@pytest.fixture
def server(api_client, namespace, kubeconfig, tmp_path):
    created = run_task("openvino.ovms.modelserver", dict(name="ff", namespace=namespace, **SPEC), kubeconfig, tmp_path)
    assert created["changed"] and not created.get("failed"), created.get("msg")
    return dict(name="ff", namespace=namespace, **SPEC)


def test_added_env_and_annotation_are_reported_then_removed(server, api_client, namespace, kubeconfig, tmp_path):
    kubectl(kubeconfig, "-n", namespace, "set", "env", "deployment/ff-ovms", "NEW_VAR=1")
    kubectl(kubeconfig, "-n", namespace, "annotate", "service/ff-ovms", "team=vision")
    check = run_task("openvino.ovms.modelserver", server, kubeconfig, tmp_path, check=True, diff=True)
    assert check["changed"] and not check.get("failed"), check.get("msg")
    action, changes = changes_of(check, "Deployment")
    assert action == "updated" and changes[ENV_PATH] == ({"name": "NEW_VAR", "value": "1"}, None)
    action, changes = changes_of(check, "Service")
    assert action == "updated" and changes["metadata.annotations.team"] == ("vision", None)
    warned = " ".join(check.get("warnings", []))
    assert 'would remove fields added outside this collection: %s (field manager "kubectl-set", Update)' % ENV_PATH \
        in warned
    assert '"kubectl-annotate"' in warned
    assert "NEW_VAR" in env_names(api_client, namespace), "check mode must not change anything"

    real = run_task("openvino.ovms.modelserver", server, kubeconfig, tmp_path)
    assert real["changed"] and not real.get("failed"), real.get("msg")
    assert "NEW_VAR" not in env_names(api_client, namespace)
    service = client.CoreV1Api(api_client).read_namespaced_service("ff-ovms", namespace)
    assert "team" not in (service.metadata.annotations or {})
    again = run_task("openvino.ovms.modelserver", server, kubeconfig, tmp_path, check=True)
    assert again["changed"] is False, again["objects"]


def test_ignored_and_default_ignored_additions_are_left_alone(server, api_client, namespace, kubeconfig, tmp_path):
    kubectl(kubeconfig, "-n", namespace, "set", "env", "deployment/ff-ovms", "NEW_VAR=1")
    kubectl(kubeconfig, "-n", namespace, "rollout", "restart", "deployment/ff-ovms")
    rules = [{"kinds": ["Deployment"], "paths": ["spec.template.spec.containers[name=ovms].env[name=NEW_VAR]"]}]
    check = run_task("openvino.ovms.modelserver", dict(server, ignore_differences=rules), kubeconfig, tmp_path,
                     check=True)
    assert check["changed"] is False, check["objects"]
    by_manager = run_task("openvino.ovms.modelserver",
                          dict(server, ignore_differences=[{"managers": ["kubectl-set"]}]), kubeconfig, tmp_path)
    assert by_manager["changed"] is False, by_manager["objects"]
    assert "NEW_VAR" in env_names(api_client, namespace)
    dep = client.AppsV1Api(api_client).read_namespaced_deployment("ff-ovms", namespace)
    assert "kubectl.kubernetes.io/restartedAt" in dep.spec.template.metadata.annotations
