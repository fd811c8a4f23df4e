"""The operator's sample manifests (tests/data/operator) render what the operator's Helm chart renders for them,
modulo the deliberate differences of _chart.DIFFERENCES.

What the chart renders is written out below for each sample, by hand, from the rules in the project's reference
(operator-behaviour.md, modelserver-v1alpha1-fields.yaml): the CRD's defaults inside a group that is given, the
chart's values where a whole group (or a field without a CRD default) is absent, 0 and "" leave a flag out.
`ours()` then applies each documented difference, by its name in the table, and nothing else."""
import base64
import copy
import json
from pathlib import Path

import pytest

from ansible_collections.openvino.ovms.plugins.module_utils import _chart, _render, _runner, _spec

DATA = Path(__file__).resolve().parents[1] / "data" / "operator"
CHART_LABEL = "ovms-4.0.0"
NEWEST = "newest"  # an image whose OVMS has no --sequence_cleaner_poll_wait_minutes (2026.3 or later, or :latest)

CHART = {
    "sample.yaml": {
        "namespace": "ovms", "name": "ovms-sample", "fullname": "ovms-sample", "ovms": NEWEST,
        "image": "registry.connect.redhat.com/intel/openvino-model-server:latest",
        "replicas": 1,
        "args": [("--model_path", "gs://ovms-public-eu/resnet50-binary"), ("--model_name", "resnet"),
                 ("--target_device", "CPU"), ("--plugin_config", '{"PERFORMANCE_HINT":"LATENCY"}'),
                 ("--model_version_policy", '{"latest": { "num_versions":1 }}'),
                 ("--log_level", "INFO"), ("--file_system_poll_wait_seconds", "0"), ("--grpc_workers", "1"),
                 ("--sequence_cleaner_poll_wait_minutes", "0"), ("--port", "8080"), ("--rest_port", "8081")],
        "env": [], "envFrom": [], "volumes": [], "mounts": [],
        "resources": {"limits": {"cpu": "1", "memory": "500Mi"}},
        "service": ("ClusterIP", 8080, 8081), "secrets": {},
    },
    "quickstart.yaml": {
        "namespace": "ovms-quickstart", "name": "resnet", "fullname": "resnet-ovms", "ovms": (2025, 4),
        "image": "openvino/model_server:2025.4",
        "replicas": 2,
        # server_settings absent: the chart's values (poll 1, sequence cleaner 0, grpc_workers 1, rest_workers 0)
        "args": [("--model_path", "gs://ovms-public-eu/resnet50-binary"), ("--model_name", "resnet"),
                 ("--target_device", "CPU"), ("--nireq", "4"), ("--plugin_config", '{"PERFORMANCE_HINT":"LATENCY"}'),
                 ("--shape", "(1,3,224,224)"), ("--model_version_policy", '{"latest": { "num_versions":1 }}'),
                 ("--log_level", "INFO"), ("--file_system_poll_wait_seconds", "1"), ("--grpc_workers", "1"),
                 ("--sequence_cleaner_poll_wait_minutes", "0"), ("--port", "8080"), ("--rest_port", "8081")],
        "env": [], "envFrom": [], "volumes": [], "mounts": [], "resources": {},
        "service": ("NodePort", 8080, 8081), "secrets": {},
    },
    "rag.yaml": {
        "namespace": "ovms-rag", "name": "rag", "fullname": "rag-ovms", "ovms": NEWEST,
        "image": "openvino/model_server:2026.3-gpu",
        "replicas": 1,
        # grpc_workers 0 and metrics_list "" leave their flags out; server_settings given: sequence cleaner 5
        "args": [("--config_path", "/config/config.json"), "--metrics_enable",
                 ("--log_level", "INFO"), ("--file_system_poll_wait_seconds", "0"), ("--rest_workers", "4"),
                 ("--sequence_cleaner_poll_wait_minutes", "5"), ("--port", "8080"), ("--rest_port", "8081")],
        "env": [], "envFrom": [{"configMapRef": {"name": "rag-env"}}],
        "volumes": [{"name": "config", "configMap": {"name": "rag-config"}},
                    {"name": "models", "persistentVolumeClaim": {"claimName": "rag-models"}}],
        "mounts": [{"name": "config", "mountPath": "/config", "readOnly": True},
                   {"name": "models", "mountPath": "/models", "readOnly": True}],
        "securityContext": {"runAsUser": 5000, "runAsGroup": 5000},
        "resources": {"limits": {"cpu": "8", "memory": "32Gi", "gpu.intel.com/i915": "1"},
                      "requests": {"cpu": "4", "memory": "16Gi"}},
        "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
            {"matchExpressions": [{"key": "intel.feature.node.kubernetes.io/gpu", "operator": "In",
                                   "values": ["true"]}]}]}}},
        "service": ("ClusterIP", 9000, 8000), "secrets": {},
    },
    "hpa.yaml": {
        "namespace": "ovms-autoscaling", "name": "ovms-hpa", "fullname": "ovms-hpa", "ovms": NEWEST,
        "image": "openvino/model_server:2026.3",
        "replicas": 1,
        # config_path inside the config map, mounted at /config although config_path is set
        "args": [("--config_path", "/config/models.json"), "--metrics_enable",
                 ("--metrics_list", "ovms_requests_success,ovms_infer_req_queue_size"),
                 ("--log_level", "INFO"), ("--file_system_poll_wait_seconds", "1"), ("--grpc_workers", "1"),
                 ("--sequence_cleaner_poll_wait_minutes", "5"), ("--port", "8080"), ("--rest_port", "8081")],
        "env": [], "envFrom": [],
        "volumes": [{"name": "config", "configMap": {"name": "ovms-hpa-config"}}],
        "mounts": [{"name": "config", "mountPath": "/config", "readOnly": True}],
        "resources": {"limits": {"cpu": "2", "memory": "2Gi"}, "requests": {"cpu": "1", "memory": "1Gi"}},
        "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
        "service": ("ClusterIP", 8080, 8081), "secrets": {},
    },
    "s3-minio.yaml": {
        "namespace": "ovms-s3", "name": "face-detection", "fullname": "face-detection-ovms", "ovms": NEWEST,
        "image": "openvino/model_server:2026.3",
        "replicas": 1,
        # plugin_config "" leaves the flag out; the chart passes --metrics_list without --metrics_enable
        "args": [("--model_path", "s3://models/face-detection-retail-0004"), ("--model_name", "face-detection"),
                 ("--target_device", "CPU"), ("--batch_size", "auto"), ("--layout", "NHWC:NCHW"),
                 ("--model_version_policy", '{"specific": {"versions": [1, 2]}}'),
                 ("--metrics_list", "ovms_requests_success"),
                 ("--log_level", "DEBUG"), ("--file_system_poll_wait_seconds", "5"), ("--grpc_workers", "1"),
                 ("--sequence_cleaner_poll_wait_minutes", "5"), ("--port", "8080"), ("--rest_port", "8081")],
        "env": [{"name": "https_proxy", "value": "http://proxy.example.internal:3128"},
                {"name": "AWS_ACCESS_KEY_ID", "value": "FAKE-ACCESS-KEY-ID"},
                {"name": "AWS_SECRET_ACCESS_KEY", "valueFrom": {"secretKeyRef": {
                    "name": "face-detection-ovms-aws-secret", "key": "secret_access_key"}}},
                {"name": "AWS_REGION", "value": "us-east-1"},
                {"name": "S3_ENDPOINT", "value": "http://minio.minio.svc:9000"}],
        "envFrom": [{"secretRef": {"name": "face-env"}}],
        "volumes": [], "mounts": [], "resources": {},
        "pod_annotations": {"sidecar.istio.io/inject": "true"},  # openshift_service_mesh
        # runAsUser 0: the chart drops it, no securityContext
        "service": ("ClusterIP", 8080, 8081),
        "secrets": {"face-detection-ovms-aws-secret": {"secret_access_key": "FAKE-SECRET-ACCESS-KEY"}},
    },
}

