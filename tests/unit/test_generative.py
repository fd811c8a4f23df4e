"""Generative serving (models pulled from Hugging Face): the spec, the per-release validation and the rendering."""
import json

import pytest

from ansible_collections.openvino.ovms.plugins.module_utils import _generative, _render, _spec

from helpers import args, container, env

OLD, NEW = "openvino/model_server:2025.4", "openvino/model_server:2026.3"
LLM = {"name": "qwen", "source_model": "OpenVINO/Qwen3-8B-int4-ov", "task": "text_generation",
       "task_settings": {"max_num_seqs": 8, "enable_prefix_caching": True, "cache_size": 2, "tool_parser": "hermes3"},
       "draft_source_model": "OpenVINO/Qwen3-0.6B-int4-ov"}
EMB = {"source_model": "OpenVINO/bge-base-en-v1.5-fp16-ov", "task": "embeddings", "task_settings": {"pooling": "CLS"}}
RERANK = {"source_model": "OpenVINO/bge-reranker-base-fp16-ov", "task": "rerank"}


def spec(*models, **groups):
    out = {"image_name": NEW, "generative_models": [dict(m) for m in (models or (LLM,))],
           "huggingface": {"token_secret": {"name": "hf-token", "key": "token"}},
           "model_volume": {"size": "50Gi", "storage_class": "standard"}}
    out.update(groups)
    return out


def render(s, name="llm"):
    manifests, normalized, _, _, warnings = _render.manifests_for(name=name, namespace="ovms", spec=s)
    objs = dict((m["kind"], m) for m in manifests)
    return objs, normalized, warnings


def refused(s):
    with pytest.raises(_spec.SpecError) as err:
        _render.manifests_for(name="llm", namespace="ovms", spec=s)
    return str(err.value)


def pod_spec(objs):
    return objs["Deployment"]["spec"]["template"]["spec"]


EXPECTED_LLM_ARGS = [
    "--log_level=INFO", "--file_system_poll_wait_seconds=1", "--grpc_workers=1", "--port=8080", "--rest_port=8081",
    "--source_model=OpenVINO/Qwen3-8B-int4-ov", "--model_name=qwen", "--model_repository_path=/models",
    "--target_device=CPU", "--task=text_generation", "--draft_source_model=OpenVINO/Qwen3-0.6B-int4-ov",
    "--max_num_seqs=8", "--enable_prefix_caching=true", "--cache_size=2", "--tool_parser=hermes3"]


@pytest.mark.parametrize("image", [OLD, NEW, "openvino/model_server:2025.3", "openvino/model_server:latest"])
def test_one_llm_is_pulled_and_served_by_the_server_with_task_and_device_always_explicit(image):
    objs, _, _ = render(spec(image_name=image))
    # the same command on every release from 2025.3 on: --task and --target_device are always passed
    assert args(objs) == EXPECTED_LLM_ARGS
    assert "initContainers" not in pod_spec(objs)
    assert "ConfigMap" not in objs


def test_the_name_defaults_to_the_source_model_and_then_no_model_name_is_passed():
    objs, normalized, _ = render(spec(EMB))
    assert normalized["generative_models"][0]["name"] == "OpenVINO/bge-base-en-v1.5-fp16-ov"
    assert not any(a.startswith("--model_name") for a in args(objs))
    assert args(objs)[-3:] == ["--target_device=CPU", "--task=embeddings", "--pooling=CLS"]


def test_the_token_comes_only_from_the_users_secret_and_the_mirror_from_hf_endpoint():
    objs, _, _ = render(spec(huggingface={"token_secret": {"name": "hf-token", "key": "hf"},
                                          "endpoint": "https://hf-mirror.example.com"}))
    e = env(objs)
    assert e["HF_TOKEN"] == {"name": "HF_TOKEN", "valueFrom": {"secretKeyRef": {"name": "hf-token", "key": "hf"}}}
    assert e["HF_ENDPOINT"] == {"name": "HF_ENDPOINT", "value": "https://hf-mirror.example.com"}
    assert "Secret" not in objs  # the collection never holds the token: no Secret of its own
    assert not any("HF_TOKEN" in a or "hf-token" in a for a in args(objs))


