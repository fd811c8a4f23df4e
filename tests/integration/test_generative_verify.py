"""Verification of generative servables end to end (issue 13): an LLM server with a model volume (PVC) and a Hugging
Face token Secret is applied by the role, its pods become ready (KWOK), /v1/config is waited for while the servables
load, then the smallest real request per task goes through the API server's service proxy to the OVMS stand-in (a
TEST DOUBLE in the pod network namespace) and its answer's shape is checked. A servable that fails to load and an
answer of the wrong shape each fail the role naming the model, the step and OVMS's error; the token appears in no
output. Classic models get a KServe v2 inference of a zero tensor on request (modelserver_smoke: true)."""
from __future__ import annotations

import base64
import json
import uuid

import pytest
from kubernetes import client

from ansible_runner import run_playbook, task_results
from conftest import wait_for
from localcluster import podnet
from test_modelserver_module import audit_events, audit_offset
from test_role import failure_message
from test_secrets import Runs, hits, namespace_objects, recap

SERVABLES_ANNOTATION = "openvino.ovms/servables"
LLM = "OpenVINO/Qwen3-8B-int4-ov"                # a name with "/": sent as %2F
EMBED = "OpenVINO/bge-base-en-v1.5-fp16-ov"
RERANK = "rr"


def hf_token():
    return "hf_mrk%s" % uuid.uuid4().hex


@pytest.fixture
def prepare_volume_and_token(core, namespace):
    """What the admin prepares: the model volume's PVC (bound to a PersistentVolume made for it: the local cluster
    has no provisioner, and a pod with an unbound claim is not scheduled) and the Hugging Face token Secret."""
    made = []

    def prepare(token):
        pv = "llm-models-%s" % namespace
        core.create_persistent_volume({
            "apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": pv},
            "spec": {"capacity": {"storage": "50Gi"}, "accessModes": ["ReadWriteOnce"], "storageClassName": "",
                     "hostPath": {"path": "/nonexistent/ovms-models"}, "persistentVolumeReclaimPolicy": "Retain",
                     "claimRef": {"namespace": namespace, "name": "llm-models"}}})
        made.append(pv)
        core.create_namespaced_persistent_volume_claim(namespace, {
            "apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "llm-models"},
            "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": "", "volumeName": pv,
                     "resources": {"requests": {"storage": "50Gi"}}}})
        wait_for(lambda: core.read_namespaced_persistent_volume_claim("llm-models", namespace).status.phase == "Bound",
                 60, "the model volume's claim to be bound")
        core.create_namespaced_secret(namespace, {"apiVersion": "v1", "kind": "Secret",
                                                  "metadata": {"name": "hf-token"}, "stringData": {"token": token}})
    yield prepare
    for pv in made:
        core.delete_persistent_volume(pv)


def llm_play(namespace, models, name="llm", timeout=60, image="openvino/model_server:2026.3", **more):
    """The role on a generative server: `models` (spec.generative_models) pulled from Hugging Face into the model
    volume's existing claim, with the token from the Secret the admin made."""
    role_vars = {
        "modelserver_name": name, "modelserver_namespace": namespace, "modelserver_image_name": image,
        "modelserver_generative_models": models,
        "modelserver_huggingface": {"token_secret": {"name": "hf-token", "key": "token"}},
        "modelserver_model_volume": {"claim_name": "llm-models"},
        "modelserver_wait_timeout": timeout, "modelserver_progress_interval": 2}
    role_vars.update(more)
    return [{"hosts": "localhost", "gather_facts": False, "tasks": [{
        "name": "role under test", "ansible.builtin.include_role": {"name": "openvino.ovms.modelserver"},
        "vars": role_vars}]}]


# spec.generative_models; the servable names (the annotation's) are LLM and EMBED (their source_model, "/" included)
# and RERANK (its name)
THREE = [{"source_model": LLM, "task": "text_generation"}, {"source_model": EMBED, "task": "embeddings"},
         {"name": RERANK, "source_model": "OpenVINO/bge-reranker-base-fp16-ov", "task": "rerank"}]
SERVABLES = [{"name": LLM, "task": "text_generation"}, {"name": EMBED, "task": "embeddings"},
             {"name": RERANK, "task": "rerank"}]