DIFFERENCE_NAMES = set(d[0] for d in _chart.DIFFERENCES)


def difference(name):
    """A documented difference by its name in the table (fails when the table no longer has it)."""
    assert name in DIFFERENCE_NAMES, name
    return name


def ours(chart):
    """The chart's render with the documented differences applied."""
    out = copy.deepcopy(chart)
    args = []
    has_metrics_enable = "--metrics_enable" in chart["args"]
    for item in chart["args"]:
        flag, value = (item, None) if isinstance(item, str) else item
        if flag == "--sequence_cleaner_poll_wait_minutes" and chart["ovms"] == NEWEST:
            difference("flags removed in OVMS 2026.3")
            continue
        if flag == "--metrics_list" and not has_metrics_enable:
            difference("metrics_list needs metrics_enable")
            continue
        if flag in ("--plugin_config", "--model_version_policy"):
            difference("arguments as --flag=value")
            value = json.dumps(json.loads(value), separators=(",", ":"))
        difference("arguments as --flag=value")
        args.append(flag if value is None else "%s=%s" % (flag, value))
    out["args"] = args
    for env in out["env"]:
        if env["name"] == "AWS_ACCESS_KEY_ID":
            difference("credentials only in Secrets")
            secret = "%s-aws-secret" % chart["fullname"]
            out["secrets"][secret]["access_key_id"] = env.pop("value")
            env["valueFrom"] = {"secretKeyRef": {"name": secret, "key": "access_key_id"}}
    return out