def test_the_module_creates_the_model_volume_claim_and_mounts_it_writable_for_uid_5000():
    objs, _, _ = render(spec())
    pvc = objs["PersistentVolumeClaim"]
    assert pvc["metadata"]["name"] == "llm-ovms-models"
    assert pvc["metadata"]["labels"][_render.LABEL_MANAGED_BY] == "openvino.ovms"
    assert pvc["spec"] == {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "50Gi"}},
                           "storageClassName": "standard"}
    ps = pod_spec(objs)
    assert ps["securityContext"] == {"fsGroup": 5000, "fsGroupChangePolicy": "OnRootMismatch"}
    assert {"name": "models", "persistentVolumeClaim": {"claimName": "llm-ovms-models"}} in ps["volumes"]
    assert {"name": "models", "mountPath": "/models"} in container(objs)["volumeMounts"]  # not readOnly
    # manifests come in apply order: the claim before the Deployment that mounts it
    kinds = [m["kind"] for m in _render.manifests_for(name="llm", namespace="ovms", spec=spec())[0]]
    assert kinds.index("PersistentVolumeClaim") < kinds.index("Deployment")


def test_an_existing_claim_is_mounted_and_no_claim_is_created():
    objs, _, _ = render(spec(model_volume={"claim_name": "shared-models"}))
    assert "PersistentVolumeClaim" not in objs
    assert {"name": "models", "persistentVolumeClaim": {"claimName": "shared-models"}} in pod_spec(objs)["volumes"]


def test_without_a_model_volume_an_empty_dir_and_a_warning():
    s = spec()
    del s["model_volume"]
    objs, _, warnings = render(s)
    assert {"name": "models", "emptyDir": {}} in pod_spec(objs)["volumes"]
    assert any("downloaded into an emptyDir" in w for w in warnings)


def test_probes_give_download_and_compilation_the_startup_budget():
    objs, normalized, _ = render(spec())
    c = container(objs)
    assert normalized["deployment_parameters"]["startup_timeout_seconds"] == 1800
    assert c["startupProbe"] == {"httpGet": {"path": "/v2/health/ready", "port": "rest"}, "periodSeconds": 10,
                                 "failureThreshold": 180}
    assert c["livenessProbe"]["httpGet"]["path"] == "/v2/health/live"
    objs, _, _ = render(spec(deployment_parameters={"startup_timeout_seconds": 7200}))
    assert container(objs)["startupProbe"]["failureThreshold"] == 720
    # a classic server keeps its probe and default
    classic, normalized, _ = render({"models_settings": {"model_path": "gs://b/m"}})
    assert container(classic)["startupProbe"]["httpGet"]["path"] == "/v2/health/live"
    assert normalized["deployment_parameters"]["startup_timeout_seconds"] == 600


def test_several_models_are_pulled_by_init_containers_and_served_from_a_model_config_list():
    objs, _, _ = render(spec(LLM, EMB, RERANK))
    config = json.loads(objs["ConfigMap"]["data"]["config.json"])
    assert config == {"model_config_list": [
        {"config": {"name": "qwen", "base_path": "/models/OpenVINO/Qwen3-8B-int4-ov"}},
        {"config": {"name": "OpenVINO/bge-base-en-v1.5-fp16-ov", "base_path": "/models/OpenVINO/bge-base-en-v1.5-fp16-ov"}},
        {"config": {"name": "OpenVINO/bge-reranker-base-fp16-ov",
                    "base_path": "/models/OpenVINO/bge-reranker-base-fp16-ov"}}]}
    assert args(objs)[0] == "--config_path=/config/config.json"
    assert not any(a.startswith("--source_model") for a in args(objs))
    assert "HF_TOKEN" not in env(objs)  # the server downloads nothing: only the pulling containers get the token
    init = pod_spec(objs)["initContainers"]
    assert [c["name"] for c in init] == ["pull-0", "pull-1", "pull-2"]
    assert init[0]["args"] == ["--pull", "--source_model=OpenVINO/Qwen3-8B-int4-ov", "--model_repository_path=/models",
                               "--target_device=CPU", "--task=text_generation",
                               "--draft_source_model=OpenVINO/Qwen3-0.6B-int4-ov", "--max_num_seqs=8",
                               "--enable_prefix_caching=true", "--cache_size=2", "--tool_parser=hermes3"]
    assert init[2]["args"] == ["--pull", "--source_model=OpenVINO/bge-reranker-base-fp16-ov",
                               "--model_repository_path=/models", "--target_device=CPU", "--task=rerank"]
    for c in init:
        assert c["env"][0]["valueFrom"]["secretKeyRef"] == {"name": "hf-token", "key": "token"}
        assert c["volumeMounts"] == [{"name": "models", "mountPath": "/models"}]