@pytest.mark.parametrize("version", ["2025.4", "2026.3"])
def test_llm_embeddings_rerank_become_ready_and_pass_their_smoke_requests(version, kubeconfig, namespace, tmp_path,
                                                                          standin, local_cluster,
                                                                          prepare_volume_and_token):
    token = hf_token()
    prepare_volume_and_token(token)
    # the LLM loads for 5 s counted from the first request the stand-in sees about it: the first wait window (2 s,
    # modelserver_progress_interval) ends with it LOADING
    standin({LLM: {"task": "text_generation", "mode": "delay", "seconds": 5}, EMBED: {"task": "embeddings"},
             RERANK: {"task": "rerank"}})
    offset = audit_offset(local_cluster)
    play = llm_play(namespace, THREE, image="openvino/model_server:%s" % version)
    # then straight to the pods' REST port (modelserver_ovms_url's way): there %2F reaches OVMS as %2F
    play[0]["tasks"].append({"name": "direct info", "openvino.ovms.modelserver_info": {
        "namespace": namespace, "name": "llm", "ovms_url": podnet.probe_url(local_cluster.run_dir)}})
    out, raw = run_playbook(play, kubeconfig, tmp_path)
    assert failure_message(out) is None, failure_message(out)
    states = [r["msg"] for r in task_results(out, "Show the models' states")]
    assert any("%s (text_generation): LOADING (loading or compiling, pod up" % LLM in s for s in states), states
    final = task_results(out, "Ask OVMS")[-1]["modelservers"][0]
    assert final["servables"] == SERVABLES
    assert final["expected_models"] == [LLM, EMBED, RERANK]
    assert final["models_ok"] and final["smoke_ok"] and final["smoke_failed"] == []
    assert {m: (r["step"], r["request"], r["status"], r["ok"]) for m, r in final["smoke"].items()} == {
        LLM: ("chat completion", "POST /v3/chat/completions", 200, True),
        EMBED: ("embedding", "POST /v3/embeddings", 200, True),
        RERANK: ("rerank", "POST /v3/rerank", 200, True)}
    # through the service proxy a name holding "/" cannot reach /v2/models/<name>/ready intact (the proxy decodes %2F):
    # not asked; /v1/config and the smoke request (the name in the body) judge it. rr is asked.
    assert final["models"][LLM]["ready_endpoint"] is None and final["models"][RERANK]["ready_endpoint"] == 200
    direct = task_results(out, "direct info")[-1]["modelservers"][0]
    assert direct["models"][LLM]["ready_endpoint"] == 200 and direct["ready"], direct  # sent as %2F, matched
    assert states[-1] == ("3/3 generative servables AVAILABLE; model %s: chat completion OK; model %s: embedding OK; "
                          "model rr: rerank OK" % (LLM, EMBED))
    report = task_results(out, "Report")[-1]["msg"]
    assert "smoke requests passed: %s, %s, rr" % (LLM, EMBED) in report or \
        "smoke requests passed: %s, %s, rr" % (EMBED, LLM) in report, report
    # the API server saw the smoke requests as POSTs (create) through its service proxy, the names %2F-encoded
    proxied = [(e["verb"], e["requestURI"].split("/proxy", 1)[1]) for e in audit_events(local_cluster, offset)
               if "/proxy/" in e["requestURI"]]
    assert ("create", "/v3/chat/completions") in proxied and ("create", "/v3/embeddings") in proxied
    assert ("create", "/v3/rerank") in proxied
    assert ("get", "/v2/models/rr/ready") in proxied and not [p for v, p in proxied if "Qwen3" in p], proxied
    summary = task_results(out, "Ask OVMS")[-1]["api_requests"]
    assert summary["by_verb"].get("POST (service proxy)") == 3 and summary["writes"] == 0, summary
    assert token not in raw and base64.b64encode(token.encode()).decode() not in raw


def test_a_servable_that_fails_to_load_fails_the_role_naming_it(namespace, kubeconfig, tmp_path, standin,
                                                                 prepare_volume_and_token):
    prepare_volume_and_token(hf_token())
    standin({LLM: {"task": "text_generation", "mode": "load_error",
                   "error_message": "Could not infer model task - specify --task"}})
    out, _ = run_playbook(llm_play(namespace, THREE[:1], timeout=120), kubeconfig, tmp_path)
    msg = failure_message(out)
    assert msg and "models not AVAILABLE" in msg, msg
    assert "model %s: LOADING (error_code UNKNOWN: Could not infer model task - specify --task)" % LLM in msg, msg
    assert len(task_results(out, "Ask OVMS")) == 1, "a failed load ends the wait at once"
    assert task_results(out, "Ask OVMS")[0]["modelservers"][0]["smoke"] == {}, "no smoke request to a failed load"


def test_a_wrong_answer_shape_fails_the_role_naming_model_step_and_shape(namespace, kubeconfig, tmp_path, standin,
                                                                        prepare_volume_and_token):
    prepare_volume_and_token(hf_token())
    standin({LLM: {"task": "text_generation", "answer": "wrong_shape"}, EMBED: {"task": "embeddings"}})
    out, _ = run_playbook(llm_play(namespace, THREE[:2], timeout=120), kubeconfig, tmp_path)
    msg = failure_message(out)
    assert msg == ("%s/llm-ovms: smoke request failed: model %s: chat completion (POST /v3/chat/completions) failed: "
                   "the answer has the wrong shape: object is \"list\", expected \"chat.completion\"" % (namespace, LLM)), msg
    assert len(task_results(out, "Ask OVMS")) == 1, "a failed smoke request ends the wait at once"


