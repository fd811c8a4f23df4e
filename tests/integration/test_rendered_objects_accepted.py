"""Every object rendered for a broad set of specs is accepted by the real API server (server-side apply,
strict field validation, dry run: admission and validation run, nothing is stored)."""
from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml
from kubernetes import client

from ansible_collections.openvino.ovms.plugins.module_utils import _reconcile, _render

from ansible_runner import run_task
from conftest import remove_route_api, wait_for

ROUTE_CRD = {
    "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
    "metadata": {"name": "routes.route.openshift.io"},
    "spec": {"group": "route.openshift.io", "scope": "Namespaced",
             "names": {"plural": "routes", "singular": "route", "kind": "Route"},
             "versions": [{"name": "v1", "served": True, "storage": True, "schema": {"openAPIV3Schema": {
                 "type": "object", "x-kubernetes-preserve-unknown-fields": True}}}]},
}

S3 = {"storage_type": "S3", "aws_access_key_id": "id", "aws_secret_access_key": "key", "aws_session_token": "t",
      "aws_region": "us-east-1", "s3_compat_api_endpoint": "http://minio:9000"}
EVERYTHING_ON = {
    "autoscaling": {"enabled": True, "min_replicas": 2, "max_replicas": 5, "target_cpu_utilization": 60,
                    "pod_metrics": [{"name": "ovms_requests_success", "target_average_value": "50"}]},
    "pod_disruption_budget": {"enabled": True, "max_unavailable": "25%"},
    "ingress": {"enabled": True, "host": "ovms.example.com", "class_name": "nginx", "tls_secret_name": "tls",
                "annotations": {"nginx.ingress.kubernetes.io/backend-protocol": "GRPC"}, "port": "grpc"},
    "route": {"enabled": True, "host": "ovms.apps.example.com", "tls_termination": "edge"},
}
SPECS = {
    "google-single-new-ovms": {"models_settings": {"model_path": "gs://b/m"},
                               "models_repository": {"gcp_creds_secret_name": "gcp"}},
    "s3-single-old-ovms-stateful": {"image_name": "openvino/model_server:2025.4",
                                    "models_settings": {"model_path": "s3://b/m", "is_stateful": True,
                                                        "idle_sequence_cleanup": False, "max_sequence_number": 50,
                                                        "low_latency_transformation": True},
                                    "models_repository": S3},
    "azure-multi-generated": {"models_settings": {"single_model_mode": False, "models": [
        {"name": "a", "base_path": "az://c/a", "shape": "auto"}, {"name": "b", "base_path": "azfs://s/b", "nireq": 2}]},
        "models_repository": {"storage_type": "azure", "azure_storage_connection_string": "DefaultEndpoints=x"},
        "monitoring": {"metrics_enable": True, "metrics_list": "ovms_requests_success"}},
    "cluster-pvc-multi-own-configmap": {"models_settings": {"single_model_mode": False,
                                                            "config_configmap_name": "my-config"},
                                        "models_repository": {"storage_type": "cluster", "models_volume_claim": "m",
                                                              "runAsUser": "1000", "runAsGroup": "1000"}},
    "cluster-hostpath-config-path-gpu": {"models_settings": {"single_model_mode": False,
                                                             "config_path": "/models/config.json"},
                                         "models_repository": {"storage_type": "cluster",
                                                               "models_host_path": "/srv/models"},
                                         "deployment_parameters": {"resources": {
                                             "limits": {"cpu": "2", "memory": "4Gi", "xpu_device": "gpu.intel.com/i915"},
                                             "requests": {"cpu": "1", "memory": "2Gi"}},
                                             "node_affinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
                                                 "nodeSelectorTerms": [{"matchExpressions": [{
                                                     "key": "intel.feature.node.kubernetes.io/gpu",
                                                     "operator": "In", "values": ["true"]}]}]}},
                                             "update_strategy": {"type": "RollingUpdate", "rollingUpdate": {
                                                 "maxSurge": 1, "maxUnavailable": 0}},
                                             "openshift_service_mesh": True, "extra_envs_secret": "env",
                                             "extra_envs_configmap": "envcm"}},
    "cluster-models-in-image": {"image_name": "registry.example.com/me/ovms-with-models:2026.3",
                                "models_settings": {"model_path": "/opt/models/resnet", "nireq": 0},
                                "models_repository": {"storage_type": "cluster", "runAsUser": ""}},
    "name-override-s3-single-config-map": {"nameOverride": "serving", "models_settings": {
        "model_path": "s3://b/m", "config_configmap_name": "extra"}, "models_repository": S3},
    "generative-three-models-pvc": {
        "image_name": "openvino/model_server:2025.4",
        "generative_models": [
            {"name": "llm", "source_model": "OpenVINO/Qwen3-8B-int4-ov", "task": "text_generation",
             "target_device": "GPU", "draft_source_model": "OpenVINO/Qwen3-0.6B-int4-ov",
             "task_settings": {"max_num_seqs": 8, "enable_prefix_caching": True, "cache_size": 2}},
            {"source_model": "OpenVINO/bge-base-en-v1.5-fp16-ov", "task": "embeddings", "task_settings": {
                "pooling": "CLS", "normalize": True}},
            {"source_model": "OpenVINO/bge-reranker-base-fp16-ov", "task": "rerank"}],
        "huggingface": {"token_secret": {"name": "hf-token", "key": "token"}, "endpoint": "https://hf.example.com"},
        "model_volume": {"size": "50Gi", "storage_class": "standard", "access_mode": "ReadWriteMany"},
        "deployment_parameters": {"replicas": 2, "resources": {
            "limits": {"cpu": "8", "memory": "16Gi", "xpu_device": "gpu.intel.com/i915"}}},
        "monitoring": {"metrics_enable": True}},
    "generative-one-llm-existing-claim": {
        "generative_models": [{"source_model": "OpenVINO/Qwen3-8B-int4-ov", "task": "text_generation",
                               "task_settings": {"cache_interval_multiplier": 2, "pipeline_type": "OMNI"}}],
        "model_volume": {"claim_name": "models"}},
    "everything-on": dict(EVERYTHING_ON, models_settings={"model_path": "gs://b/m"},
                          deployment_parameters={"resources": {"requests": {"cpu": "1"}}},
                          service_parameters={"service_type": "NodePort", "grpc_port": 9000, "rest_port": 9001},
                          server_settings={"log_level": "DEBUG", "rest_workers": 4, "grpc_workers": 2,
                                           "file_system_poll_wait_seconds": 5},
                          models_repository={"http_proxy": "http://p:3128", "https_proxy": "http://p:3128",
                                             "no_proxy": ".svc"}),
}


