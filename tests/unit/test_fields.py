"""Every field of the ModelServer reference has a test showing its effect on the rendered objects."""
from pathlib import Path

import pytest
import yaml

from ansible_collections.openvino.ovms.plugins.module_utils import _spec

from helpers import args, container, env, render

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "modelserver-v1alpha1-fields.yaml"
# the project's reference, beside the checkout (as in CI); the fixture is a copy of it
SHARED = Path(__file__).resolve().parents[3] / "shared" / "reference" / "modelserver-v1alpha1-fields.yaml"
OLD = "openvino/model_server:2025.4"  # an OVMS that still has the stateful options


def pod(o):
    return o["Deployment"]["spec"]["template"]


# one generative model instead of BASE's classic one
LLM = {"source_model": "OpenVINO/Qwen3-0.6B-int4-ov", "task": "text_generation"}


def gen(**groups):
    patch = {"models_settings": {"model_path": None}, "generative_models": [dict(LLM)]}
    patch.update(groups)
    return patch


def volume(o):
    return next(v for v in pod(o)["spec"]["volumes"] if v["name"] == "models")


# path -> (spec patch, check(objects)); each check fails if the field had no effect.
EFFECTS = {
    "spec.generative_models": (gen(), lambda o: "--source_model=OpenVINO/Qwen3-0.6B-int4-ov" in args(o)
                               and "--task=text_generation" in args(o)
                               and pod(o)["metadata"]["annotations"]["openvino.ovms/servables"]
                               == '[{"name":"OpenVINO/Qwen3-0.6B-int4-ov","task":"text_generation"}]'),
    "spec.huggingface.token_secret.name": (
        gen(huggingface={"token_secret": {"name": "hf"}}),
        lambda o: env(o)["HF_TOKEN"]["valueFrom"] == {"secretKeyRef": {"name": "hf", "key": "token"}}),
    "spec.huggingface.token_secret.key": (
        gen(huggingface={"token_secret": {"name": "hf", "key": "hf_token"}}),
        lambda o: env(o)["HF_TOKEN"]["valueFrom"]["secretKeyRef"]["key"] == "hf_token"),
    "spec.huggingface.endpoint": (gen(huggingface={"endpoint": "https://hf.example.com"}),
                                  lambda o: env(o)["HF_ENDPOINT"]["value"] == "https://hf.example.com"),
    "spec.model_volume.claim_name": (gen(model_volume={"claim_name": "mine"}),
                                     lambda o: volume(o)["persistentVolumeClaim"] == {"claimName": "mine"}
                                     and "PersistentVolumeClaim" not in o),
    "spec.model_volume.size": (gen(model_volume={"size": "20Gi"}),
                               lambda o: o["PersistentVolumeClaim"]["spec"]["resources"]["requests"]["storage"]
                               == "20Gi" and volume(o)["persistentVolumeClaim"]["claimName"] == "resnet-ovms-models"),
    "spec.model_volume.storage_class": (gen(model_volume={"size": "20Gi", "storage_class": "fast"}),
                                        lambda o: o["PersistentVolumeClaim"]["spec"]["storageClassName"] == "fast"),
    "spec.model_volume.access_mode": (gen(model_volume={"size": "20Gi", "access_mode": "ReadWriteMany"}),
                                      lambda o: o["PersistentVolumeClaim"]["spec"]["accessModes"] == ["ReadWriteMany"]),
    "spec.fullnameOverride": (
        {"fullnameOverride": "vision", "models_repository": {"aws_secret_access_key": "k"}},
        lambda o: o["Deployment"]["metadata"]["name"] == o["Service"]["metadata"]["name"] == "vision"
        and o["Service"]["spec"]["selector"] == {"app": "vision"} and "Secret/vision-aws-secret" in o),
    "spec.nameOverride": ({"nameOverride": "srv"},
                          lambda o: o["Deployment"]["metadata"]["name"] == "resnet-srv"
                          and pod(o)["metadata"]["labels"]["app"] == "resnet-srv"),
    "spec.image_name": ({"image_name": "quay.io/me/ovms:2025.4"},
                        lambda o: container(o)["image"] == "quay.io/me/ovms:2025.4"),
    "spec.deployment_parameters.replicas": ({"deployment_parameters": {"replicas": 3}},
                                            lambda o: o["Deployment"]["spec"]["replicas"] == 3),
    "spec.deployment_parameters.node_affinity": (
        {"deployment_parameters": {"node_affinity": {"requiredDuringSchedulingIgnoredDuringExecution": {}}}},
        lambda o: "requiredDuringSchedulingIgnoredDuringExecution" in pod(o)["spec"]["affinity"]["nodeAffinity"]),
    "spec.deployment_parameters.pod_affinity": (
        {"deployment_parameters": {"pod_affinity": {"preferredDuringSchedulingIgnoredDuringExecution": []}}},
        lambda o: "podAffinity" in pod(o)["spec"]["affinity"]),
    "spec.deployment_parameters.pod_antiaffinity": (
        {"deployment_parameters": {"pod_antiaffinity": {"preferredDuringSchedulingIgnoredDuringExecution": []}}},
        lambda o: "podAntiAffinity" in pod(o)["spec"]["affinity"]),
    "spec.deployment_parameters.update_strategy": (
        {"deployment_parameters": {"update_strategy": {"type": "Recreate"}}},
        lambda o: o["Deployment"]["spec"]["strategy"] == {"type": "Recreate"}),
    "spec.deployment_parameters.openshift_service_mesh": (
        {"deployment_parameters": {"openshift_service_mesh": True}},
        lambda o: pod(o)["metadata"]["annotations"]["sidecar.istio.io/inject"] == "true"),
    "spec.deployment_parameters.resources.limits.cpu": (
        {"deployment_parameters": {"resources": {"limits": {"cpu": "2"}}}},
        lambda o: container(o)["resources"]["limits"]["cpu"] == "2"),
    "spec.deployment_parameters.resources.limits.memory": (
        {"deployment_parameters": {"resources": {"limits": {"memory": "4Gi"}}}},
        lambda o: container(o)["resources"]["limits"]["memory"] == "4Gi"),
    "spec.deployment_parameters.resources.limits.xpu_device": (
        {"deployment_parameters": {"resources": {"limits": {"xpu_device": "gpu.intel.com/i915"}}}},
        lambda o: container(o)["resources"]["limits"]["gpu.intel.com/i915"] == "1"),
    "spec.deployment_parameters.resources.limits.xpu_device_quantity": (
        {"deployment_parameters": {"resources": {"limits": {"xpu_device": "gpu.intel.com/i915",
                                                            "xpu_device_quantity": "2"}}}},
        lambda o: container(o)["resources"]["limits"]["gpu.intel.com/i915"] == "2"),
    "spec.deployment_parameters.resources.requests.cpu": (
        {"deployment_parameters": {"resources": {"requests": {"cpu": "500m"}}}},
        lambda o: container(o)["resources"]["requests"]["cpu"] == "500m"),
    "spec.deployment_parameters.resources.requests.memory": (
        {"deployment_parameters": {"resources": {"requests": {"memory": "1Gi"}}}},
        lambda o: container(o)["resources"]["requests"]["memory"] == "1Gi"),
    "spec.deployment_parameters.resources.requests.xpu_device": (
        {"deployment_parameters": {"resources": {"requests": {"xpu_device": "gpu.intel.com/i915"},
                                                 "limits": {"xpu_device": "gpu.intel.com/i915"}}}},
        lambda o: container(o)["resources"]["requests"]["gpu.intel.com/i915"] == "1"),
    "spec.deployment_parameters.resources.requests.xpu_device_quantity": (
        {"deployment_parameters": {"resources": {"requests": {"xpu_device": "gpu.intel.com/i915",
                                                              "xpu_device_quantity": "3"},
                                                 "limits": {"xpu_device": "gpu.intel.com/i915",
                                                            "xpu_device_quantity": "3"}}}},
        lambda o: container(o)["resources"]["requests"]["gpu.intel.com/i915"] == "3"),
    "spec.deployment_parameters.extra_envs_secret": (
        {"deployment_parameters": {"extra_envs_secret": "my-env"}},
        lambda o: {"secretRef": {"name": "my-env"}} in container(o)["envFrom"]),
    "spec.deployment_parameters.extra_envs_configmap": (
        {"deployment_parameters": {"extra_envs_configmap": "my-cm"}},
        lambda o: {"configMapRef": {"name": "my-cm"}} in container(o)["envFrom"]),
    "spec.deployment_parameters.pod_labels": (
        {"deployment_parameters": {"pod_labels": {"team": "vision", "app.kubernetes.io/instance": "resnet"}}},
        lambda o: pod(o)["metadata"]["labels"]["team"] == "vision"
        and pod(o)["metadata"]["labels"]["app.kubernetes.io/instance"] == "resnet"),
    "spec.deployment_parameters.pod_annotations": (
        {"deployment_parameters": {"pod_annotations": {"prometheus.io/scrape": "true"}}},
        lambda o: pod(o)["metadata"]["annotations"]["prometheus.io/scrape"] == "true"),
    "spec.deployment_parameters.startup_timeout_seconds": (
        {"deployment_parameters": {"startup_timeout_seconds": 300}},
        lambda o: container(o)["startupProbe"]["failureThreshold"] == 30),
    "spec.service_parameters.grpc_port": (
        {"service_parameters": {"grpc_port": 9000}},
        lambda o: o["Service"]["spec"]["ports"][0] == {"name": "grpc", "port": 9000, "targetPort": 8080,
                                                       "protocol": "TCP"}),
    "spec.service_parameters.rest_port": (
        {"service_parameters": {"rest_port": 9001}},
        lambda o: o["Service"]["spec"]["ports"][1]["port"] == 9001),
    "spec.service_parameters.service_type": (
        {"service_parameters": {"service_type": "NodePort"}}, lambda o: o["Service"]["spec"]["type"] == "NodePort"),
    "spec.models_settings.single_model_mode": (
        {"models_settings": {"single_model_mode": False, "config_configmap_name": "cfg"}},
        lambda o: "--config_path=/config/config.json" in args(o) and not any(a.startswith("--model_path") for a in args(o))),
    "spec.models_settings.config_configmap_name": (
        {"models_settings": {"single_model_mode": False, "config_configmap_name": "my-config"}},
        lambda o: {"name": "config", "configMap": {"name": "my-config"}} in pod(o)["spec"]["volumes"]),
    "spec.models_settings.config_path": (
        {"models_settings": {"single_model_mode": False, "config_path": "/models/config.json"},
         "models_repository": {"storage_type": "cluster", "models_volume_claim": "models"}},
        lambda o: "--config_path=/models/config.json" in args(o)),
    "spec.models_settings.models": (
        {"models_settings": {"single_model_mode": False, "models": [{"name": "a", "base_path": "gs://b/a"}]}},
        lambda o: '"base_path": "gs://b/a"' in o["ConfigMap"]["data"]["config.json"]),
    "spec.models_settings.model_name": ({"models_settings": {"model_name": "face"}},
                                        lambda o: "--model_name=face" in args(o)),
    "spec.models_settings.model_path": ({"models_settings": {"model_path": "s3://b/m"}},
                                        lambda o: "--model_path=s3://b/m" in args(o)),
    "spec.models_settings.shape": ({"models_settings": {"shape": "(1,3,224,224)"}},
                                   lambda o: "--shape=(1,3,224,224)" in args(o)),
    "spec.models_settings.batch_size": ({"models_settings": {"batch_size": "4"}},
                                        lambda o: "--batch_size=4" in args(o)),
    "spec.models_settings.target_device": ({"models_settings": {"target_device": "GPU"}},
                                           lambda o: "--target_device=GPU" in args(o)),
    "spec.models_settings.plugin_config": (
        {"models_settings": {"plugin_config": '{"PERFORMANCE_HINT": "THROUGHPUT"}'}},
        lambda o: '--plugin_config={"PERFORMANCE_HINT":"THROUGHPUT"}' in args(o)),
    "spec.models_settings.model_version_policy": (
        {"models_settings": {"model_version_policy": '{"all": {}}'}},
        lambda o: '--model_version_policy={"all":{}}' in args(o)),
    "spec.models_settings.layout": ({"models_settings": {"layout": "NHWC:NCHW"}},
                                    lambda o: "--layout=NHWC:NCHW" in args(o)),
    "spec.models_settings.nireq": ({"models_settings": {"nireq": 4}}, lambda o: "--nireq=4" in args(o)),
    "spec.models_settings.is_stateful": ({"image_name": OLD, "models_settings": {"is_stateful": True}},
                                         lambda o: "--stateful" in args(o)),
    "spec.models_settings.idle_sequence_cleanup": (
        {"image_name": OLD, "models_settings": {"is_stateful": True, "idle_sequence_cleanup": False}},
        lambda o: "--idle_sequence_cleanup=false" in args(o)),
    "spec.models_settings.low_latency_transformation": (
        {"image_name": OLD, "models_settings": {"is_stateful": True, "low_latency_transformation": True}},
        lambda o: "--low_latency_transformation" in args(o)),
    "spec.models_settings.max_sequence_number": (
        {"image_name": OLD, "models_settings": {"is_stateful": True, "max_sequence_number": 100}},
        lambda o: "--max_sequence_number=100" in args(o)),
    "spec.server_settings.file_system_poll_wait_seconds": (
        {"server_settings": {"file_system_poll_wait_seconds": 10}},
        lambda o: "--file_system_poll_wait_seconds=10" in args(o)),
    "spec.server_settings.log_level": ({"server_settings": {"log_level": "DEBUG"}},
                                       lambda o: "--log_level=DEBUG" in args(o)),
    "spec.server_settings.grpc_workers": ({"server_settings": {"grpc_workers": 4}},
                                          lambda o: "--grpc_workers=4" in args(o)),
    "spec.server_settings.rest_workers": ({"server_settings": {"rest_workers": 8}},
                                          lambda o: "--rest_workers=8" in args(o)),
    "spec.server_settings.sequence_cleaner_poll_wait_minutes": (
        {"image_name": OLD, "server_settings": {"sequence_cleaner_poll_wait_minutes": 7}},
        lambda o: "--sequence_cleaner_poll_wait_minutes=7" in args(o)),
    "spec.models_repository.storage_type": (
        {"models_repository": {"storage_type": "cluster", "models_volume_claim": "pvc"},
         "models_settings": {"model_path": "/models/resnet"}},
        lambda o: {"name": "models", "persistentVolumeClaim": {"claimName": "pvc"}}
        in pod(o)["spec"]["volumes"]),
    "spec.models_repository.models_host_path": (
        {"models_repository": {"storage_type": "cluster", "models_host_path": "/srv/models"}},
        lambda o: {"name": "models", "hostPath": {"path": "/srv/models", "type": "Directory"}}
        in pod(o)["spec"]["volumes"] and {"name": "models", "mountPath": "/models", "readOnly": True}
        in container(o)["volumeMounts"]),
    "spec.models_repository.models_volume_claim": (
        {"models_repository": {"storage_type": "cluster", "models_volume_claim": "claim"}},
        lambda o: pod(o)["spec"]["volumes"][0]["persistentVolumeClaim"]["claimName"] == "claim"),
    "spec.models_repository.runAsUser": ({"models_repository": {"runAsUser": "5000"}},
                                         lambda o: container(o)["securityContext"]["runAsUser"] == 5000),
    "spec.models_repository.runAsGroup": ({"models_repository": {"runAsGroup": "5001"}},
                                          lambda o: container(o)["securityContext"]["runAsGroup"] == 5001),
    "spec.models_repository.aws_secret_access_key": (
        {"models_repository": {"storage_type": "S3", "aws_secret_access_key": "s3cr3t"}},
        lambda o: env(o)["AWS_SECRET_ACCESS_KEY"]["valueFrom"]["secretKeyRef"] == {
            "name": "resnet-ovms-aws-secret", "key": "secret_access_key"}
        and "secret_access_key" in o["Secret/resnet-ovms-aws-secret"]["data"]),
    "spec.models_repository.aws_access_key_id": (
        {"models_repository": {"storage_type": "S3", "aws_access_key_id": "AKIA123"}},
        lambda o: env(o)["AWS_ACCESS_KEY_ID"]["valueFrom"]["secretKeyRef"]["key"] == "access_key_id"),
    "spec.models_repository.aws_session_token": (
        {"models_repository": {"storage_type": "S3", "aws_session_token": "tok"}},
        lambda o: env(o)["AWS_SESSION_TOKEN"]["valueFrom"]["secretKeyRef"]["key"] == "session_token"),
    "spec.models_repository.aws_region": ({"models_repository": {"aws_region": "eu-west-1"}},
                                          lambda o: env(o)["AWS_REGION"]["value"] == "eu-west-1"),
    "spec.models_repository.s3_compat_api_endpoint": (
        {"models_repository": {"s3_compat_api_endpoint": "http://minio:9000"}},
        lambda o: env(o)["S3_ENDPOINT"]["value"] == "http://minio:9000"),
    "spec.models_repository.gcp_creds_secret_name": (
        {"models_repository": {"gcp_creds_secret_name": "my-gcp"}},
        lambda o: {"name": "gcpcreds", "secret": {"secretName": "my-gcp"}} in pod(o)["spec"]["volumes"]
        and env(o)["GOOGLE_APPLICATION_CREDENTIALS"]["value"] == "/secret/gcp-creds.json"),
    "spec.models_repository.azure_storage_connection_string": (
        {"models_repository": {"storage_type": "azure", "azure_storage_connection_string": "DefaultEndpoints=x"}},
        lambda o: env(o)["AZURE_STORAGE_CONNECTION_STRING"]["valueFrom"]["secretKeyRef"] == {
            "name": "resnet-ovms-azure-secret", "key": "connection_string"}),
    "spec.models_repository.https_proxy": ({"models_repository": {"https_proxy": "http://proxy:3128"}},
                                           lambda o: env(o)["https_proxy"]["value"] == "http://proxy:3128"),
    "spec.models_repository.http_proxy": ({"models_repository": {"http_proxy": "http://proxy:3128"}},
                                          lambda o: env(o)["http_proxy"]["value"] == "http://proxy:3128"),
    "spec.models_repository.no_proxy": ({"models_repository": {"no_proxy": ".svc"}},
                                        lambda o: env(o)["no_proxy"]["value"] == ".svc"),
    "spec.monitoring.metrics_enable": ({"monitoring": {"metrics_enable": True}},
                                       lambda o: "--metrics_enable" in args(o)),
    "spec.monitoring.metrics_list": ({"monitoring": {"metrics_enable": True, "metrics_list": "ovms_requests_success"}},
                                     lambda o: "--metrics_list=ovms_requests_success" in args(o)),
    "spec.ovms_version": ({"image_name": "quay.io/me/ovms:custom", "ovms_version": "2025.4"},
                          lambda o: any(a.startswith("--sequence_cleaner_poll_wait_minutes") for a in args(o))),
    "spec.autoscaling.enabled": ({"autoscaling": {"enabled": True, "max_replicas": 4, "target_cpu_utilization": 60}},
                                 lambda o: "HorizontalPodAutoscaler" in o and "replicas" not in o["Deployment"]["spec"]),
    "spec.autoscaling.min_replicas": (
        {"autoscaling": {"enabled": True, "min_replicas": 2, "max_replicas": 4, "target_cpu_utilization": 60}},
        lambda o: o["HorizontalPodAutoscaler"]["spec"]["minReplicas"] == 2),
    "spec.autoscaling.max_replicas": (
        {"autoscaling": {"enabled": True, "max_replicas": 9, "target_cpu_utilization": 60}},
        lambda o: o["HorizontalPodAutoscaler"]["spec"]["maxReplicas"] == 9),
    "spec.autoscaling.target_cpu_utilization": (
        {"autoscaling": {"enabled": True, "max_replicas": 4, "target_cpu_utilization": 60}},
        lambda o: o["HorizontalPodAutoscaler"]["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"] == 60),
    "spec.autoscaling.pod_metrics": (
        {"autoscaling": {"enabled": True, "max_replicas": 4,
                         "pod_metrics": [{"name": "ovms_requests_success", "target_average_value": "100"}]}},
        lambda o: o["HorizontalPodAutoscaler"]["spec"]["metrics"][0]["pods"] == {
            "metric": {"name": "ovms_requests_success"}, "target": {"type": "AverageValue", "averageValue": "100"}}),
    "spec.pod_disruption_budget.enabled": ({"pod_disruption_budget": {"enabled": True, "min_available": "1"}},
                                           lambda o: "PodDisruptionBudget" in o),
    "spec.pod_disruption_budget.min_available": (
        {"pod_disruption_budget": {"enabled": True, "min_available": "50%"}},
        lambda o: o["PodDisruptionBudget"]["spec"]["minAvailable"] == "50%"),
    "spec.pod_disruption_budget.max_unavailable": (
        {"pod_disruption_budget": {"enabled": True, "max_unavailable": "1"}},
        lambda o: o["PodDisruptionBudget"]["spec"]["maxUnavailable"] == 1),
    "spec.ingress.enabled": ({"ingress": {"enabled": True}}, lambda o: "Ingress" in o),
    "spec.ingress.host": ({"ingress": {"enabled": True, "host": "ovms.example.com"}},
                          lambda o: o["Ingress"]["spec"]["rules"][0]["host"] == "ovms.example.com"),
    "spec.ingress.class_name": ({"ingress": {"enabled": True, "class_name": "nginx"}},
                                lambda o: o["Ingress"]["spec"]["ingressClassName"] == "nginx"),
    "spec.ingress.path": ({"ingress": {"enabled": True, "path": "/ovms"}},
                          lambda o: o["Ingress"]["spec"]["rules"][0]["http"]["paths"][0]["path"] == "/ovms"),
    "spec.ingress.tls_secret_name": (
        {"ingress": {"enabled": True, "host": "a.example.com", "tls_secret_name": "tls"}},
        lambda o: o["Ingress"]["spec"]["tls"] == [{"hosts": ["a.example.com"], "secretName": "tls"}]),
    "spec.ingress.annotations": ({"ingress": {"enabled": True, "annotations": {"a": "b"}}},
                                 lambda o: o["Ingress"]["metadata"]["annotations"] == {"a": "b"}),
    "spec.ingress.port": ({"ingress": {"enabled": True, "port": "grpc"}},
                          lambda o: o["Ingress"]["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]["port"]
                          == {"name": "grpc"}),
    "spec.route.enabled": ({"route": {"enabled": True}}, lambda o: o["Route"]["spec"]["to"]["name"] == "resnet-ovms"),
    "spec.route.host": ({"route": {"enabled": True, "host": "r.example.com"}},
                        lambda o: o["Route"]["spec"]["host"] == "r.example.com"),
    "spec.route.port": ({"route": {"enabled": True, "port": "grpc"}},
                        lambda o: o["Route"]["spec"]["port"] == {"targetPort": "grpc"}),
    "spec.route.tls_termination": ({"route": {"enabled": True, "tls_termination": "passthrough"}},
                                   lambda o: o["Route"]["spec"]["tls"] == {"termination": "passthrough"}),
}


def test_reference_fields_are_all_in_the_schema():
    reference = [f["path"] for f in yaml.safe_load(FIXTURE.read_text())]
    assert len(reference) == 57
    assert set(reference) <= set(_spec.leaf_paths())


def test_fixture_is_the_shared_reference():
    if not SHARED.exists():
        pytest.skip("../shared/reference is not beside this checkout")
    assert FIXTURE.read_text() == SHARED.read_text()


def test_crd_defaults_are_recorded_in_the_schema():
    fields = dict((f["path"], f) for f in yaml.safe_load(FIXTURE.read_text()))
    for path, ref in fields.items():
        if "crd_default" not in ref:
            continue
        node = {"fields": _spec.FIELDS}
        for part in path.split(".")[1:]:
            node = node["fields"][part]
        assert str(node["crd_default"]) == str(ref["crd_default"]), path


def test_every_schema_field_has_an_effect_test():
    assert sorted(_spec.leaf_paths()) == sorted(EFFECTS)


@pytest.mark.parametrize("path", sorted(EFFECTS))
def test_field_has_its_effect(path):
    patch, check = EFFECTS[path]
    assert check(render(patch)), "%s had no effect" % path
    # and the check fails without the patch (it is not a check that cannot fail)
    try:
        without = render({})
        result = check(without)
    except (KeyError, IndexError, TypeError, StopIteration):
        result = False
    assert not result, "the check for %s also passes without the field" % path