def load(sample):
    """The sample as the module reads a src file, rendered by the module's pipeline."""
    chart = CHART[sample]
    manifest = _runner.load_src(str(DATA / sample))
    namespace = None if manifest["metadata"].get("namespace") else chart["namespace"]
    manifests, spec, name, ns, warnings = _render.manifests_for(definition=manifest, namespace=namespace)
    return manifests, spec, name, ns


def test_every_sample_file_has_its_expected_chart_render():
    assert sorted(CHART) == sorted(p.name for p in DATA.glob("*.yaml") if p.name != "rag-config.yaml")


@pytest.mark.parametrize("sample", sorted(CHART))
def test_sample_renders_what_the_chart_renders(sample):
    chart = CHART[sample]
    want = ours(chart)
    manifests, spec, name, ns = load(sample)
    assert (name, ns) == (chart["name"], chart["namespace"])
    by_kind = {}
    for m in manifests:
        by_kind.setdefault(m["kind"], []).append(m)
    # the chart makes a Deployment, a Service and the credential Secrets: nothing else, and neither do we here
    assert sorted(by_kind) == sorted(["Deployment", "Service"] + (["Secret"] if chart["secrets"] else []))
    dep, svc = by_kind["Deployment"][0], by_kind["Service"][0]
    full = chart["fullname"]
    chart_labels = {"app": full, "release": name, "chart": CHART_LABEL, "heritage": "Helm"}
    difference("our labels besides the chart's")
    owner = {"app.kubernetes.io/name": "openvino-model-server", "app.kubernetes.io/instance": name,
             "app.kubernetes.io/managed-by": "openvino.ovms"}

    assert dep["metadata"]["name"] == svc["metadata"]["name"] == full
    assert dep["metadata"]["namespace"] == svc["metadata"]["namespace"] == ns
    assert dep["metadata"]["labels"] == dict(chart_labels, **owner)
    assert svc["metadata"]["labels"] == dict(chart_labels, **owner)
    assert dep["spec"]["selector"] == {"matchLabels": {"app": full, "release": name}}
    assert svc["spec"]["selector"] == {"app": full}
    template = dep["spec"]["template"]
    assert template["metadata"]["labels"] == dict(chart_labels, **{
        "app.kubernetes.io/name": "openvino-model-server", "app.kubernetes.io/instance": name})
    assert template["metadata"].get("annotations", {}) == chart.get("pod_annotations", {})
    assert dep["spec"]["replicas"] == chart["replicas"]
    assert dep["spec"].get("strategy") == chart.get("strategy")
    assert template["spec"].get("affinity") == chart.get("affinity")

    pod = template["spec"]
    assert [c["name"] for c in pod["containers"]] == ["ovms"]
    c = pod["containers"][0]
    assert c["image"] == chart["image"]
    assert c["args"] == want["args"]
    assert c.get("env", []) == want["env"]
    assert c.get("envFrom", []) == want["envFrom"]
    assert c.get("volumeMounts", []) == want["mounts"]
    assert pod.get("volumes", []) == want["volumes"]
    assert c.get("securityContext") == chart.get("securityContext")
    assert c.get("resources", {}) == chart["resources"]
    assert [(p["name"], p["containerPort"]) for p in c["ports"]] == [("grpc", 8080), ("rest", 8081)]
    assert c["livenessProbe"]["httpGet"] == {"path": "/v2/health/live", "port": "rest"}
    assert c["readinessProbe"] == {"httpGet": {"path": "/v2/health/ready", "port": "rest"},
                                   "initialDelaySeconds": 5, "periodSeconds": 5}
    difference("startup probe")
    assert c["startupProbe"]["httpGet"] == {"path": "/v2/health/live", "port": "rest"}

    service_type, grpc, rest = chart["service"]
    assert svc["spec"]["type"] == service_type
    assert [(p["name"], p["port"], p["targetPort"], p["protocol"]) for p in svc["spec"]["ports"]] == [
        ("grpc", grpc, 8080, "TCP"), ("rest", rest, 8081, "TCP")]

    secrets = dict((s["metadata"]["name"], s) for s in by_kind.get("Secret", []))
    assert sorted(secrets) == sorted(want["secrets"])
    for secret_name, data in want["secrets"].items():
        got = dict((k, base64.b64decode(v).decode()) for k, v in secrets[secret_name]["data"].items())
        assert got == data
        assert secrets[secret_name]["metadata"]["labels"] == owner
    # credentials only ever in Secrets
    text = json.dumps([m for m in manifests if m["kind"] != "Secret"])
    for data in want["secrets"].values():
        for value in data.values():
            assert value not in text


