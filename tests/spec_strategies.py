"""Hypothesis strategies for ModelServer input, drawn from the reference field table
(tests/fixtures/modelserver-v1alpha1-fields.yaml, a copy of the shared reference) and from _spec.FIELDS for this
collection's own additions; and the table of refusal rules in docs/validation.md, which the tests hold every
refusal to.

Bounded and reproducible by default (a fixed seed: derandomize); OVMS_HYPOTHESIS_EXAMPLES=<n> runs n examples
per property with a random seed instead.
"""
from __future__ import annotations

import os
import re
from pathlib import Path

import yaml
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from ansible_collections.openvino.ovms.plugins.module_utils import _spec

ROOT = Path(__file__).resolve().parents[1]
FIELD_TABLE = yaml.safe_load((ROOT / "tests" / "fixtures" / "modelserver-v1alpha1-fields.yaml").read_text())
RULES_DOC = ROOT / "docs" / "validation.md"


def bounded(default_examples):
    """Hypothesis settings: `default_examples` with a fixed seed, or OVMS_HYPOTHESIS_EXAMPLES with a random one."""
    more = int(os.environ.get("OVMS_HYPOTHESIS_EXAMPLES", "0") or 0)
    return settings(max_examples=more or default_examples, derandomize=not more, database=None, deadline=None,
                    suppress_health_check=list(HealthCheck), print_blob=True)


# --- the rules of docs/validation.md ----------------------------------------------------------------------------
def _glob(pattern):
    return re.compile(re.escape(pattern).replace(r"\*", ".*") + r"\Z", re.DOTALL)


def load_rules():
    """[(rule, [field patterns], [message fragments])] from the table in docs/validation.md."""
    rules = []
    for line in RULES_DOC.read_text().splitlines():
        if not line.startswith("| ") or line.startswith("| Rule") or line.startswith("| ---"):
            continue
        cells = [c.strip() for c in line.strip().strip("|").split(" | ")]
        fields = [_glob(f) for f in re.findall(r"`([^`]+)`", cells[1])]
        rules.append((cells[0], fields, re.findall(r"`([^`]+)`", cells[2])))
    assert len(rules) > 20, "the rules table of %s was not found" % RULES_DOC
    return rules


RULES = load_rules()


def rule_of(error):
    """The documented rule a SpecError falls under, or None."""
    path = re.sub(r"^servers\[\d+\]\.", "", error.path)
    path = re.sub(r"\[\d+\]", "[]", path)
    for rule, fields, messages in RULES:
        if any(f.match(path) for f in fields) and any(m in error.message for m in messages):
            return rule
    return None


# --- specs the CRD allows ---------------------------------------------------------------------------------------
NODE_AFFINITY = {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [{"matchExpressions": [
    {"key": "intel.feature.node.kubernetes.io/gpu", "operator": "In", "values": ["true"]}]}]}}
POD_AFFINITY = {"preferredDuringSchedulingIgnoredDuringExecution": [{"weight": 50, "podAffinityTerm": {
    "labelSelector": {"matchLabels": {"app": "cache"}}, "topologyKey": "kubernetes.io/hostname"}}]}
