"""Generative serving against the real API server: an LLM pulled from Hugging Face, with a model volume the module
creates (a PersistentVolumeClaim) and a token from the user's Secret, rendered for an OVMS 2025.4 and a 2026.3
image, applied by the module (server-side apply), bound, Ready (KWOK), idempotent, without drift; and the token
appears in no output of any run (-vvv) and in no object of the namespace except its Secret (the grep of
test_secrets.py)."""
from __future__ import annotations

import base64
import json
import uuid

import pytest
import yaml
from kubernetes import client

from conftest import wait_for
from test_secrets import Runs, hits, namespace_objects, recap

LLM = {"name": "qwen", "source_model": "OpenVINO/Qwen3-8B-int4-ov", "task": "text_generation",
       "task_settings": {"max_num_seqs": 8, "enable_prefix_caching": True, "cache_size": 2, "tool_parser": "hermes3"}}
EMBEDDINGS = {"source_model": "OpenVINO/bge-base-en-v1.5-fp16-ov", "task": "embeddings"}
RERANK = {"source_model": "OpenVINO/bge-reranker-base-fp16-ov", "task": "rerank"}


def server(namespace, image, storage_class, models=(LLM,)):
    return {"apiVersion": "intel.com/v1alpha1", "kind": "ModelServer", "metadata": {"name": "llm", "namespace": namespace},
            "spec": {"image_name": image, "generative_models": list(models),
                     "huggingface": {"token_secret": {"name": "hf-token", "key": "token"},
                                     "endpoint": "https://hf-mirror.example.com"},
                     "model_volume": {"size": "1Gi", "storage_class": storage_class},
                     "deployment_parameters": {"resources": {"limits": {"cpu": "2", "memory": "4Gi"}}}}}


def playbook(tmp_path, label, ms, state="present"):
    path = tmp_path / ("%s.yml" % label)
    path.write_text(yaml.safe_dump([{"hosts": "localhost", "gather_facts": False, "tasks": [
        {"name": "apply the generative server", "openvino.ovms.modelserver": {"definition": ms, "state": state},
         "register": "ovms"},
        {"name": "show the result", "ansible.builtin.debug": {"var": "ovms"}}]}]))
    return path


@pytest.fixture
def volume(core, namespace):
    """A storage class name of this test's own, and a PersistentVolume of it that the PV controller binds to the
    claim the module creates (this cluster has no provisioner); removed afterwards."""
    name = "ovms-gen-%s" % namespace
    core.create_persistent_volume({"apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": name},
                                   "spec": {"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"],
                                            "storageClassName": name, "persistentVolumeReclaimPolicy": "Retain",
                                            "hostPath": {"path": "/var/lib/ovms-test/%s" % name}}})
    yield name
    core.delete_persistent_volume(name)