def install_route_api(api_client):
    """Install the Route CRD (route.openshift.io/v1, as OpenShift serves it) and wait until it is served."""
    ext = client.ApiextensionsV1Api(api_client)
    try:
        ext.create_custom_resource_definition(ROUTE_CRD)
    except client.ApiException as exc:
        if exc.status != 409:
            raise
    wait_for(lambda: any(r.name == "routes" for r in client.CustomObjectsApi(api_client).get_api_resources(
        "route.openshift.io", "v1").resources), 30, "the Route API to be served")


@pytest.fixture(scope="module")
def route_crd(api_client):
    install_route_api(api_client)
    yield
    remove_route_api(api_client)  # the tests after this module see plain Kubernetes, which serves no Routes


@pytest.mark.parametrize("case", sorted(SPECS))
def test_every_rendered_object_is_accepted(case, api_client, namespace, route_crd):
    manifests = _render.manifests_for(name="srv-" + case[:20].rstrip("-"), namespace=namespace,
                                      spec=copy.deepcopy(SPECS[case]))[0]
    api = _reconcile.Api(api_client)
    kinds = set()
    for m in manifests:
        status, body = api.request("PATCH", _reconcile.object_path(m["kind"], namespace, m["metadata"]["name"]),
                                   body=m, content_type="application/apply-patch+yaml",
                                   query=[("fieldManager", "openvino.ovms"), ("fieldValidation", "Strict"),
                                          ("dryRun", "All")])
        assert status in (200, 201), "%s %s refused: %s" % (m["kind"], m["metadata"]["name"], body)
        kinds.add(m["kind"])
    assert {"Deployment", "Service"} <= kinds
    if case.startswith("generative-three"):
        assert "PersistentVolumeClaim" in kinds and "ConfigMap" in kinds
    if case == "everything-on":
        assert {"HorizontalPodAutoscaler", "PodDisruptionBudget", "Ingress", "Route"} <= kinds


OPERATOR_SAMPLES = Path(__file__).resolve().parents[1] / "data" / "operator"


@pytest.mark.parametrize("sample", sorted(p.name for p in OPERATOR_SAMPLES.glob("*.yaml") if p.name != "rag-config.yaml"))
def test_operator_sample_deploys_unchanged(sample, api_client, namespace, kubeconfig, tmp_path):
    """Each of the operator's sample manifests (tests/data/operator) is applied by the module from the file, as
    it is (server-side apply with strict field validation), then again with nothing to do, then removed."""
    path = OPERATOR_SAMPLES / sample
    manifest = yaml.safe_load(path.read_text())
    core, apps = client.CoreV1Api(api_client), client.AppsV1Api(api_client)
    ns = manifest["metadata"].get("namespace")
    args = {"src": str(path)}
    if ns:  # the sample names its namespace: create it as its user would
        core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=ns)))
    else:
        ns = args["namespace"] = namespace
    try:
        if sample == "rag.yaml":  # the user's own config map, which the operator never makes
            core.create_namespaced_config_map(ns, yaml.safe_load((OPERATOR_SAMPLES / "rag-config.yaml").read_text()))
        applied = run_task("openvino.ovms.modelserver", args, kubeconfig, tmp_path)
        assert not applied.get("failed"), applied.get("msg")
        assert applied["changed"] is True
        assert {o["action"] for o in applied["objects"]} == {"created"}
        name = manifest["metadata"]["name"]
        fullname = name if "ovms" in name else name + "-ovms"
        dep = apps.read_namespaced_deployment(fullname, ns)
        assert dep.spec.selector.match_labels == {"app": fullname, "release": name}
        assert client.CoreV1Api(api_client).read_namespaced_service(fullname, ns).spec.selector == {"app": fullname}
        again = run_task("openvino.ovms.modelserver", args, kubeconfig, tmp_path)
        assert again["changed"] is False, again["objects"]
        gone = run_task("openvino.ovms.modelserver", dict(args, state="absent"), kubeconfig, tmp_path)
        assert not gone.get("failed"), gone.get("msg")
        assert {o["action"] for o in gone["objects"]} == {"deleted"}
        print("%s: %d objects applied (%s)" % (sample, len(applied["objects"]),
                                                ", ".join(sorted(o["kind"] for o in applied["objects"]))))
    finally:
        if ns != namespace:
            core.delete_namespace(ns)