def test_init_containers_get_cpu_and_memory_but_not_the_gpu():
    objs, _, _ = render(spec(LLM, EMB, deployment_parameters={"resources": {
        "limits": {"cpu": "4", "memory": "16Gi", "xpu_device": "gpu.intel.com/i915"}}}))
    assert container(objs)["resources"]["limits"] == {"cpu": "4", "memory": "16Gi", "gpu.intel.com/i915": "1"}
    assert pod_spec(objs)["initContainers"][0]["resources"] == {"limits": {"cpu": "4", "memory": "16Gi"}}


def test_the_servables_annotation_lists_every_servable_on_deployment_and_pod_template():
    objs, _, _ = render(spec(LLM, EMB))
    want = [{"name": "qwen", "task": "text_generation"},
            {"name": "OpenVINO/bge-base-en-v1.5-fp16-ov", "task": "embeddings"}]
    for meta in (objs["Deployment"]["metadata"], objs["Deployment"]["spec"]["template"]["metadata"]):
        assert json.loads(meta["annotations"][_render.ANNOTATION_SERVABLES]) == want
    classic, _, _ = render({"models_settings": {"model_path": "gs://b/m"}})
    assert _render.ANNOTATION_SERVABLES not in classic["Deployment"]["metadata"]["annotations"]


@pytest.mark.parametrize("image, setting, value, came", [
    (OLD, "cache_interval_multiplier", 2, "2026.3"),
    ("openvino/model_server:2025.3", "model_distribution_policy", "TENSOR_PARALLEL", "2025.4"),
    (OLD, "pipeline_type", "OMNI", "2026.3"),
])
def test_a_flag_the_images_release_does_not_know_is_refused_naming_the_release_that_has_it(image, setting, value, came):
    llm = dict(LLM, task_settings={setting: value})
    message = refused(spec(llm, image_name=image))
    assert message.startswith("spec.generative_models[0].task_settings.%s: OVMS %s does not know --%s"
                              % (setting, image.rsplit(":", 1)[1], setting))
    assert "it came in OVMS %s" % came in message
    render(spec(llm, image_name=NEW))  # and the release that has it takes it
    render(spec(llm, image_name="openvino/model_server:latest"))  # an unknown release follows the newest


def test_tasks_and_generative_serving_itself_need_their_release():
    message = refused(spec({"source_model": "OpenVINO/whisper-base-fp16-ov", "task": "speech2text"},
                           image_name="openvino/model_server:2025.3"))
    assert "OVMS 2025.3 does not know the task speech2text: it came in OVMS 2025.4" in message
    message = refused(spec(image_name="openvino/model_server:2025.2"))
    assert message.startswith("spec.generative_models: generative models pulled from Hugging Face need OVMS 2025.3")
    render(spec(image_name="quay.io/me/ovms@sha256:" + "a" * 64, ovms_version="2025.4"))
    assert "is OVMS 2025.2" in refused(spec(image_name="quay.io/me/ovms:custom", ovms_version="2025.2"))


