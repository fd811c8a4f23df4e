"""Each validation rule, by its message; and what the whole spec guarantees (secrets, versions, seed)."""
import json

import pytest

from ansible_collections.openvino.ovms.plugins.module_utils import _render, _spec

from helpers import BASE, args, merge, render

SECRETS = {"aws_secret_access_key": "SECRET-AWS-KEY-123", "aws_access_key_id": "AKIA-ID-456",
           "aws_session_token": "SESSION-TOKEN-789", "azure_storage_connection_string": "AZURE-CONN-STRING-0"}


def error(patch, name="resnet", namespace="ovms"):
    with pytest.raises(_spec.SpecError) as exc:
        _render.manifests_for(name=name, namespace=namespace, spec=merge(BASE, patch))
    return str(exc.value)


@pytest.mark.parametrize("patch, message", [
    ({"deployment_parameters": {"replicas": "three"}}, "spec.deployment_parameters.replicas: expected an integer, got 'three'"),
    ({"deployment_parameters": {"replicas": -1}}, "spec.deployment_parameters.replicas: expected an integer at least 0, got -1"),
    ({"deployment_parameters": {"openshift_service_mesh": "maybe"}}, "spec.deployment_parameters.openshift_service_mesh: expected a boolean, got 'maybe'"),
    ({"deployment_parameters": {"node_affinity": "zone-a"}}, "spec.deployment_parameters.node_affinity: expected an object (mapping), got str"),
    ({"service_parameters": {"service_type": "Ingress"}}, "spec.service_parameters.service_type: expected one of ClusterIP, NodePort, LoadBalancer, got 'Ingress'"),
    ({"service_parameters": {"grpc_port": 70000}}, "spec.service_parameters.grpc_port: expected a port number from 1 to 65535, got 70000"),
    ({"service_parameters": {"rest_port": 0}}, "spec.service_parameters.rest_port: expected a port number from 1 to 65535, got 0"),
    ({"service_parameters": {"grpc_port": 9000, "rest_port": 9000}}, "spec.service_parameters.rest_port: must differ from grpc_port (both are 9000)"),
    ({"server_settings": {"log_level": "VERBOSE"}}, "spec.server_settings.log_level: expected one of TRACE, DEBUG, INFO, WARNING, ERROR, got 'VERBOSE'"),
    ({"server_settings": {"grpc_workers": -1}}, "spec.server_settings.grpc_workers: expected an integer at least 1, got -1"),
    ({"models_settings": {"nireq": -2}}, "spec.models_settings.nireq: expected an integer at least 1, got -2"),
    ({"deployment_parameters": {"resources": {"limits": {"memory": "4 GB"}}}}, "spec.deployment_parameters.resources.limits.memory: '4 GB' is not a Kubernetes quantity"),
    ({"deployment_parameters": {"resources": {"limits": {"xpu_device": "gpu"}}}}, "spec.deployment_parameters.resources.limits.xpu_device: 'gpu' is not an extended resource name"),
    ({"models_settings": {"plugin_config": "{PERFORMANCE_HINT: LATENCY"}}, "spec.models_settings.plugin_config: expected a JSON object in a string, could not parse"),
    ({"models_settings": {"model_version_policy": "[1, 2]"}}, "spec.models_settings.model_version_policy: expected a JSON object, got list"),
    ({"models_settings": {"shape": "1x3x224x224"}}, "spec.models_settings.shape: '1x3x224x224' is not a shape"),
    ({"models_settings": {"batch_size": "-2"}}, "spec.models_settings.batch_size: expected auto or a positive integer, got '-2'"),
    ({"models_settings": {"model_path": "gs://<bucket_name>/<model_dir>"}}, "spec.models_settings.model_path: required in single-model mode: give the real location"),
    ({"models_settings": {"model_path": None, "model_name": ""}}, "spec.models_settings.model_name: required in single-model mode"),
    ({"models_settings": {"single_model_mode": False}}, "spec.models_settings: multi-model mode (single_model_mode: false) needs a config source"),
    ({"models_settings": {"single_model_mode": False, "models": [{"name": "a"}]}}, "spec.models_settings.models[0].base_path: required"),
    ({"models_settings": {"single_model_mode": False, "models": [{"name": "a", "base_path": "/m", "foo": 1}]}}, "spec.models_settings.models[0].foo: unknown key (OVMS rejects it in config.json)"),
    ({"models_settings": {"single_model_mode": False, "models": [{"name": "a", "base_path": "/m"}, {"name": "a", "base_path": "/n"}]}}, "spec.models_settings.models[1].name: duplicate model name 'a'"),
    ({"models_settings": {"is_stateful": True}}, "spec.models_settings.is_stateful: stateful models were removed in OVMS 2026.3 and the image openvino/model_server:2026.3 is OVMS 2026.3"),
    ({"image_name": "openvino/model_server:latest", "models_settings": {"is_stateful": True}}, "is OVMS newest (tag names no version)"),
    ({"ovms_version": "next"}, "spec.ovms_version: expected a version like 2025.4, got 'next'"),
    ({"models_repository": {"runAsGroup": "-5"}}, "spec.models_repository.runAsGroup: expected a numeric ID, got '-5'"),
    ({"fullnameOverride": "My_Server"}, "spec.fullnameOverride: the Deployment and Service name 'My_Server' derived from it must be a DNS-1035 label"),
    ({"nameOverride": "Big"}, "spec.nameOverride: the Deployment and Service name 'resnet-Big' derived from it"),
    ({"models_settings": {"config_configmap_name": "Bad_CM"}}, "spec.models_settings.config_configmap_name: 'Bad_CM' is not a valid name"),
    ({"models_repository": {"storage_type": "Swift"}}, "spec.models_repository.storage_type: expected one of S3, google, azure, cluster, got 'Swift'"),
    ({"models_repository": {"runAsUser": "root"}}, "spec.models_repository.runAsUser: expected a numeric ID, got 'root'"),
    ({"models_repository": {"models_host_path": "models"}}, "spec.models_repository.models_host_path: expected an absolute path"),
    ({"models_repository": {"models_volume_claim": "My_Claim"}}, "spec.models_repository.models_volume_claim: 'My_Claim' is not a valid name"),
    ({"autoscaling": {"enabled": True}}, "spec.autoscaling.max_replicas: required when autoscaling is enabled"),
    ({"autoscaling": {"enabled": True, "min_replicas": 5, "max_replicas": 2}}, "spec.autoscaling.max_replicas: must be at least min_replicas (5)"),
    ({"autoscaling": {"enabled": True, "max_replicas": 2}}, "spec.autoscaling: needs target_cpu_utilization or pod_metrics"),
    ({"pod_disruption_budget": {"enabled": True}}, "spec.pod_disruption_budget: give exactly one of min_available and max_unavailable"),
    ({"pod_disruption_budget": {"enabled": True, "min_available": "half"}}, "spec.pod_disruption_budget.min_available: expected a number or a percentage, got 'half'"),
    ({"ingress": {"enabled": True, "tls_secret_name": "t"}}, "spec.ingress.host: required with tls_secret_name"),
    ({"deployment_parameters": "big"}, "spec.deployment_parameters: expected an object (mapping), got str"),
    # issue 8: what the API server or OVMS would refuse, refused before any request
    ({"ingress": {"enabled": True, "path": "v2"}}, "spec.ingress.path: 'v2' is not an absolute path"),
    ({"ingress": {"enabled": True, "path": "/a//b"}}, "spec.ingress.path: '/a//b' contains '//'"),
    ({"ingress": {"enabled": True, "class_name": "Bad Class"}}, "spec.ingress.class_name: 'Bad Class' is not a valid name"),
    ({"ingress": {"enabled": True, "host": "10.0.0.1"}}, "spec.ingress.host: '10.0.0.1' is an IP address"),
    ({"ingress": {"enabled": True, "annotations": {"bad key!": "x"}}}, "spec.ingress.annotations.bad key!: 'bad key!' is not a valid annotation key"),
    ({"ingress": {"enabled": True, "annotations": {"a": 1}}}, "spec.ingress.annotations.a: expected a string value, got 1"),
    ({"autoscaling": {"enabled": True, "max_replicas": 2 ** 31, "target_cpu_utilization": 50}}, "spec.autoscaling.max_replicas: expected an integer at most 2147483647, got 2147483648"),
    ({"deployment_parameters": {"replicas": 10 ** 12}}, "spec.deployment_parameters.replicas: expected an integer at most 2147483647"),
    ({"deployment_parameters": {"startup_timeout_seconds": 10 ** 10}}, "spec.deployment_parameters.startup_timeout_seconds: expected an integer at most 2147483647"),
    ({"deployment_parameters": {"startup_timeout_seconds": "1e10"}}, "spec.deployment_parameters.startup_timeout_seconds: expected an integer, got '1e10'"),
    ({"deployment_parameters": {"resources": {"limits": {"cpu": "1"}, "requests": {"cpu": "1500m"}}}}, "spec.deployment_parameters.resources.requests.cpu: the request 1500m is above the limit 1"),
    ({"deployment_parameters": {"resources": {"requests": {"xpu_device": "gpu.intel.com/i915"}}}}, "spec.deployment_parameters.resources.limits.xpu_device: Kubernetes needs a limit for the extended resource gpu.intel.com/i915"),
    ({"deployment_parameters": {"resources": {"limits": {"xpu_device": "gpu.intel.com/i915", "xpu_device_quantity": "0.5"}}}}, "expected a whole number for the extended resource"),
    ({"deployment_parameters": {"pod_labels": {"app.kubernetes.io/instance": "other"}}}, "spec.deployment_parameters.pod_labels.app.kubernetes.io/instance: the Deployment selects its pods by app.kubernetes.io/instance=resnet"),
    ({"deployment_parameters": {"pod_labels": {"team": "a b"}}}, "spec.deployment_parameters.pod_labels.team: 'a b' is not a valid label value"),
    ({"image_name": ""}, "spec.image_name: '' is not an image reference"),
    ({"image_name": "openvino/model server:2026.3"}, "spec.image_name: 'openvino/model server:2026.3' is not an image reference"),
    ({"models_settings": {"target_device": ""}}, "spec.models_settings.target_device: '' is not a device OVMS can use"),
    ({"models_settings": {"shape": "[1,3,-1:2,224]"}}, "spec.models_settings.shape: '[1,3,-1:2,224]' is not a shape OVMS can parse"),
    ({"models_settings": {"layout": "NHWC:NCHW:X"}}, "spec.models_settings.layout: 'NHWC:NCHW:X' is not a layout OVMS can parse"),
    ({"models_settings": {"model_version_policy": '{"newest": {}}'}}, "spec.models_settings.model_version_policy: OVMS expects exactly one of all, latest, specific"),
    ({"server_settings": {"rest_workers": 1}}, "spec.server_settings.rest_workers: OVMS accepts from 2 to 10000 REST workers, got 1"),
    ({"models_repository": {"runAsUser": "4294967296"}}, "spec.models_repository.runAsUser: expected a numeric ID from 0 to 2147483647"),
    ({"models_repository": {"models_host_path": "/srv/../etc"}}, "spec.models_repository.models_host_path: '/srv/../etc' contains '..'"),
    ({"models_settings": {"model_name": "a\x00b"}}, "spec.models_settings.model_name: contains a NUL character"),
    ({"models_settings": {"model_path": "gs://b/\ud800"}}, "spec.models_settings.model_path: 'gs://b/\\ud800' is not valid Unicode text"),
    ({"models_settings": {"plugin_config": {1: "x"}}}, "spec.models_settings.plugin_config: expected string keys, got the key 1"),
    ({"deployment_parameters": {"node_affinity": {"x": float("nan")}}}, "spec.deployment_parameters.node_affinity.x: expected a finite number"),
    ({"models_settings": ["model_path", "gs://b/m"]}, "spec.models_settings: expected an object (mapping), got list"),
])
def test_validation_message(patch, message):
    assert message in error(patch)