def test_the_operator_sample_sets_unset_fields_as_zero_and_empty():
    """The point of the sample: its 0 and "" are accepted and mean "not set"."""
    _, spec, _, _ = load("sample.yaml")
    ms, srv, rep = spec["models_settings"], spec["server_settings"], spec["models_repository"]
    assert (ms["nireq"], ms["max_sequence_number"], ms["batch_size"], ms["shape"], ms["layout"]) == (None,) * 5
    assert (srv["rest_workers"], rep["runAsUser"], rep["runAsGroup"], spec["monitoring"]["metrics_list"]) == (None,) * 4


@pytest.mark.parametrize("patch, flag", [
    ({"models_settings": {"nireq": 0}}, "--nireq"),
    ({"models_settings": {"plugin_config": ""}}, "--plugin_config"),
    ({"models_settings": {"model_version_policy": ""}}, "--model_version_policy"),
    ({"models_settings": {"batch_size": ""}}, "--batch_size"),
    ({"models_settings": {"shape": ""}}, "--shape"),
    ({"models_settings": {"layout": ""}}, "--layout"),
    ({"server_settings": {"grpc_workers": 0}}, "--grpc_workers"),
    ({"server_settings": {"rest_workers": 0}}, "--rest_workers"),
    ({"monitoring": {"metrics_enable": True, "metrics_list": ""}}, "--metrics_list"),
    ({"image_name": "openvino/model_server:2025.4",
      "models_settings": {"is_stateful": True, "max_sequence_number": 0}}, "--max_sequence_number"),
])
def test_zero_and_empty_leave_the_flag_out(patch, flag):
    base = {"models_settings": {"model_path": "gs://b/m"}}
    for group, values in patch.items():
        if isinstance(values, dict):
            base.setdefault(group, {}).update(values)
        else:
            base[group] = values
    manifests = _render.manifests_for(name="r", namespace="n", spec=base)[0]
    args = next(m for m in manifests if m["kind"] == "Deployment")["spec"]["template"]["spec"]["containers"][0]["args"]
    assert not [a for a in args if a.split("=")[0] == flag]


@pytest.mark.parametrize("value", ["", 0, "0"])
def test_run_as_user_empty_or_zero_is_not_set(value):
    manifests = _render.manifests_for(name="r", namespace="n", spec={
        "models_settings": {"model_path": "gs://b/m"},
        "models_repository": {"runAsUser": value, "runAsGroup": value}})[0]
    container = next(m for m in manifests if m["kind"] == "Deployment")["spec"]["template"]["spec"]["containers"][0]
    assert "securityContext" not in container


def test_absent_fields_still_get_their_defaults():
    spec = _spec.normalize("r", "n", {"models_settings": {"model_path": "gs://b/m"},
                                      "server_settings": {"log_level": "INFO"}})[0]
    assert spec["models_settings"]["plugin_config"] == {"PERFORMANCE_HINT": "LATENCY"}
    assert spec["server_settings"]["file_system_poll_wait_seconds"] == 1
    assert spec["server_settings"]["grpc_workers"] == 1
    assert spec["server_settings"]["sequence_cleaner_poll_wait_minutes"] == 5  # the CRD's, inside a given group
    absent = _spec.normalize("r", "n", {"models_settings": {"model_path": "gs://b/m"}})[0]
    assert absent["server_settings"]["sequence_cleaner_poll_wait_minutes"] == 0  # the chart's, group absent
    assert absent["server_settings"]["file_system_poll_wait_seconds"] == 1