@pytest.mark.parametrize("model, path, fragment", [
    (dict(LLM, task_settings={"pooling": "CLS"}), "task_settings.pooling",
     "'pooling' is not a setting of the task text_generation (it is one of embeddings)"),
    (dict(EMB, task_settings={"normalize": "yes"}), "task_settings.normalize", "expected true or false"),
    (dict(LLM, task_settings={"max_num_seqs": 0}), "task_settings.max_num_seqs", "expected a number of at least 1"),
    (dict(LLM, task_settings={"max_num_seqs": "many"}), "task_settings.max_num_seqs", "expected a number, got 'many'"),
    (dict(EMB, task_settings={"pooling": "MAX"}), "task_settings.pooling", "expected one of CLS, LAST, MEAN"),
    (dict(LLM, task_settings={"tool_parser": "a\nb"}), "task_settings.tool_parser", "on one line"),
    (dict(LLM, task="chat"), "task", "'chat' is not an OVMS task"),
    (dict(LLM, source_model="https://huggingface.co/OpenVINO/x"), "source_model", "is not a Hugging Face repository id"),
    (dict(LLM, source_model="OpenVINO/../etc"), "source_model", "is not a Hugging Face repository id"),
    (dict(EMB, draft_source_model="OpenVINO/x"), "draft_source_model", "speculative decoding is for the task"),
    (dict(LLM, target_device="GPU 0"), "target_device", "is not a device OVMS can use"),
    (dict(LLM, name="my model"), "name", "is not a servable name"),
    ({"source_model": "OpenVINO/x"}, "task", "required"),
    (dict(LLM, base_path="/models"), "base_path", "unknown key"),
])
def test_bad_generative_models_are_refused_naming_the_field(model, path, fragment):
    message = refused(spec(model))
    assert message.startswith("spec.generative_models[0].%s: " % path), message
    assert fragment in message, message


def test_booleans_render_as_the_literals_ovms_takes():
    objs, _, _ = render(spec(dict(EMB, task_settings={"normalize": "false", "truncate": True})))
    assert args(objs)[-2:] == ["--normalize=false", "--truncate=true"]


def test_duplicates_and_classic_models_are_refused():
    assert "'qwen' is listed twice" in refused(spec(LLM, dict(EMB, name="qwen")))
    assert "both would be pulled into one directory" in refused(spec(LLM, dict(LLM, name="other")))
    message = refused(dict(spec(), models_settings={"model_path": "gs://b/m"}))
    assert message.startswith("spec.models_settings.model_path: cannot be combined with generative_models")
    message = refused(dict(spec(), models_repository={"storage_type": "cluster", "models_volume_claim": "m"}))
    assert message.startswith("spec.models_repository.models_volume_claim: cannot be combined")


@pytest.mark.parametrize("groups, fragment", [
    ({"model_volume": {"claim_name": "a", "size": "1Gi"}}, "spec.model_volume: give either claim_name"),
    ({"model_volume": {"claim_name": "a", "storage_class": "fast"}}, "spec.model_volume.storage_class: applies only"),
    ({"model_volume": {"size": "0"}}, "spec.model_volume.size: expected a positive quantity"),
    ({"model_volume": {"size": "lots"}}, "spec.model_volume.size: 'lots' is not a Kubernetes quantity"),
    ({"huggingface": {"endpoint": "hf-mirror.example.com"}}, "spec.huggingface.endpoint: 'hf-mirror.example.com': "
                                                             "expected an http(s) URL"),
    ({"huggingface": {"token_secret": {"name": "Bad_Name"}}}, "spec.huggingface.token_secret.name: 'Bad_Name' is not"),
    ({"huggingface": {"token_secret": {"name": "hf", "key": "a/b"}}}, "'a/b' is not a valid Secret key"),
    ({"huggingface": {"token_secret": {"key": "hf"}}}, "spec.huggingface.token_secret.name: required with"),
])
def test_bad_huggingface_and_model_volume_settings_are_refused(groups, fragment):
    assert fragment in refused(spec(**groups))