@pytest.mark.parametrize("name, namespace, message", [
    ("Bad_Name", "ovms", "metadata.name: 'Bad_Name' is not a valid name"),
    ("9lives", "ovms", "metadata.name: the Deployment and Service name '9lives-ovms' derived from it must be a DNS-1035 label"),
    ("a" * 54, "ovms", "metadata.name: '%s' has 54 characters; the operator cannot deploy a name longer than 53" % ("a" * 54)),
    ("resnet", "Prod", "metadata.namespace: 'Prod' is not a valid name: expected a DNS-1123 label"),
    ("resnet", "ns/../kube-system", "metadata.namespace: 'ns/../kube-system' is not a valid name"),
    ("resnet", "Bad_NS", "metadata.namespace: 'Bad_NS' is not a valid name"),
    ("resnet\n", "ovms", "metadata.name: 'resnet\\n' is not a valid name"),
    ("résnet", "ovms", "metadata.name: 'résnet' is not a valid name"),
])
def test_name_rules(name, namespace, message):
    assert message in error({}, name=name, namespace=namespace)


def test_manifest_must_be_a_modelserver():
    with pytest.raises(_spec.SpecError, match="definition.kind: expected ModelServer, got 'Deployment'"):
        _render.manifests_for(definition={"apiVersion": "intel.com/v1alpha1", "kind": "Deployment"})
    with pytest.raises(_spec.SpecError, match="definition.apiVersion: expected intel.com/v1alpha1"):
        _render.manifests_for(definition={"apiVersion": "intel.com/v1", "kind": "ModelServer"})
    with pytest.raises(_spec.SpecError, match="metadata.namespace: required"):
        _render.manifests_for(definition={"apiVersion": "intel.com/v1alpha1", "kind": "ModelServer",
                                          "metadata": {"name": "x"}, "spec": BASE})