def test_an_ovms_error_is_named_and_smoke_false_turns_the_step_off(namespace, kubeconfig, tmp_path, standin,
                                                                   prepare_volume_and_token):
    prepare_volume_and_token(hf_token())
    standin({RERANK: {"task": "rerank", "answer": "error", "error": "Mediapipe execution failed"}})
    out, _ = run_playbook(llm_play(namespace, THREE[2:]), kubeconfig, tmp_path)
    assert failure_message(out) == ("%s/llm-ovms: smoke request failed: model rr: rerank (POST /v3/rerank) failed: "
                                    "HTTP 500: Mediapipe execution failed" % namespace), failure_message(out)
    # the same server with the smoke step turned off (a string, as -e gives it): verified, no POST sent
    out, _ = run_playbook(llm_play(namespace, THREE[2:]), kubeconfig, tmp_path,
                          extra_args=["-e", "modelserver_smoke=false"])
    assert failure_message(out) is None, failure_message(out)
    final = task_results(out, "Ask OVMS")[-1]["modelservers"][0]
    assert final["smoke"] == {} and final["models_ok"] and "POST (service proxy)" not in \
        task_results(out, "Ask OVMS")[-1]["api_requests"]["by_verb"]


def test_classic_models_get_a_zero_tensor_inference_on_request(namespace, kubeconfig, tmp_path, standin):
    standin({"clsok": {"mode": "available"},
             "clsbad": {"mode": "available", "answer": "wrong_shape"}})
    play = [{"hosts": "localhost", "gather_facts": False, "tasks": [
        {"name": "apply %s" % m, "openvino.ovms.modelserver": {
            "name": m, "namespace": namespace, "models_settings": {"model_name": m, "model_path": "gs://b/%s" % m}}}
        for m in ("clsok", "clsbad")] + [
        {"name": "info %s" % m, "openvino.ovms.modelserver_info": {
            "namespace": namespace, "name": m, "wait": "models", "wait_window": 60, "smoke": smoke}}
        for m, smoke in (("clsok", "true"), ("clsbad", True), ("clsbad", "auto"))]}]
    out, _ = run_playbook(play, kubeconfig, tmp_path)
    ok, bad, auto = [r["modelservers"][0] for r in task_results(out, "info ")]
    assert ok["ready"] and ok["smoke"]["clsok"]["ok"] and ok["smoke"]["clsok"]["status"] == 200, ok
    assert ok["smoke"]["clsok"]["request"] == "POST /v2/models/clsok/infer"
    assert not bad["ready"] and bad["smoke_failed"] == ["clsbad"]
    assert bad["failure"] == ("model clsbad: KServe v2 inference (POST /v2/models/clsbad/infer) failed: the answer "
                              "has the wrong shape: outputs is [], expected a non-empty list")
    assert auto["ready"] and auto["smoke"] == {}, "auto: no inference for a classic model"


def test_no_token_in_any_output(api_client, core, namespace, kubeconfig, tmp_path, standin,
                                prepare_volume_and_token):
    """The same grep as test_secrets.py: the role's runs (ready and smoke passed, failed load, wrong shape) at -vvv
    with the default callback, and every object in the namespace except Secrets, searched for the token and its
    base64 form."""
    token = hf_token()
    needle_map = {"hf_token": token, "hf_token (base64)": base64.b64encode(token.encode()).decode()}
    prepare_volume_and_token(token)
    standin({LLM: {"task": "text_generation"}, EMBED: {"task": "embeddings", "answer": "wrong_shape"},
             "gen-broken": {"task": "rerank", "mode": "load_error"}})
    run = Runs(kubeconfig, tmp_path)
    for label, servables in (("ready", THREE[:1]), ("wrong-shape", THREE[:2]),
                             ("load-error", [{"name": "gen-broken", "source_model": "OpenVINO/x", "task": "rerank"}])):
        play = tmp_path / ("%s.yml" % label)
        play.write_text(json.dumps(llm_play(namespace, servables, timeout=30)))
        run(label, play)
    assert recap(run.outputs["ready"])["failed"] == 0, run.outputs["ready"][-3000:]
    assert "chat completion OK" in run.outputs["ready"]
    assert recap(run.outputs["wrong-shape"])["failed"] == 1 and "wrong shape" in run.outputs["wrong-shape"]
    assert recap(run.outputs["load-error"])["failed"] == 1 and "model gen-broken: LOADING" in run.outputs["load-error"]
    # the search is not blind: the token is in the cluster, in the Secret (which is not searched)
    secret = core.read_namespaced_secret("hf-token", namespace)
    assert hits(json.dumps(secret.to_dict(), default=str), needle_map)
    dep = client.AppsV1Api(api_client).read_namespaced_deployment("llm-ovms", namespace)
    env = dict((e.name, e) for e in dep.spec.template.spec.containers[0].env)
    assert env["HF_TOKEN"].value_from.secret_key_ref.name == "hf-token" and env["HF_TOKEN"].value is None
    searched = dict(("output of %s" % k, v) for k, v in run.outputs.items())
    for kind, items in namespace_objects(api_client, namespace).items():
        searched[kind] = json.dumps(items, default=str)
    found = dict((where, hits(text, needle_map)) for where, text in searched.items())
    found = dict((k, v) for k, v in found.items() if v)
    print("token grep: %d places searched (%d ansible-playbook runs at -vvv, %d kinds of objects), %d needles, %d hits"
          % (len(searched), len(run.outputs), len(searched) - len(run.outputs), len(needle_map),
             sum(n for v in found.values() for n in v.values())))
    assert found == {}, found
