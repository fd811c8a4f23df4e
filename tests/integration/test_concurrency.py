"""Two runs on one model server at once. The race that produced a false "not managed by openvino.ovms" error: run A
LISTs (nothing yet), run B creates the objects with our labels, run A then finds them existing. Reproduced exactly,
against the real API server, by handing the reconciler the stale (empty) listing run A saw; and two real module
runs started together. An object that is really someone else's is still refused, naming who it belongs to."""
from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from pathlib import Path

from kubernetes import client

from ansible_collections.openvino.ovms.plugins.module_utils import _reconcile, _render
from ansible_runner import run_task
from conftest_paths import COLLECTIONS_DIR

SPEC = {"models_settings": {"model_name": "race", "model_path": "gs://bucket/race"}}


def test_objects_created_after_our_listing_by_a_concurrent_run_are_ours(api_client, namespace, kubeconfig, tmp_path):
    first = run_task("openvino.ovms.modelserver", dict(name="race", namespace=namespace, **SPEC), kubeconfig, tmp_path)
    assert first["changed"] and not first.get("failed"), first.get("msg")
    desired = _render.manifests_for(name="race", namespace=namespace, spec=copy.deepcopy(SPEC))[0]
    rec = _reconcile.Reconciler(_reconcile.Api(api_client))
    result = rec.reconcile("race", namespace, desired, live={})  # the listing run A made before B created them
    assert not result["changed"]
    assert {o["action"] for o in result["objects"]} == {"unchanged"}


def test_someone_elses_object_is_refused_naming_its_owner(api_client, namespace, kubeconfig, tmp_path):
    other = run_task("openvino.ovms.modelserver", dict(name="alpha", namespace=namespace, **SPEC), kubeconfig, tmp_path)
    assert not other.get("failed"), other.get("msg")
    desired = _render.manifests_for(name="alpha", namespace=namespace, spec=copy.deepcopy(SPEC))[0]
    rec = _reconcile.Reconciler(_reconcile.Api(api_client))
    try:
        rec.reconcile("beta", namespace, [dict(m, metadata=dict(m["metadata"], labels=_render.owner_labels("beta")))
                                          for m in desired], live={})
    except _reconcile.ReconcileError as exc:
        assert "is not managed by openvino.ovms for beta (it belongs to the model server alpha)" in str(exc)
    else:
        raise AssertionError("an object of another model server was taken over")
    client.CoreV1Api(api_client).create_namespaced_service(namespace, {
        "metadata": {"name": "plain-ovms"}, "spec": {"ports": [{"port": 80}]}})
    refused = run_task("openvino.ovms.modelserver", dict(name="plain", namespace=namespace, **SPEC), kubeconfig,
                       tmp_path)
    assert refused.get("failed")
    assert "Service %s/plain-ovms already exists and is not managed by openvino.ovms for plain (it lacks the labels" \
        % namespace in refused["msg"]


def test_two_runs_at_once_never_fail_falsely(namespace, kubeconfig, tmp_path):
    play = tmp_path / "race.yml"
    play.write_text(json.dumps([{"hosts": "localhost", "gather_facts": False, "tasks": [
        {"name": "apply", "openvino.ovms.modelserver": dict(name="twice", namespace=namespace, **SPEC)}]}]))
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(COLLECTIONS_DIR), K8S_AUTH_KUBECONFIG=str(kubeconfig),
               ANSIBLE_LOCALHOST_WARNING="false", ANSIBLE_INVENTORY_UNPARSED_WARNING="false")
    cmd = [str(Path(sys.executable).parent / "ansible-playbook"), "-i", "localhost,", "-c", "local", str(play),
           "-e", "ansible_python_interpreter=%s" % sys.executable]
    runs = [subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            for _ in range(2)]
    outputs = [r.communicate(timeout=300)[0] for r in runs]
    for run, output in zip(runs, outputs):
        assert run.returncode == 0, output