def test_cluster_storage_without_a_volume_has_the_models_in_the_image():
    manifests = _render.manifests_for(name="r", namespace="n", spec={
        "image_name": "registry.example.com/me/ovms-with-models:2026.3",
        "models_settings": {"model_path": "/opt/models/resnet"}, "models_repository": {"storage_type": "cluster"}})[0]
    pod = next(m for m in manifests if m["kind"] == "Deployment")["spec"]["template"]["spec"]
    assert "volumes" not in pod and "volumeMounts" not in pod["containers"][0]


def test_config_map_is_mounted_in_single_model_mode_too():
    manifests = _render.manifests_for(name="r", namespace="n", spec={
        "models_settings": {"model_path": "gs://b/m", "config_configmap_name": "extra"}})[0]
    pod = next(m for m in manifests if m["kind"] == "Deployment")["spec"]["template"]["spec"]
    assert pod["volumes"] == [{"name": "config", "configMap": {"name": "extra"}}]
    assert pod["containers"][0]["volumeMounts"] == [{"name": "config", "mountPath": "/config", "readOnly": True}]


@pytest.mark.parametrize("name, spec, fullname", [
    ("resnet", {}, "resnet-ovms"),
    ("ovms-sample", {}, "ovms-sample"),
    ("my-ovms-server", {}, "my-ovms-server"),
    ("resnet", {"nameOverride": "serving"}, "resnet-serving"),
    ("serving-a", {"nameOverride": "serving"}, "serving-a"),
    ("ovms-x", {"nameOverride": "serving"}, "ovms-x-serving"),
    ("resnet", {"fullnameOverride": "vision"}, "vision"),
    ("resnet", {"fullnameOverride": "v" * 70}, "v" * 63),
    ("a" * 53, {}, "a" * 53 + "-ovms"),
    ("a" * 53, {"nameOverride": "b" * 20}, ("a" * 53 + "-" + "b" * 20)[:63]),
    ("a" * 53, {"nameOverride": "b" * 9}, "a" * 53 + "-" + "b" * 9),
    ("a" * 52, {"nameOverride": "b" * 11}, "a" * 52 + "-" + "b" * 10),
    ("a" * 52 + "-", {"fullnameOverride": "c" * 62 + "-" + "d"}, "c" * 62),
])
def test_fullname_is_the_charts(name, spec, fullname):
    """The chart's ovms.fullname: override, else <name>-<nameOverride or ovms> unless contained; trunc 63 then
    trimSuffix '-' (one dash)."""
    assert _spec.object_name(name, spec) == fullname


def test_name_longer_than_53_characters_is_refused():
    with pytest.raises(_spec.SpecError, match="metadata.name: .* has 54 characters; the operator cannot deploy"):
        _spec.normalize("a" * 54, "n", {"models_settings": {"model_path": "gs://b/m"}})
    assert _spec.normalize("a" * 53, "n", {"models_settings": {"model_path": "gs://b/m"}})


def test_a_deployment_with_another_selector_is_refused_before_any_write_naming_the_fix():
    from ansible_collections.openvino.ovms.plugins.module_utils import _reconcile

    manifests = _render.manifests_for(name="r", namespace="n", spec={"models_settings": {"model_path": "gs://b/m"}})[0]
    dep = next(m for m in manifests if m["kind"] == "Deployment")
    live = copy.deepcopy(dep)
    _reconcile.check_immutable_selectors(manifests, {("Deployment", "r-ovms"): live})  # the same: fine
    # what openvino.ovms 0.1.0 made
    live["spec"]["selector"] = {"matchLabels": {"app.kubernetes.io/name": "openvino-model-server",
                                                "app.kubernetes.io/instance": "r"}}
    with pytest.raises(_reconcile.ReconcileError) as exc:
        _reconcile.check_immutable_selectors(manifests, {("Deployment", "r-ovms"): live})
    message = str(exc.value)
    assert "Deployment n/r-ovms selects its pods by app.kubernetes.io/instance=r,app.kubernetes.io/name=" in message
    assert "selects them by app=r-ovms,release=r" in message
    assert "kubectl -n n delete deployment r-ovms" in message and "Nothing was changed" in message