@pytest.mark.parametrize("version", ["2025.4", "2026.3"])
def test_llm_with_a_model_volume_and_a_token_secret_is_accepted_ready_and_leaks_no_token(
        version, api_client, core, namespace, kubeconfig, tmp_path, kwok_cluster, volume):
    image = "openvino/model_server:%s" % version
    token = "hf_mrk%s" % uuid.uuid4().hex
    needles = {"token": token, "token (base64)": base64.b64encode(token.encode()).decode()}
    core.create_namespaced_secret(namespace, {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "hf-token"},
                                              "stringData": {"token": token}})
    apps = client.AppsV1Api(api_client)
    run = Runs(kubeconfig, tmp_path)
    ms = server(namespace, image, volume)

    proc = run("deploy", playbook(tmp_path, "deploy", ms), None, "--diff")
    assert proc.returncode == 0, run.outputs["deploy"][-4000:]
    assert recap(run.outputs["deploy"])["changed"] == 1

    # what the API server stored: the args of this release, the claim, the token only as a secretKeyRef
    dep = apps.read_namespaced_deployment("llm-ovms", namespace).to_dict()
    c = dep["spec"]["template"]["spec"]["containers"][0]
    assert c["args"] == [
        "--log_level=INFO", "--file_system_poll_wait_seconds=1", "--grpc_workers=1", "--port=8080",
        "--rest_port=8081", "--source_model=OpenVINO/Qwen3-8B-int4-ov", "--model_name=qwen",
        "--model_repository_path=/models", "--target_device=CPU", "--task=text_generation", "--max_num_seqs=8",
        "--enable_prefix_caching=true", "--cache_size=2", "--tool_parser=hermes3"]
    assert dep["metadata"]["annotations"]["openvino.ovms/ovms-version"] == version
    assert json.loads(dep["metadata"]["annotations"]["openvino.ovms/servables"]) == [
        {"name": "qwen", "task": "text_generation"}]
    env = dict((e["name"], e) for e in c["env"])
    assert env["HF_TOKEN"]["value"] is None
    assert env["HF_TOKEN"]["value_from"]["secret_key_ref"] == {"name": "hf-token", "key": "token", "optional": None}
    assert dep["spec"]["template"]["spec"]["security_context"]["fs_group"] == 5000
    assert c["startup_probe"]["http_get"]["path"] == "/v2/health/ready"
    assert c["startup_probe"]["failure_threshold"] == 180
    wait_for(lambda: core.read_namespaced_persistent_volume_claim("llm-ovms-models", namespace).status.phase
             == "Bound", 60, "the model volume claim to be bound")
    wait_for(lambda: (apps.read_namespaced_deployment("llm-ovms", namespace).status.ready_replicas or 0) == 1, 90,
             "the LLM server's pod to be Ready")

    # again: nothing to do; and check mode reports no drift (the PV controller's fields on the claim are not ours)
    proc = run("again", playbook(tmp_path, "again", ms), None, "--diff")
    assert proc.returncode == 0, run.outputs["again"][-4000:]
    assert recap(run.outputs["again"])["changed"] == 0, run.outputs["again"][-4000:]
    proc = run("check", playbook(tmp_path, "check", ms), None, "--check", "--diff")
    assert recap(run.outputs["check"])["changed"] == 0, run.outputs["check"][-4000:]

    # three models in one server: init containers pull, the server serves the generated model_config_list
    three = server(namespace, image, volume, (LLM, EMBEDDINGS, RERANK))
    proc = run("three", playbook(tmp_path, "three", three), None, "--diff")
    assert proc.returncode == 0, run.outputs["three"][-4000:]
    dep = apps.read_namespaced_deployment("llm-ovms", namespace).to_dict()
    assert [i["name"] for i in dep["spec"]["template"]["spec"]["init_containers"]] == ["pull-0", "pull-1", "pull-2"]
    config = json.loads(core.read_namespaced_config_map("llm-ovms-config", namespace).data["config.json"])
    assert [e["config"]["name"] for e in config["model_config_list"]] == [
        "qwen", "OpenVINO/bge-base-en-v1.5-fp16-ov", "OpenVINO/bge-reranker-base-fp16-ov"]
    wait_for(lambda: (apps.read_namespaced_deployment("llm-ovms", namespace).status.updated_replicas or 0) == 1
             and (apps.read_namespaced_deployment("llm-ovms", namespace).status.ready_replicas or 0) == 1
             and not apps.read_namespaced_deployment("llm-ovms", namespace).status.unavailable_replicas,
             90, "the three-model server's pod to be Ready")
    objects_before = namespace_objects(api_client, namespace)

    proc = run("absent", playbook(tmp_path, "absent", three, state="absent"))
    assert proc.returncode == 0, run.outputs["absent"][-4000:]
    wait_for(lambda: not core.list_namespaced_persistent_volume_claim(namespace).items, 60,
             "the claim the module created to be deleted")
    objects_after = namespace_objects(api_client, namespace)

    # the search is not blind: the token is in the cluster, in its Secret (which is not searched)
    secret = core.read_namespaced_secret("hf-token", namespace).to_dict()
    assert hits(json.dumps(secret, default=str), needles)
    searched = dict(("output of %s" % k, v) for k, v in run.outputs.items())
    for when, objects in (("before state=absent", objects_before), ("after", objects_after)):
        for kind, items in objects.items():
            searched["%s %s" % (kind, when)] = json.dumps(items, default=str)
    found = dict((where, hits(text, needles)) for where, text in searched.items())
    found = dict((k, v) for k, v in found.items() if v)
    print("token grep (OVMS %s): %d places searched (%d runs at -vvv, %d kinds of objects), %d hits"
          % (version, len(searched), len(run.outputs), len(objects_before), sum(n for v in found.values()
                                                                                for n in v.values())))
    assert found == {}