def test_unknown_fields_of_a_manifest_are_ignored_with_a_warning():
    _, _, _, _, warnings = _render.manifests_for(name="r", namespace="n", spec=merge(BASE, {"extra_field": 1}))
    assert "spec.extra_field is not a ModelServer field and is ignored" in warnings


def test_seed_sample_renders_a_deployment_and_service_named_by_the_rule():
    sample = {"apiVersion": "intel.com/v1alpha1", "kind": "ModelServer",
              "metadata": {"name": "ovms-sample", "namespace": "ovms"},
              "spec": {"image_name": "registry.connect.redhat.com/intel/openvino-model-server:latest",
                       "deployment_parameters": {"replicas": 1, "resources": {"limits": {"cpu": 1, "memory": "500Mi"}}},
                       "models_settings": {"single_model_mode": True, "model_name": "resnet",
                                           "model_path": "gs://ovms-public-eu/resnet50-binary"},
                       "server_settings": {"file_system_poll_wait_seconds": 0, "log_level": "INFO"},
                       "service_parameters": {"grpc_port": 8080, "rest_port": 8081},
                       "models_repository": {"storage_type": "google"}}}
    manifests, _, name, ns, warnings = _render.manifests_for(definition=sample)
    assert [(m["kind"], m["metadata"]["name"]) for m in manifests] == [("Deployment", "ovms-sample"),
                                                                       ("Service", "ovms-sample")]
    assert any("not pinned" in w for w in warnings)
    info = _render.service_info(name, ns, _spec.normalize(name, ns, sample["spec"])[0])
    assert info["rest_url"] == "http://ovms-sample.ovms.svc:8081"
    assert render({}, name="resnet")["Deployment"]["metadata"]["name"] == "resnet-ovms"