# Plausible values per field (as a user would write them), mixed with arbitrary values of the field's type.
PLAUSIBLE = {
    "spec.image_name": ["openvino/model_server:2025.4", "openvino/model_server:2026.3", "quay.io/org/ovms:latest",
                        "registry.example.com:5000/ovms/server@sha256:" + "a" * 64, "openvino/model_server"],
    "spec.deployment_parameters.node_affinity": [NODE_AFFINITY, {}],
    "spec.deployment_parameters.pod_affinity": [POD_AFFINITY],
    "spec.deployment_parameters.pod_antiaffinity": [POD_AFFINITY],
    "spec.deployment_parameters.update_strategy": [{"type": "Recreate"}, {"type": "RollingUpdate", "rollingUpdate": {
        "maxSurge": 1, "maxUnavailable": 0}}],
    "spec.deployment_parameters.resources.limits.cpu": ["1", "2", "500m", "0.5", "4"],
    "spec.deployment_parameters.resources.limits.memory": ["1Gi", "512Mi", "4G", "1e9"],
    "spec.deployment_parameters.resources.limits.xpu_device": ["gpu.intel.com/i915", "gpu.intel.com/xe"],
    "spec.deployment_parameters.resources.limits.xpu_device_quantity": ["1", "2"],
    "spec.deployment_parameters.resources.requests.cpu": ["1", "250m", "2"],
    "spec.deployment_parameters.resources.requests.memory": ["1Gi", "256Mi"],
    "spec.deployment_parameters.resources.requests.xpu_device": ["gpu.intel.com/i915"],
    "spec.deployment_parameters.resources.requests.xpu_device_quantity": ["1", "2"],
    "spec.deployment_parameters.extra_envs_secret": ["env-secret"],
    "spec.deployment_parameters.extra_envs_configmap": ["env-cm"],
    "spec.deployment_parameters.pod_labels": [{"team": "vision"}, {"example.com/tier": "gold", "empty": ""}],
    "spec.deployment_parameters.pod_annotations": [{"prometheus.io/scrape": "true"}],
    "spec.deployment_parameters.startup_timeout_seconds": [60, 600],
    "spec.models_settings.config_configmap_name": ["my-config"],
    "spec.models_settings.config_path": ["/models/config.json"],
    "spec.models_settings.model_name": ["resnet", "face-detection"],
    "spec.models_settings.model_path": ["gs://bucket/resnet", "s3://models/m", "/models/resnet", "az://c/m"],
    "spec.models_settings.shape": ["auto", "(1,3,224,224)", "(1, 3, -1, 1:8)", '{"data": "(1,3,224,224)"}'],
    "spec.models_settings.batch_size": ["auto", "1", "8"],
    "spec.models_settings.target_device": ["CPU", "GPU", "AUTO", "HETERO:GPU,CPU"],
    "spec.models_settings.plugin_config": ['{"PERFORMANCE_HINT":"THROUGHPUT"}', "{}"],
    "spec.models_settings.model_version_policy": ['{"latest":{"num_versions":2}}', '{"all":{}}',
                                                  '{"specific":{"versions":[1,2]}}'],
    "spec.models_settings.layout": ["NHWC", "NHWC:NCHW", "N..."],
    "spec.models_settings.models": [[{"name": "a", "base_path": "gs://b/a"}],
                                    [{"name": "a", "base_path": "/m/a", "shape": "auto", "nireq": 2,
                                      "plugin_config": {"NUM_STREAMS": "2"}}, {"name": "b", "base_path": "/m/b"}]],
    "spec.models_repository.models_host_path": ["/srv/models"],
    "spec.models_repository.models_volume_claim": ["models-pvc"],
    "spec.models_repository.runAsUser": ["1000", "0"],
    "spec.models_repository.runAsGroup": ["1000"],
    "spec.models_repository.aws_secret_access_key": ["s3cr3t"],
    "spec.models_repository.aws_access_key_id": ["AKIAEXAMPLE"],
    "spec.models_repository.aws_session_token": ["token"],
    "spec.models_repository.aws_region": ["eu-west-1"],
    "spec.models_repository.s3_compat_api_endpoint": ["http://minio:9000"],
    "spec.models_repository.gcp_creds_secret_name": ["gcp-creds"],
    "spec.models_repository.azure_storage_connection_string": ["DefaultEndpointsProtocol=https;AccountName=x"],
    "spec.models_repository.https_proxy": ["http://proxy:3128"],
    "spec.models_repository.http_proxy": ["http://proxy:3128"],
    "spec.models_repository.no_proxy": [".svc,localhost"],
    "spec.monitoring.metrics_list": ["ovms_requests_success,ovms_infer_req_active"],
    "spec.autoscaling.max_replicas": [3, 10],
    "spec.autoscaling.target_cpu_utilization": [60, 150],
    "spec.autoscaling.pod_metrics": [[{"name": "ovms_requests_success", "target_average_value": "50"}]],
    "spec.pod_disruption_budget.min_available": ["1", "50%"],
    "spec.pod_disruption_budget.max_unavailable": ["1", "25%"],
    "spec.ingress.host": ["ovms.example.com", "*.apps.example.com"],
    "spec.ingress.class_name": ["nginx"],
    "spec.ingress.path": ["/", "/v2", "/ovms/api"],
    "spec.ingress.tls_secret_name": ["tls"],
    "spec.ingress.annotations": [{"nginx.ingress.kubernetes.io/backend-protocol": "GRPC"}],
    "spec.route.host": ["ovms.apps.example.com"],
    "spec.generative_models": [
        [{"source_model": "OpenVINO/Qwen3-8B-int4-ov", "task": "text_generation",
          "task_settings": {"max_num_seqs": 8, "enable_prefix_caching": True, "cache_size": 2}}],
        [{"name": "llm", "source_model": "OpenVINO/Qwen3-8B-int4-ov", "task": "text_generation", "target_device": "GPU",
          "task_settings": {"tool_parser": "hermes3", "model_distribution_policy": "TENSOR_PARALLEL"},
          "draft_source_model": "OpenVINO/Qwen3-0.6B-int4-ov"},
         {"source_model": "OpenVINO/bge-base-en-v1.5-fp16-ov", "task": "embeddings", "task_settings": {
             "pooling": "CLS", "truncate": True}},
         {"source_model": "OpenVINO/bge-reranker-base-fp16-ov", "task": "rerank"}],
        [{"source_model": "OpenVINO/whisper-base-fp16-ov", "task": "speech2text",
          "task_settings": {"num_streams": 2}}]],
    "spec.huggingface.token_secret.name": ["hf-token"],
    "spec.huggingface.token_secret.key": ["token", "hf_token"],
    "spec.huggingface.endpoint": ["https://hf-mirror.example.com"],
    "spec.model_volume.claim_name": ["llm-models"],
    "spec.model_volume.size": ["50Gi", "1Ti"],
    "spec.model_volume.storage_class": ["standard"],
}
_CRD_TYPES = {"string": "str", "integer": "int", "boolean": "bool", "object": "dict"}