def test_every_refusal_here_is_a_documented_rule():
    from spec_strategies import rule_of

    cases = [spec(dict(LLM, task_settings={"pooling": "CLS"})), spec(image_name="openvino/model_server:2025.2"),
             spec(dict(LLM, task_settings={"cache_interval_multiplier": 1}), image_name=OLD),
             spec(model_volume={"size": "0"}), spec(huggingface={"endpoint": "x"}),
             dict(spec(), models_settings={"config_path": "/x.json"}), spec(LLM, LLM)]
    for s in cases:
        with pytest.raises(_spec.SpecError) as err:
            _render.manifests_for(name="llm", namespace="ovms", spec=s)
        assert rule_of(err.value), str(err.value)


def test_huggingface_and_model_volume_without_generative_models_only_warn():
    objs, _, warnings = render({"models_settings": {"model_path": "gs://b/m"}, "model_volume": {"size": "1Gi"},
                                "huggingface": {"token_secret": {"name": "hf"}}})
    assert "PersistentVolumeClaim" not in objs and "HF_TOKEN" not in env(objs)
    assert "huggingface is ignored: there are no generative_models" in warnings
    assert "model_volume is ignored: there are no generative_models" in warnings


def test_several_replicas_on_a_read_write_once_claim_warn():
    _, _, warnings = render(spec(deployment_parameters={"replicas": 2}))
    assert any("several replicas share one ReadWriteOnce claim" in w for w in warnings)
    _, _, warnings = render(spec(deployment_parameters={"replicas": 2},
                                 model_volume={"size": "1Gi", "access_mode": "ReadWriteMany"}))
    assert not any("several replicas" in w for w in warnings)


def test_the_table_knows_a_release_for_every_setting_and_task():
    for key, setting in _generative.SETTINGS.items():
        assert setting["tasks"] and set(setting["tasks"]) <= set(_generative.TASKS), key
        assert setting["since"] >= (2025, 2), key
    # the flag OVMS spells with a hyphen
    assert _generative.flag("weight_format") == "--weight-format"
    assert _generative.known((2026, 3), None) and not _generative.known((2026, 3), (2026, 2))


def test_the_token_secret_names_a_secret_and_is_not_masked_as_a_credential():
    from ansible_collections.openvino.ovms.plugins.module_utils import _secrets
    from ansible_collections.openvino.ovms.plugins.modules.modelserver import PLAIN_KEYS, argument_spec

    params = {"huggingface": {"token_secret": {"name": "hf-token", "key": "token"}}}
    assert _secrets.credential_values(params, PLAIN_KEYS) == set()
    assert argument_spec()["huggingface"]["options"]["token_secret"]["no_log"] is False


def test_what_kubernetes_controllers_write_into_the_claim_is_not_drift():
    """The PersistentVolume controller binds the claim (spec.volumeName, immutable once set, and annotations): a run
    must neither report it nor try to remove it; a label someone else added still is."""
    from ansible_collections.openvino.ovms.plugins.module_utils import _reconcile

    desired = _render.model_volume_claim("llm", "ovms", render(spec())[1])
    live = json.loads(json.dumps(desired))
    live["spec"]["volumeName"] = "pv-1"
    live["metadata"]["finalizers"] = ["kubernetes.io/pvc-protection"]
    live["metadata"]["annotations"] = {"pv.kubernetes.io/bind-completed": "yes",
                                       "pv.kubernetes.io/bound-by-controller": "yes"}
    live["metadata"]["labels"]["team"] = "x"
    live["metadata"]["managedFields"] = [
        {"manager": "kube-controller-manager", "operation": "Update", "fieldsV1": {
            "f:metadata": {"f:annotations": {".": {}, "f:pv.kubernetes.io/bind-completed": {},
                                             "f:pv.kubernetes.io/bound-by-controller": {}}},
            "f:spec": {"f:volumeName": {}}}},
        {"manager": "kube-apiserver", "operation": "Update", "fieldsV1": {
            "f:metadata": {"f:finalizers": {".": {}, 'v:"kubernetes.io/pvc-protection"': {}}}}},
        {"manager": "kubectl-label", "operation": "Update", "fieldsV1": {"f:metadata": {"f:labels": {"f:team": {}}}}}]
    found = _reconcile.foreign_fields(live, desired)
    assert [(f["manager"], f["path"]) for f in found] == [("kubectl-label", "metadata.labels.team")]