def test_secrets_appear_only_in_secret_objects():
    objs = render({"models_repository": dict(SECRETS, storage_type="S3")})
    for key, manifest in objs.items():
        text = json.dumps(manifest)
        for value in SECRETS.values():
            assert value not in text, "%s leaks a credential" % key
    # the chart's names: <fullname>-aws-secret (key secret_access_key; ours add two keys), <fullname>-azure-secret
    assert {"Secret/resnet-ovms-aws-secret", "Secret/resnet-ovms-azure-secret"} <= set(objs)
    assert sorted(objs["Secret/resnet-ovms-aws-secret"]["data"]) == ["access_key_id", "secret_access_key",
                                                                    "session_token"]
    assert sorted(objs["Secret/resnet-ovms-azure-secret"]["data"]) == ["connection_string"]


@pytest.mark.parametrize("image, expected", [
    ("openvino/model_server:2025.4", (2025, 4)), ("openvino/model_server:2026.3.1-gpu", (2026, 3)),
    ("registry:5000/ovms:2024.5-py", (2024, 5)), ("openvino/model_server:latest", None),
    ("openvino/model_server@sha256:" + "a" * 64, None), ("openvino/model_server", None),
])
def test_version_from_image_tag(image, expected):
    assert _spec.ovms_version(image) == expected


@pytest.mark.parametrize("image, removed", [
    ("openvino/model_server:2026.3", True), ("openvino/model_server:2027.1", True),
    ("openvino/model_server:latest", True), ("openvino/model_server:2026.2", False),
])
def test_removed_flags_never_rendered_for_new_ovms(image, removed):
    rendered = args(render({"image_name": image}))
    assert any(a.startswith("--sequence_cleaner_poll_wait_minutes") for a in rendered) is not removed