def field_types():
    """{path: (type, enum)}: the CRD's fields from the reference table, this collection's own from _spec.FIELDS."""
    out = {}
    for f in FIELD_TABLE:
        out[f["path"]] = (_CRD_TYPES[f["type"]], f.get("enum"))

    def walk(fields, prefix):
        for key, f in fields.items():
            path = "%s.%s" % (prefix, key)
            if f["type"] == "group":
                walk(f["fields"], path)
            elif path not in out:
                t = {"port": "int", "quantity": "str", "shape": "str", "json": "str", "name": "str"}.get(f["type"],
                                                                                                         f["type"])
                out[path] = (t, f["choices"])
    walk(_spec.FIELDS, "spec")
    return out


FIELD_TYPES = field_types()
INT64 = st.integers(-2 ** 63, 2 ** 63 - 1)


def value_of(path):
    """A value of the field's type, as the CRD (or our schema) allows: plausible ones and arbitrary ones."""
    t, enum = FIELD_TYPES[path]
    plausible = PLAUSIBLE.get(path, [])
    if enum:
        return st.sampled_from(enum)
    if t == "str":
        arbitrary = st.one_of(st.text(max_size=20), st.sampled_from(["", "0", " ", "a b", "A_B", "/x", "x/../y"]))
    elif t == "int":
        arbitrary = st.one_of(st.integers(0, 10), INT64, st.sampled_from([2 ** 31 - 1, 2 ** 31, 2 ** 32, -1]))
    elif t == "bool":
        return st.booleans()
    elif t == "dict":
        arbitrary = st.dictionaries(st.text(max_size=12), st.text(max_size=12), max_size=3)
    elif t == "list":
        arbitrary = st.lists(st.dictionaries(st.sampled_from(["name", "base_path", "target_average_value", "x"]),
                                             st.text(max_size=8)), max_size=2)
    else:
        raise AssertionError(t)
    if plausible:
        return st.one_of(st.sampled_from(plausible), st.sampled_from(plausible), arbitrary)
    return arbitrary