def test_ovms_version_option_overrides_the_tag():
    rendered = args(render({"image_name": "openvino/model_server:2025.4", "ovms_version": "2026.3"}))
    assert not any(a.startswith("--sequence_cleaner") for a in rendered)


def test_multi_model_config_change_rolls_pods_only_without_polling():
    models = {"single_model_mode": False, "models": [{"name": "a", "base_path": "gs://b/a"}]}
    changed = {"single_model_mode": False, "models": [{"name": "a", "base_path": "gs://b/a2"}]}
    no_poll = {"file_system_poll_wait_seconds": 0}
    a = render({"models_settings": models, "server_settings": no_poll})
    b = render({"models_settings": changed, "server_settings": no_poll})
    key = _render.ANNOTATION_CONFIG_CHECKSUM
    assert a["Deployment"]["spec"]["template"]["metadata"]["annotations"][key] != \
        b["Deployment"]["spec"]["template"]["metadata"]["annotations"][key]
    polled = render({"models_settings": models, "server_settings": {"file_system_poll_wait_seconds": 5}})
    assert key not in polled["Deployment"]["spec"]["template"]["metadata"].get("annotations", {})
    default = render({"models_settings": models})  # polls every second by default: OVMS re-reads the config
    assert key not in default["Deployment"]["spec"]["template"]["metadata"].get("annotations", {})


def test_generated_config_is_valid_for_ovms():
    objs = render({"models_settings": {"single_model_mode": False, "models": [
        {"name": "a", "base_path": "s3://b/a", "shape": '{"in": "(1,3,224,224)"}', "nireq": 2,
         "plugin_config": '{"NUM_STREAMS": "2"}', "model_version_policy": {"specific": {"versions": [1]}}}]},
        "monitoring": {"metrics_enable": True, "metrics_list": "ovms_requests_success, ovms_infer_req_queue_size"}})
    config = json.loads(objs["ConfigMap"]["data"]["config.json"])
    assert config == {"model_config_list": [{"config": {
        "name": "a", "base_path": "s3://b/a", "nireq": 2, "shape": {"in": "(1,3,224,224)"},
        "plugin_config": {"NUM_STREAMS": "2"}, "model_version_policy": {"specific": {"versions": [1]}}}}],
        "monitoring": {"metrics": {"enable": True, "metrics_list": ["ovms_requests_success",
                                                                    "ovms_infer_req_queue_size"]}}}
    assert "--metrics_enable" not in args(objs)  # in config.json instead
    assert "--config_path=/config/config.json" in args(objs)


def test_every_object_carries_the_owner_labels():
    objs = render({"autoscaling": {"enabled": True, "max_replicas": 3, "target_cpu_utilization": 50},
                   "pod_disruption_budget": {"enabled": True, "max_unavailable": "1"}, "ingress": {"enabled": True},
                   "route": {"enabled": True}, "models_repository": {"aws_secret_access_key": "x"}})
    assert len(objs) == 7
    chart = {"app": "resnet-ovms", "release": "resnet", "chart": "ovms-4.0.0", "heritage": "Helm"}
    for key, m in objs.items():
        # ours everywhere (prune and state=absent find objects by them); the chart's on the Deployment and Service
        expected = dict(_render.owner_labels("resnet"), **(chart if key in ("Deployment", "Service") else {}))
        assert m["metadata"]["labels"] == expected, key
    pod = objs["Deployment"]["spec"]["template"]["metadata"]["labels"]
    assert pod == dict(chart, **{"app.kubernetes.io/name": "openvino-model-server",
                                 "app.kubernetes.io/instance": "resnet"})
    assert objs["Deployment"]["spec"]["selector"] == {"matchLabels": {"app": "resnet-ovms", "release": "resnet"}}
    assert objs["Service"]["spec"]["selector"] == {"app": "resnet-ovms"}
    assert objs["PodDisruptionBudget"]["spec"]["selector"] == objs["Deployment"]["spec"]["selector"]


def test_rendering_is_deterministic():
    assert render({"models_settings": {"model_name": "x"}}) == render({"models_settings": {"model_name": "x"}})


def test_argument_spec_marks_credentials_no_log():
    repo = _spec.argument_spec()["models_repository"]["options"]
    assert all(repo[k]["no_log"] for k in _spec.SECRET_FIELDS)