def set_path(spec, path, value):
    keys = path.split(".")[1:]
    node = spec
    for k in keys[:-1]:
        node = node.setdefault(k, {})
    node[keys[-1]] = value


@st.composite
def crd_specs(draw):
    """A spec the CRD's schema allows: some fields set, each to a value of its type, over a base that often
    names a real model; enabled extras often enough to reach their rules."""
    spec = {}
    base = draw(st.integers(0, 5))
    if 1 <= base <= 4:
        spec = {"models_settings": {"model_path": draw(st.sampled_from(PLAUSIBLE["spec.models_settings.model_path"]))}}
    elif base == 5:  # generative models pulled from Hugging Face instead of a classic model
        spec = {"generative_models": draw(st.sampled_from(PLAUSIBLE["spec.generative_models"]))}
    needs = {"autoscaling": {"max_replicas": 4, "target_cpu_utilization": 80},
             "pod_disruption_budget": {"min_available": "1"}, "ingress": {}, "route": {}}
    for group in ("autoscaling", "pod_disruption_budget", "ingress", "route"):
        if draw(st.integers(0, 3)) == 0:
            set_path(spec, "spec.%s.enabled" % group, True)
            if draw(st.integers(0, 3)):  # usually with what it needs, sometimes without
                spec[group].update(needs[group])
    paths = draw(st.lists(st.sampled_from(sorted(FIELD_TYPES)), unique=True, max_size=8))
    for path in paths:
        set_path(spec, path, draw(value_of(path)))
    return spec


# --- arbitrary junk ---------------------------------------------------------------------------------------------
NASTY_NAMES = ["ns/../kube-system", "Bad_NS", "", " ", "a" * 300, "ünïcode", "x\n", "kube-system/", "../", "%2F",
               "a\x00b", "\ud800", "default", "ovms", "-x", "x.y", "UPPER"]
junk_scalars = st.one_of(st.none(), st.booleans(), INT64, st.integers(), st.floats(), st.binary(max_size=8),
                         st.integers(0, 4).map(lambda i: [10 ** 5000, -10 ** 5000, 2 ** 63, 1e308, float("inf")][i]),
                         st.text(st.characters(codec=None), max_size=12), st.sampled_from(NASTY_NAMES), st.dates())
junk = st.recursive(junk_scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=3),
    st.dictionaries(st.one_of(st.text(max_size=8), st.integers(), st.none(), st.booleans()), inner, max_size=3)),
    max_leaves=8)
leaf_paths = sorted(FIELD_TYPES)
group_names = sorted(k for k, v in _spec.FIELDS.items() if v["type"] == "group")


@st.composite
def junk_specs(draw):
    """A spec with junk somewhere: the whole spec, a group, a leaf, or a plausible spec with one field replaced."""
    where = draw(st.sampled_from(["spec", "group", "leaf", "crd"]))
    if where == "spec":
        return draw(junk)
    if where == "group":
        return {draw(st.sampled_from(group_names)): draw(junk)}
    spec = draw(crd_specs()) if where == "crd" else {"models_settings": {"model_path": "gs://b/m"}}
    path = draw(st.sampled_from(leaf_paths))
    try:
        set_path(spec, path, draw(junk))
    except (AttributeError, TypeError):  # the crd spec put a non-mapping on the way: junk already
        pass
    return spec
