# -*- coding: utf-8 -*-
# Copyright (c) openvino.ovms contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
#
# PRIVATE: this module_utils file is internal to the openvino.ovms collection. Its API may change
# without notice; other collections must not import it.
"""The ModelServer schema: one table of fields, and everything derived from it.

FIELDS is the single source for the module's argument_spec, the validation of a ModelServer spec
(whichever way it arrives: module options, a ``definition`` or a ``src`` file), the defaults, the
module's option docs and the role's argument specs (a unit test fails when a generated copy drifts).
Adding a field is one entry here plus its rendering in _render.py.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import json
import math
import re

from ansible_collections.openvino.ovms.plugins.module_utils import _chart, _generative, _secrets

API_VERSION = "intel.com/v1alpha1"
KIND = "ModelServer"

# A pinned OVMS release: never `latest`, so that a re-run deploys what was tested.
DEFAULT_IMAGE = "openvino/model_server:2026.3"
CRD_DEFAULT_IMAGE = "registry.connect.redhat.com/intel/openvino-model-server:latest"
CRD_PLACEHOLDER_MODEL_PATH = "gs://<bucket_name>/<model_dir>"
# OVMS 2026.3 removed the stateful-model options and --sequence_cleaner_poll_wait_minutes.
STATEFUL_REMOVED_IN = (2026, 3)

SECRET_FIELDS = ("aws_secret_access_key", "aws_access_key_id", "aws_session_token",
                 "azure_storage_connection_string")


class SpecError(ValueError):
    """Bad input: names the field path and what was expected."""

    def __init__(self, path, message):
        self.path = path
        self.message = message
        super(SpecError, self).__init__("%s: %s" % (path, message))


def F(type, default=None, desc="", choices=None, crd_default=None, min=None, max=None,
      secret=False, ours=False, documented_only=False, note=None, elements=None):
    """A leaf field. type: str, int, bool, dict (free-form), json (a string holding a JSON object),
    quantity (a Kubernetes resource quantity), port, name (DNS-1123 subdomain), shape, list."""
    return {"type": type, "default": default, "desc": desc, "choices": choices, "crd_default": crd_default,
            "min": min, "max": max, "secret": secret, "ours": ours, "documented_only": documented_only,
            "note": note, "elements": elements}


def G(desc, fields, ours=False):
    """A group of fields (a nested object)."""
    return {"type": "group", "desc": desc, "fields": fields, "ours": ours}


def _resources(kind):
    return G("Resource %s of the ovms container." % kind, {
        "cpu": F("quantity", desc="CPU %s, for example C(2) or C(500m)." % kind),
        "memory": F("quantity", desc="Memory %s, for example C(4Gi)." % kind),
        "xpu_device": F("str", desc="An extended resource to %s, for example C(gpu.intel.com/i915)." % (
            "limit" if kind == "limits" else "request")),
        "xpu_device_quantity": F("quantity", default="1", crd_default="1",
                                 desc="How many of I(xpu_device)."),
    })


# Per-model keys accepted in models_settings.models (each becomes one config.json entry).
MODEL_ENTRY_KEYS = {
    "name": "str", "base_path": "str", "target_device": "str", "batch_size": "str", "shape": "shape",
    "layout": "str", "nireq": "int", "plugin_config": "json", "model_version_policy": "json",
}

FIELDS = {
    "image_name": F("str", DEFAULT_IMAGE, crd_default=CRD_DEFAULT_IMAGE,
                    desc="OVMS container image. Its tag decides which OVMS flags are rendered (see I(ovms_version)).",
                    note="Default is a pinned OVMS release instead of the CRD's C(:latest) image."),
    "ovms_version": F("str", ours=True,
                      desc="OVMS version of I(image_name), as C(YYYY.N), when its tag does not say (a digest, "
                           "C(latest), a custom tag). Without it such images follow the newest OVMS contract."),
    "fullnameOverride": F("str", desc="The name of the Deployment, the Service and the Secrets' prefix, instead of "
                                      "the one derived from the resource's name (the operator chart's "
                                      "C(fullnameOverride), a top-level value of the spec); cut at 63 characters."),
    "nameOverride": F("str", desc="Replaces C(ovms) in the naming rule: the name gets the suffix C(-<nameOverride>) "
                                  "unless it already contains it (the operator chart's C(nameOverride))."),
    "deployment_parameters": G("Kubernetes Deployment parameters.", {
        "replicas": F("int", 1, crd_default=1, min=0, desc="Number of pods (ignored while I(autoscaling) is on)."),
        "node_affinity": F("dict", desc="Pod C(affinity.nodeAffinity), as Kubernetes spells it."),
        "pod_affinity": F("dict", desc="Pod C(affinity.podAffinity)."),
        "pod_antiaffinity": F("dict", desc="Pod C(affinity.podAntiAffinity)."),
        "update_strategy": F("dict", desc="The Deployment's C(strategy)."),
        "openshift_service_mesh": F("bool", False, crd_default=False,
                                    desc="Add the pod annotation C(sidecar.istio.io/inject=true)."),
        "resources": G("Container resources.", {"limits": _resources("limits"),
                                                "requests": _resources("requests")}),
        "extra_envs_secret": F("str", desc="A Secret whose keys become environment variables (C(envFrom))."),
        "extra_envs_configmap": F("str", desc="A ConfigMap whose keys become environment variables (C(envFrom))."),
        "pod_labels": F("dict", ours=True, desc="Extra labels on the pods (the selector's labels cannot be changed)."),
        "pod_annotations": F("dict", ours=True, desc="Extra annotations on the pods."),
        "startup_timeout_seconds": F("int", min=10, ours=True,
                                     desc="How long the startup probe lets OVMS load its models (and, with "
                                          "I(generative_models), download them) before Kubernetes may restart it. "
                                          "Defaults to C(600), or C(1800) with I(generative_models)."),
    }),
    "service_parameters": G("Kubernetes Service parameters.", {
        "grpc_port": F("port", 8080, crd_default=8080, desc="Service port for gRPC."),
        "rest_port": F("port", 8081, crd_default=8081, desc="Service port for REST."),
        "service_type": F("str", "ClusterIP", crd_default="ClusterIP",
                          choices=["ClusterIP", "NodePort", "LoadBalancer"], desc="Service type."),
    }),
    "models_settings": G("The model or models to serve.", {
        "single_model_mode": F("bool", True, crd_default=True,
                               desc="Serve one model from I(model_path); C(false) serves a config file."),
        "config_configmap_name": F("str", desc="A ConfigMap of yours (for example holding C(config.json)), mounted "
                                               "read-only at C(/config) in either mode."),
        "config_path": F("str", desc="Multi-model: path of the config file (default C(/config/config.json)), for "
                                     "example C(/config/my.json) in I(config_configmap_name) or a file on the models "
                                     "volume."),
        "models": F("list", elements="dict", ours=True,
                    desc="Multi-model: the models to serve; the module generates C(config.json) in a ConfigMap. "
                         "Each entry takes C(name), C(base_path) and optionally C(target_device), "
                         "C(batch_size), C(shape), C(layout), C(nireq), C(plugin_config), "
                         "C(model_version_policy) (objects or JSON strings)."),
        "model_name": F("str", "resnet", crd_default="resnet", desc="Single-model: the model's name."),
        "model_path": F("str", crd_default=CRD_PLACEHOLDER_MODEL_PATH,
                        desc="Single-model: where the model is (C(gs://), C(s3://), C(az://), C(azfs://) or a "
                             "local path). Required: the CRD's placeholder is refused.",
                        note="The CRD default is a placeholder; it is refused instead of deployed."),
        "shape": F("shape", desc="Model input shape: C(auto), C((1,3,224,224)) or a JSON object per input."),
        "batch_size": F("str", desc="Batch size: C(auto) or a number."),
        "target_device": F("str", "CPU", desc="Target device (CPU, GPU, AUTO, HETERO:..., MULTI:...)."),
        "plugin_config": F("json", '{"PERFORMANCE_HINT":"LATENCY"}', crd_default='{"PERFORMANCE_HINT":"LATENCY"}',
                           desc="Plugin configuration, a JSON object as a string."),
        "model_version_policy": F("json", '{"latest": { "num_versions":1 }}',
                                  crd_default='{"latest": { "num_versions":1 }}',
                                  desc="Model version policy, a JSON object as a string."),
        "layout": F("str", desc="Model layout, for example C(NHWC:NCHW)."),
        "nireq": F("int", min=1, desc="Number of parallel inference requests."),
        "is_stateful": F("bool", False, crd_default=False,
                         desc="Stateful model (OVMS before 2026.3 only)."),
        "idle_sequence_cleanup": F("bool", True, crd_default=True, desc="Stateful: idle sequence cleanup."),
        "low_latency_transformation": F("bool", False, crd_default=False,
                                        desc="Stateful: low latency transformation."),
        "max_sequence_number": F("int", min=1, desc="Stateful: maximum number of sequences."),
    }),
    "server_settings": G("Settings common to all models.", {
        "file_system_poll_wait_seconds": F("int", 1, crd_default=1, min=0,
                                           desc="How often OVMS checks for new model versions and config "
                                                "changes; C(0) disables it (a changed generated config then rolls "
                                                "the pods)."),
        "log_level": F("str", "INFO", crd_default="INFO", choices=["TRACE", "DEBUG", "INFO", "WARNING", "ERROR"],
                       desc="OVMS log level."),
        "grpc_workers": F("int", 1, crd_default=1, min=1,
                          desc="Number of gRPC server instances."),
        "rest_workers": F("int", min=1, desc="Number of REST worker threads."),
        "sequence_cleaner_poll_wait_minutes": F("int", 5, crd_default=5, min=0,
                                                desc="Sequence cleaner interval (OVMS before 2026.3 only)."),
    }),
    "models_repository": G("Where the models are, and the credentials to read them.", {
        "storage_type": F("str", "google", crd_default="google", choices=["S3", "google", "azure", "cluster"],
                          desc="Storage type of the model repository."),
        "models_host_path": F("str", desc="Cluster storage: a host path mounted read-only at C(/models)."),
        "models_volume_claim": F("str", desc="Cluster storage: a PersistentVolumeClaim mounted read-only at "
                                             "C(/models)."),
        "runAsUser": F("str", desc="User ID the container runs as."),
        "runAsGroup": F("str", desc="Group ID the container runs as."),
        "aws_secret_access_key": F("str", secret=True, desc="S3 secret access key (stored in a Secret)."),
        "aws_access_key_id": F("str", secret=True, desc="S3 access key ID (stored in a Secret).",
                               note="The operator puts the key ID in the pod spec in plain text; "
                                    "here it lives in the Secret too."),
        "aws_session_token": F("str", secret=True, ours=True, desc="S3 session token (stored in a Secret)."),
        "aws_region": F("str", desc="S3 region."),
        "s3_compat_api_endpoint": F("str", desc="S3-compatible endpoint (MinIO, ...)."),
        "gcp_creds_secret_name": F("str", desc="A Secret holding C(gcp-creds.json), mounted at C(/secret).",
                                   note="The operator mounts a Secret named gcpcreds whatever this says; "
                                        "here the name is honoured."),
        "azure_storage_connection_string": F("str", secret=True,
                                             desc="Azure storage connection string (stored in a Secret)."),
        "https_proxy": F("str", desc="C(https_proxy) for model downloads."),
        "http_proxy": F("str", desc="C(http_proxy) for model downloads."),
        "no_proxy": F("str", documented_only=True, desc="C(no_proxy) for model downloads.",
                      note="No CRD declares it: the API server drops it before the operator sees it. Here it is "
                           "honoured (an addition)."),
    }),
    "monitoring": G("OVMS metrics.", {
        "metrics_enable": F("bool", False, crd_default=False, desc="Enable the metrics endpoint."),
        "metrics_list": F("str", "", crd_default="", desc="Comma-separated metric names to enable."),
    }),
    "autoscaling": G("A HorizontalPodAutoscaler (autoscaling/v2) for the Deployment. While it is on, the "
                     "replica count belongs to it: a re-apply never resets it.", {
                         "enabled": F("bool", False, desc="Create the HorizontalPodAutoscaler."),
                         "min_replicas": F("int", 1, min=1, desc="Minimum replicas."),
                         "max_replicas": F("int", min=1, desc="Maximum replicas (required when enabled)."),
                         "target_cpu_utilization": F("int", min=1,
                                                     desc="Target average CPU utilisation, in percent of requests."),
                         "pod_metrics": F("list", elements="dict",
                                          desc="Per-pod metrics to average, each C(name) (for example "
                                               "C(ovms_requests_success) or a queue-size metric served by a "
                                               "metrics adapter) and C(target_average_value) (a quantity)."),
                     }, ours=True),
    "pod_disruption_budget": G("A PodDisruptionBudget for the pods.", {
        "enabled": F("bool", False, desc="Create the PodDisruptionBudget."),
        "min_available": F("str", desc="Minimum available pods, a number or a percentage."),
        "max_unavailable": F("str", desc="Maximum unavailable pods, a number or a percentage."),
    }, ours=True),
    "ingress": G("An Ingress (networking.k8s.io/v1) in front of the Service.", {
        "enabled": F("bool", False, desc="Create the Ingress."),
        "host": F("str", desc="Host name."),
        "class_name": F("str", desc="C(ingressClassName)."),
        "path": F("str", "/", desc="HTTP path."),
        "tls_secret_name": F("str", desc="A TLS Secret for the host."),
        "annotations": F("dict", desc="Annotations of the Ingress (for example for gRPC backends)."),
        "port": F("str", "rest", choices=["rest", "grpc"], desc="Which Service port it routes to."),
    }, ours=True),
    "route": G("An OpenShift Route (route.openshift.io/v1) to the Service.", {
        "enabled": F("bool", False, desc="Create the Route."),
        "host": F("str", desc="Host name (empty: OpenShift generates one)."),
        "port": F("str", "rest", choices=["rest", "grpc"], desc="Which Service port it routes to."),
        "tls_termination": F("str", "edge", choices=["edge", "passthrough", "reencrypt", "none"],
                             desc="TLS termination (C(none): plain HTTP)."),
    }, ours=True),
    "generative_models": F("list", elements="dict", ours=True,
                           desc="Generative models pulled from Hugging Face and served through OVMS's "
                                "OpenAI-compatible C(/v3) endpoints (OVMS 2025.3 or later). Each entry takes "
                                "C(source_model) (a Hugging Face repository id such as C(OpenVINO/Qwen3-8B-int4-ov), "
                                "required), C(task) (C(text_generation), C(embeddings), C(rerank), "
                                "C(image_generation), C(text2speech), C(speech2text); required), C(name) (the served "
                                "name; default the C(source_model)), C(target_device) (default C(CPU), always passed), "
                                "C(task_settings) (the task's OVMS flags without C(--), for example "
                                "C({max_num_seqs: 8, enable_prefix_caching: true, cache_size: 2, tool_parser: "
                                "hermes3}); a flag the image's OVMS release does not know is refused, naming the "
                                "release that has it) and C(draft_source_model) (text_generation: a draft model for "
                                "speculative decoding). One model is pulled and served by the server itself "
                                "(C(--source_model)); several are pulled by init containers and served through a "
                                "generated C(model_config_list). Not combinable with the classic models of "
                                "I(models_settings) in one server."),
    "huggingface": G("Hugging Face access for I(generative_models).", {
        "token_secret": G("A Secret of yours holding a Hugging Face token (gated or private repositories): the "
                          "pods get it as C(HF_TOKEN) through a C(secretKeyRef), never in arguments or plain "
                          "environment values.", {
                              "name": F("str", desc="The Secret's name."),
                              "key": F("str", "token", desc="The key of the token in the Secret."),
                          }),
        "endpoint": F("str", desc="C(HF_ENDPOINT): a Hugging Face mirror to download from, for example "
                                  "C(https://hf-mirror.example.com)."),
    }, ours=True),
    "model_volume": G("Where I(generative_models) are downloaded to and kept (mounted writable at C(/models), with "
                      "C(fsGroup) 5000 for the image's user). Without it the models go to an C(emptyDir) and are "
                      "downloaded again whenever a pod starts.", {
                          "claim_name": F("str", desc="An existing PersistentVolumeClaim to use."),
                          "size": F("quantity", desc="Create the PersistentVolumeClaim C(<fullname>-models) of this "
                                                     "size, for example C(50Gi) (instead of I(claim_name))."),
                          "storage_class": F("str", desc="The created claim's storage class (default: the "
                                                         "cluster's default class)."),
                          "access_mode": F("str", "ReadWriteOnce",
                                           choices=["ReadWriteOnce", "ReadWriteOncePod", "ReadWriteMany"],
                                           desc="The created claim's access mode (C(ReadWriteMany) for several "
                                                "replicas on different nodes)."),
                      }, ours=True),
}

GROUPS = tuple(k for k, v in FIELDS.items() if v["type"] == "group")

# The operator's chart leaves a flag out when its value is empty, 0 or false: for these fields 0 and "" mean
# "not set" (OVMS then applies its own default or "auto"), as in the operator's own samples. An absent field
# still gets its default; a field given as 0 or "" gets none.
FALSY_UNSET = frozenset([
    "spec.models_settings.nireq", "spec.models_settings.max_sequence_number", "spec.models_settings.batch_size",
    "spec.models_settings.shape", "spec.models_settings.layout", "spec.models_settings.plugin_config",
    "spec.models_settings.model_version_policy", "spec.server_settings.grpc_workers",
    "spec.server_settings.rest_workers", "spec.monitoring.metrics_list", "spec.models_repository.runAsUser",
    "spec.models_repository.runAsGroup",
])
# The CRD's defaults apply only inside a group that is present; where the whole group is absent the operator's
# Helm values decide. Where the two differ (the reference's header), a missing group gets the Helm value.
GROUP_ABSENT_DEFAULTS = {
    "server_settings": {"sequence_cleaner_poll_wait_minutes": 0},
}

# --- names and formats -------------------------------------------------------------------------------
# Every pattern ends in \Z, not $: "$" would also match before a trailing newline.
DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?\Z")
DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\Z")
DNS1035_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?\Z")
QUANTITY = re.compile(r"^[+]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][-+]?[0-9]{1,3}|[KMGTPE]i|[numkMGTPE])?\Z")
QUALIFIED_RESOURCE = re.compile(r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)+)/"
                                r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?\Z")
QUALIFIED_NAME = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?\Z")
LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?\Z")
# OVMS's own shape syntax (ovms::Shape::fromString): "(" dims ")", each dim -1, N > 0 or a range N:M with 0 < N < M.
_DIM = r"\s*(-1|[0-9]+|[0-9]+\s*:\s*[0-9]+)\s*"
SHAPE_DIMS = re.compile(r"^\(%s(,%s)*\)\Z" % (_DIM, _DIM))
# OVMS's layout syntax (ovms::LayoutConfiguration::fromString): letters NCHWD, "?" and "...", optionally
# "<tensor layout>:<model layout>"; case-insensitive, spaces ignored.
_LAYOUT = r"([NCHWD?]|\.\.\.)+"
LAYOUT = re.compile(r"^%s(:%s)?\Z" % (_LAYOUT, _LAYOUT), re.IGNORECASE)
INT_OR_PERCENT = re.compile(r"^([0-9]{1,10}|[0-9]{1,3}%)\Z")
# A container image reference (the grammar of github.com/distribution/reference).
_PATH_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*"
_DOMAIN = r"(?:(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])(?:\.(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]))*" \
          r"|\[[a-fA-F0-9:]+\])(?::[0-9]+)?"
IMAGE_REFERENCE = re.compile(r"^(?:%s/)?%s(?:/%s)*(?::[\w][\w.-]{0,127})?"
                             r"(?:@[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,})?\Z"
                             % (_DOMAIN, _PATH_COMPONENT, _PATH_COMPONENT))
INT32_MAX = 2 ** 31 - 1  # Kubernetes' integer fields (replicas, probe thresholds, HPA bounds, user IDs) are int32
# OVMS's own bounds where they are narrower than its uint32 flags (ovms::Config::validate).
MAX_REST_WORKERS = 10000
ANNOTATIONS_MAX_BYTES = 256 * 1024


def object_name(name, spec=None):
    """The operator chart's fullname: the Deployment's and the Service's name. The suffix -ovms unless the name
    has 'ovms'; spec.fullnameOverride / spec.nameOverride as in the chart; cut at 63 characters."""
    spec = spec or {}
    return _chart.fullname(name, spec.get("fullnameOverride"), spec.get("nameOverride"))


def check_name(path, value, pattern=DNS1123_SUBDOMAIN, max_len=253, what="a DNS-1123 subdomain"):
    if not isinstance(value, str) or not value:
        raise SpecError(path, "expected a non-empty string, got %s" % _describe(value))
    if len(value) > max_len or not pattern.match(value):
        raise SpecError(path, "%r is not a valid name: expected %s of at most %d characters "
                              "(lower case letters, digits and '-')" % (_clip(value), what, max_len))


def check_identity(name, namespace):
    """metadata.name and metadata.namespace, as the API server checks them (also for state absent and rollback:
    they end up in request paths and label selectors). The name is also the value of the instance label."""
    check_name("metadata.name", name, DNS1123_SUBDOMAIN, 63, "a DNS-1123 subdomain (it is also a label value)")
    check_name("metadata.namespace", namespace, DNS1123_LABEL, 63, "a DNS-1123 label")


def _int_text(value):
    """An integer for a message; a huge one (Python refuses to print more than 4300 digits) by its size."""
    if value.bit_length() > 200:
        return "an integer of about %d digits" % int(value.bit_length() * 0.30103)
    return "%d" % value


def _clip(value, n=80):
    return value if len(value) <= n else value[:n] + "..."


def _describe(value):
    if isinstance(value, str):
        return repr(_clip(value))
    if isinstance(value, int) and not isinstance(value, bool):
        return _int_text(value)
    if isinstance(value, (bool, float)) or value is None:
        return repr(value)
    return "a %s" % {"dict": "mapping", "list": "list"}.get(type(value).__name__, type(value).__name__)


def check_shape(path, value):
    """OVMS's --shape: auto, (1,3,224,224) with -1 and N:M ranges, or a JSON object of such per input."""
    if _shape_ok(value) or _per_input_ok(value, _shape_ok):
        return
    raise SpecError(path, "%r is not a shape OVMS can parse: expected auto, (1,3,224,224) (a dimension may be -1 "
                          "or a range such as 1:8) or a JSON object mapping input names to such shapes, for example "
                          '{"data": "(1,3,224,224)"}' % _clip(value))


def _per_input_ok(value, ok):
    """OVMS's per-input form of shape and layout: a JSON object mapping input names to values `ok` accepts."""
    if not value.startswith("{"):
        return False
    try:
        parsed = json.loads(value)
    except (ValueError, RecursionError):
        return False
    return isinstance(parsed, dict) and bool(parsed) and all(isinstance(v, str) and ok(v) for v in parsed.values())


def _shape_ok(value):
    return value == "auto" or _shape_dims_ok(value)


def _layout_ok(value):
    return bool(LAYOUT.match(value.replace(" ", "")))


def _shape_dims_ok(value):
    if not SHAPE_DIMS.match(value):
        return False
    for dim in value.strip()[1:-1].split(","):
        parts = [p.strip() for p in dim.split(":")]
        if len(parts) == 2:
            lo, hi = int(parts[0]), int(parts[1])
            if not 0 < lo < hi <= INT32_MAX:
                return False
        elif parts[0] != "-1" and not 0 < int(parts[0]) <= INT32_MAX:
            return False
    return True


def check_layout(path, value):
    """OVMS's --layout: NHWC, NHWC:NCHW (tensor:model), N..., or a JSON object of such per input."""
    if _layout_ok(value) or _per_input_ok(value, _layout_ok):
        return
    raise SpecError(path, "%r is not a layout OVMS can parse: expected letters N, C, H, W, D, ? and ... such as "
                          "NHWC, or <tensor layout>:<model layout> such as NHWC:NCHW, or a JSON object mapping input "
                          'names to layouts, for example {"data": "NHWC:NCHW"}' % _clip(value))


# --- coercion ----------------------------------------------------------------------------------------
_TRUE = ("true", "yes", "on", "1")
_FALSE = ("false", "no", "off", "0")


def _check_text(path, value):
    """Text the API server and OVMS can carry: valid Unicode (no lone surrogates), no NUL character."""
    try:
        value.encode("utf-8")
    except UnicodeError:
        raise SpecError(path, "%r is not valid Unicode text" % _clip(value))
    if "\x00" in value:
        raise SpecError(path, "contains a NUL character, which no process argument or environment value can hold")


def check_json(path, value, depth=0):
    """A JSON value as the API server and OVMS read it: mappings with string keys, finite numbers, valid text."""
    if depth > 64:
        raise SpecError(path, "nested more than 64 levels deep")
    if isinstance(value, dict):
        for k, v in value.items():
            if not isinstance(k, str):
                raise SpecError(path, "expected string keys, got the key %s" % _describe(k))
            _check_text("%s.%s" % (path, k), k)
            check_json("%s.%s" % (path, k), v, depth + 1)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            check_json("%s[%d]" % (path, i), v, depth + 1)
    elif isinstance(value, str):
        _check_text(path, value)
    elif isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            raise SpecError(path, "expected a finite number, got %r" % value)
    elif isinstance(value, int) and not isinstance(value, bool):
        if abs(value) >= 2 ** 63:
            raise SpecError(path, "%s does not fit in a 64-bit integer" % _int_text(value))
    elif not isinstance(value, bool) and value is not None:
        raise SpecError(path, "expected a JSON value (mapping, list, string, number, boolean), got %s"
                        % _describe(value))


def _coerce(path, field, value):
    t = field["type"]
    if t in ("str", "quantity", "shape", "json"):
        if isinstance(value, bool):
            raise SpecError(path, "expected a string, got a boolean")
        if isinstance(value, float) and t != "json" and value.is_integer() and abs(value) < 2 ** 53:
            value = int(value)
        if isinstance(value, (int, float)) and t != "json":
            if isinstance(value, int) and value.bit_length() > 200:
                raise SpecError(path, "expected a string, got %s" % _int_text(value))
            value = str(value)
        if t == "json" and isinstance(value, dict):
            check_json(path, value)
            return copy.deepcopy(value)
        if not isinstance(value, str):
            raise SpecError(path, "expected a string, got %s" % _describe(value))
        _check_text(path, value)
        if t == "quantity" and not QUANTITY.match(value):
            raise SpecError(path, "%r is not a Kubernetes quantity (for example 2, 500m, 4Gi)" % _clip(value))
        if t == "shape":
            check_shape(path, value)
        if t == "json":
            try:
                value = json.loads(value)
            except (ValueError, RecursionError) as exc:
                raise SpecError(path, "expected a JSON object in a string, could not parse %r: %s"
                                % (_clip(value), str(exc)[:200]))
            if not isinstance(value, dict):
                raise SpecError(path, "expected a JSON object, got %s" % type(value).__name__)
            check_json(path, value)
        if field["choices"] and value not in field["choices"]:
            raise SpecError(path, "expected one of %s, got %r" % (", ".join(field["choices"]), _clip(value)))
        return value
    if t in ("int", "port"):
        if isinstance(value, bool):
            raise SpecError(path, "expected an integer, got a boolean")
        if isinstance(value, str) and re.match(r"^\s*-?[0-9]{1,30}\s*\Z", value):
            value = int(value)
        if isinstance(value, float) and value.is_integer() and abs(value) < 2 ** 63:
            value = int(value)
        if not isinstance(value, int):
            raise SpecError(path, "expected an integer, got %s" % _describe(value))
        # Without an explicit bound, Kubernetes' int32 (and OVMS's uint32 flags) cap every integer.
        lo, hi = (1, 65535) if t == "port" else (field["min"], INT32_MAX if field["max"] is None else field["max"])
        if (lo is not None and value < lo) or (hi is not None and value > hi):
            if t == "port":
                raise SpecError(path, "expected a port number from 1 to 65535, got %s" % _int_text(value))
            bound = "at least %d" % lo if lo is not None and value < lo else "at most %d" % hi
            raise SpecError(path, "expected an integer %s, got %s" % (bound, _int_text(value)))
        return value
    if t == "bool":
        if isinstance(value, str) and value.lower() in _TRUE + _FALSE:
            return value.lower() in _TRUE
        if not isinstance(value, bool):
            raise SpecError(path, "expected a boolean, got %s" % _describe(value))
        return value
    if t == "dict":
        if not isinstance(value, dict):
            raise SpecError(path, "expected an object (mapping), got %s" % type(value).__name__)
        check_json(path, value)
        return copy.deepcopy(value)
    if t == "list":
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            raise SpecError(path, "expected a list of objects (mappings), got %s" % _describe(value))
        check_json(path, value)
        return copy.deepcopy(value)
    raise AssertionError("unknown field type %s" % t)


def _falsy(key, field, value):
    """0 or "" (the chart's "not set"); never a boolean. A numeric field (and a user or group ID) also given
    as the string "0"."""
    if isinstance(value, bool):
        return False
    if isinstance(value, str):
        numeric = field["type"] == "int" or key in ("runAsUser", "runAsGroup")
        return value.strip() == "" or (numeric and value.strip() == "0")
    return isinstance(value, int) and value == 0


def _normalize_group(path, fields, raw, warnings):
    absent_defaults = GROUP_ABSENT_DEFAULTS.get(path.split(".", 1)[-1], {}) if raw is None else {}
    raw = {} if raw is None else raw
    if not isinstance(raw, dict):
        raise SpecError(path, "expected an object (mapping), got %s" % type(raw).__name__)
    out = {}
    for key in raw:
        if key not in fields:
            if path == "spec.models_repository" and _secrets.unknown_credential(key):  # a misspelled credential
                raise SpecError("%s.%s" % (path, key), _secrets.unknown_credential(key))
            # The operator's spec is free-form: it ignores what it does not know, and so do we (loudly).
            warnings.append("%s.%s is not a ModelServer field and is ignored" % (path, key))
    for key, field in fields.items():
        sub = "%s.%s" % (path, key)
        if field["type"] == "group":
            out[key] = _normalize_group(sub, field["fields"], raw.get(key), warnings)
            continue
        value = raw.get(key)
        if value is not None and sub in FALSY_UNSET and _falsy(key, field, value):
            out[key] = None
            continue
        if value == "" and field["type"] == "str" and field["default"] is None:
            value = None  # an empty optional string is not set
        if value is None and key in absent_defaults:
            value = absent_defaults[key]
        elif value is None or (value == "" and field["type"] not in ("str",)):
            value = copy.deepcopy(field["default"])
            if value is not None and field["type"] == "json":
                value = json.loads(value)
        else:
            value = _coerce(sub, field, value)
        out[key] = value
    return out


# --- versions ----------------------------------------------------------------------------------------
_VERSION_TAG = re.compile(r"^v?(20[0-9]{2})\.([0-9]+)")


def parse_version(text):
    m = _VERSION_TAG.match(text or "")
    return (int(m.group(1)), int(m.group(2))) if m else None


def ovms_version(image, override=None):
    """(year, release) of the image's OVMS, or None when unknown (latest, digests, custom tags):
    unknown follows the newest contract."""
    if override:
        v = parse_version(str(override))
        if v is None:
            raise SpecError("spec.ovms_version", "expected a version like 2025.4, got %r" % (override,))
        return v
    if "@" in image:
        return None
    last = image.rsplit("/", 1)[-1]
    if ":" not in last:
        return None
    return parse_version(last.split(":", 1)[1])


def supports_stateful(version):
    return version is not None and version < STATEFUL_REMOVED_IN


def version_text(version):
    return "%d.%d" % version if version else "newest (tag names no version)"


# --- the whole spec ----------------------------------------------------------------------------------
def normalize(name, namespace, spec):
    """Validate a ModelServer spec and fill in the defaults.

    Returns (spec, warnings). Raises SpecError naming the first bad field. Nothing here talks to a cluster.
    """
    warnings = []
    check_identity(name, namespace)
    if len(name) > _chart.MAX_RELEASE_NAME:
        raise SpecError("metadata.name", "%r has %d characters; the operator cannot deploy a name longer than %d "
                                         "(its Helm release name), and neither does this collection: use a shorter "
                                         "name (fullnameOverride sets the objects' names)"
                        % (name, len(name), _chart.MAX_RELEASE_NAME))
    out = _normalize_group("spec", FIELDS, spec, warnings)
    svc = object_name(name, out)
    if not DNS1035_LABEL.match(svc):
        field = "spec.fullnameOverride" if out["fullnameOverride"] else (
            "spec.nameOverride" if out["nameOverride"] else "metadata.name")
        raise SpecError(field, "the Deployment and Service name %r derived from it must be a DNS-1035 label of at "
                               "most 63 characters (start with a letter; lower case letters, digits, '-')" % svc)
    _check_consistency(out, warnings)
    check_api_rules(name, out)
    return out, warnings


def _check_consistency(s, warnings):
    ms, dp, rep, srv = s["models_settings"], s["deployment_parameters"], s["models_repository"], s["server_settings"]
    version = ovms_version(s["image_name"], s["ovms_version"])

    sp = s["service_parameters"]
    if sp["grpc_port"] == sp["rest_port"]:
        raise SpecError("spec.service_parameters.rest_port", "must differ from grpc_port (both are %d)" % sp["rest_port"])

    generative = _check_generative(s, version, warnings)
    if dp["startup_timeout_seconds"] is None:
        dp["startup_timeout_seconds"] = GENERATIVE_STARTUP_TIMEOUT if generative else STARTUP_TIMEOUT
    if generative:
        pass  # the classic model settings are not used (_check_generative refused the ones that were given)
    elif ms["single_model_mode"]:
        if not ms["model_name"]:
            raise SpecError("spec.models_settings.model_name", "required in single-model mode")
        if not ms["model_path"] or ms["model_path"] == CRD_PLACEHOLDER_MODEL_PATH or "<" in ms["model_path"]:
            raise SpecError("spec.models_settings.model_path",
                            "required in single-model mode: give the real location of the model (the CRD's "
                            "placeholder %s cannot be served)" % CRD_PLACEHOLDER_MODEL_PATH)
        if ms["models"]:
            raise SpecError("spec.models_settings.models", "set single_model_mode: false to serve a list of models")
    else:
        sources = [k for k in ("config_configmap_name", "config_path", "models") if ms[k]]
        if not sources:
            raise SpecError("spec.models_settings", "multi-model mode (single_model_mode: false) needs a config "
                                                    "source: models, config_configmap_name or config_path")
        if ms["models"] and ms["config_configmap_name"]:
            raise SpecError("spec.models_settings.models", "give either models (a generated config) or "
                                                           "config_configmap_name (your own), not both")
        if ms["models"]:
            ms["models"] = _normalize_models(ms["models"], warnings)

    if ms["is_stateful"]:
        if not supports_stateful(version):
            raise SpecError("spec.models_settings.is_stateful",
                            "stateful models were removed in OVMS 2026.3 and the image %s is OVMS %s; use an image "
                            "before 2026.3 (or set ovms_version when its tag does not tell)"
                            % (s["image_name"], version_text(version)))
        if not ms["single_model_mode"]:
            raise SpecError("spec.models_settings.is_stateful", "applies to single-model mode only")

    if ms["config_configmap_name"]:  # mounted at /config in either mode
        check_name("spec.models_settings.config_configmap_name", ms["config_configmap_name"])
    for key in ("extra_envs_secret", "extra_envs_configmap"):
        if dp[key]:
            check_name("spec.deployment_parameters." + key, dp[key])

    for key in ("runAsUser", "runAsGroup"):
        if rep[key] is not None and not re.match(r"^[0-9]+\Z", rep[key]):
            raise SpecError("spec.models_repository." + key, "expected a numeric ID, got %r" % rep[key])
    if rep["models_host_path"] and not rep["models_host_path"].startswith("/"):
        raise SpecError("spec.models_repository.models_host_path", "expected an absolute path")
    for key in ("models_volume_claim", "gcp_creds_secret_name"):
        if rep[key]:
            check_name("spec.models_repository." + key, rep[key])

    if ms["batch_size"] is not None and not _batch_ok(ms["batch_size"]):
        raise SpecError("spec.models_settings.batch_size", "expected auto or a positive integer, got %r"
                        % ms["batch_size"])

    hpa = s["autoscaling"]
    if hpa["enabled"]:
        if hpa["max_replicas"] is None:
            raise SpecError("spec.autoscaling.max_replicas", "required when autoscaling is enabled")
        if hpa["max_replicas"] < hpa["min_replicas"]:
            raise SpecError("spec.autoscaling.max_replicas", "must be at least min_replicas (%d)" % hpa["min_replicas"])
        if not hpa["target_cpu_utilization"] and not hpa["pod_metrics"]:
            raise SpecError("spec.autoscaling", "needs target_cpu_utilization or pod_metrics")
        for i, m in enumerate(hpa["pod_metrics"] or []):
            p = "spec.autoscaling.pod_metrics[%d]" % i
            if not isinstance(m.get("name"), str) or not m["name"]:
                raise SpecError(p + ".name", "required")
            target = str(m.get("target_average_value", ""))
            if not QUANTITY.match(target):
                raise SpecError(p + ".target_average_value", "expected a quantity, got %r" % target)
            m["target_average_value"] = target
        if hpa["target_cpu_utilization"] and not dp["resources"]["requests"]["cpu"]:
            warnings.append("autoscaling.target_cpu_utilization is set but deployment_parameters.resources."
                            "requests.cpu is not: the HPA cannot compute CPU utilisation")

    pdb = s["pod_disruption_budget"]
    if pdb["enabled"]:
        given = [k for k in ("min_available", "max_unavailable") if pdb[k] is not None]
        if len(given) != 1:
            raise SpecError("spec.pod_disruption_budget", "give exactly one of min_available and max_unavailable")
        if not INT_OR_PERCENT.match(pdb[given[0]]):
            raise SpecError("spec.pod_disruption_budget." + given[0], "expected a number or a percentage, got %r"
                            % pdb[given[0]])

    if s["ingress"]["enabled"] and s["ingress"]["tls_secret_name"] and not s["ingress"]["host"]:
        raise SpecError("spec.ingress.host", "required with tls_secret_name")

    if not supports_stateful(version):
        if srv["sequence_cleaner_poll_wait_minutes"] not in (FIELDS["server_settings"]["fields"][
                "sequence_cleaner_poll_wait_minutes"]["default"],
                GROUP_ABSENT_DEFAULTS["server_settings"]["sequence_cleaner_poll_wait_minutes"]):
            warnings.append("server_settings.sequence_cleaner_poll_wait_minutes is ignored: OVMS %s has no sequence "
                            "cleaner (removed in 2026.3)" % version_text(version))
    if s["image_name"].endswith(":latest") or ":" not in s["image_name"].rsplit("/", 1)[-1]:
        warnings.append("image %s is not pinned to a release: a re-run may deploy a different OVMS" % s["image_name"])


# --- generative models (pulled from Hugging Face) ---------------------------------------------------------
STARTUP_TIMEOUT = 600
GENERATIVE_STARTUP_TIMEOUT = 1800
GENERATIVE_KEYS = {"name": "str", "source_model": "str", "task": "str", "target_device": "str",
                   "task_settings": "dict", "draft_source_model": "str"}
# A Hugging Face repository id: [org/]name, letters, digits, '-', '_', '.', not starting or ending with '-' or '.',
# no '--' or '..', each part at most 96 characters.
_HF_PART = r"[A-Za-z0-9](?:[A-Za-z0-9._-]{0,94}[A-Za-z0-9])?"
HF_REPO_ID = re.compile(r"^(?:%s/)?%s\Z" % (_HF_PART, _HF_PART))
SECRET_KEY = re.compile(r"^[-._a-zA-Z0-9]{1,253}\Z")
_SERVABLE_NAME = re.compile(r"^[^\s\x00-\x1f\x7f]{1,255}\Z")


def _check_hf_repo(path, value):
    if not HF_REPO_ID.match(value) or "--" in value or ".." in value:
        raise SpecError(path, "%r is not a Hugging Face repository id: expected [organization/]name of letters, digits, "
                              "'-', '_' and '.' (no '--' or '..'), for example OpenVINO/Qwen3-8B-int4-ov" % _clip(value))


def _release_error(path, what, since, version, image, until=None):
    if until is not None and version is not None and version >= until:
        return SpecError(path, "%s was removed in OVMS %s; the image %s is OVMS %s: use an image before %s"
                         % (what, _generative.text(until), image, version_text(version), _generative.text(until)))
    return SpecError(path, "OVMS %s does not know %s: it came in OVMS %s; the image %s is OVMS %s (use an image of "
                           "%s or later, or set ovms_version when its tag does not tell)"
                     % (version_text(version), what, _generative.text(since), image, version_text(version),
                        _generative.text(since)))


def _check_setting(path, key, value, task, version, image):
    setting = _generative.SETTINGS.get(key)
    if setting is None or task not in setting["tasks"]:
        raise SpecError(path, "%r is not a setting of the task %s%s; its settings: %s"
                        % (_clip(str(key)), task, " (it is one of %s)" % ", ".join(setting["tasks"]) if setting else "",
                           ", ".join(_generative.settings_for(task))))
    if not _generative.known(setting["since"], version, setting["until"]):
        raise _release_error(path, _generative.flag(key), setting["since"], version, image, setting["until"])
    kind = setting["kind"]
    if kind == "bool":
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        if not isinstance(value, bool):
            raise SpecError(path, "expected true or false (OVMS takes the literals), got %s" % _describe(value))
        return value
    if kind in ("int", "number"):
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise SpecError(path, "expected a number, got %s" % _describe(value))
        try:
            number = float(value) if kind == "number" else _coerce(path, F("int"), value)
        except ValueError:
            raise SpecError(path, "expected a number, got %s" % _describe(value))
        if kind == "number" and (math.isnan(number) or math.isinf(number)):
            raise SpecError(path, "expected a finite number, got %s" % _describe(value))
        if setting["min"] is not None and number < setting["min"]:
            raise SpecError(path, "expected a number of at least %d, got %s" % (setting["min"], _describe(value)))
        return number if kind == "int" else value
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise SpecError(path, "expected a string, got %s" % _describe(value))
    value = str(value)
    _check_text(path, value)
    if not value.strip() or "\n" in value:
        raise SpecError(path, "expected a non-empty value on one line, got %r" % _clip(value))
    if kind == "choice":
        if value not in setting["choices"]:
            raise SpecError(path, "expected one of %s, got %r" % (", ".join(setting["choices"]), _clip(value)))
        if not _generative.known(setting["choices"][value], version):
            raise _release_error(path, "%s=%s" % (_generative.flag(key), value), setting["choices"][value],
                                 version, image)
    return value


def _normalize_generative_model(p, m, version, image):
    unknown = sorted(set(m) - set(GENERATIVE_KEYS), key=str)
    if unknown:
        raise SpecError("%s.%s" % (p, unknown[0]), "unknown key (not a setting of a generative model); allowed: %s"
                        % ", ".join(GENERATIVE_KEYS))
    entry = {}
    for key, t in GENERATIVE_KEYS.items():
        if m.get(key) is not None:
            entry[key] = _coerce("%s.%s" % (p, key), F(t), m[key])
    for key in ("source_model", "task"):
        if not entry.get(key):
            raise SpecError("%s.%s" % (p, key), "required")
    _check_hf_repo(p + ".source_model", entry["source_model"])
    if entry.get("draft_source_model"):
        _check_hf_repo(p + ".draft_source_model", entry["draft_source_model"])
    task = entry["task"]
    if task not in _generative.TASKS:
        raise SpecError(p + ".task", "%r is not an OVMS task: expected one of %s"
                        % (_clip(task), ", ".join(_generative.TASKS)))
    if not _generative.known(_generative.TASKS[task], version):
        raise _release_error(p + ".task", "the task %s" % task, _generative.TASKS[task], version, image)
    if entry.get("draft_source_model") and task != "text_generation":
        raise SpecError(p + ".draft_source_model", "speculative decoding is for the task text_generation, not %s" % task)
    entry.setdefault("name", entry["source_model"])
    if not _SERVABLE_NAME.match(entry["name"]):
        raise SpecError(p + ".name", "%r is not a servable name: expected 1 to 255 characters without spaces or "
                                     "control characters" % _clip(entry["name"]))
    entry.setdefault("target_device", "CPU")
    _check_device(p + ".target_device", entry["target_device"])
    entry["task_settings"] = dict((key, _check_setting("%s.task_settings.%s" % (p, key), key, value, task, version,
                                                       image))
                                  for key, value in (entry.get("task_settings") or {}).items())
    return entry


def _check_generative(s, version, warnings):
    """Validate and fill in generative_models, huggingface and model_volume; True when the server is generative."""
    hf, vol, ms, rep = s["huggingface"], s["model_volume"], s["models_settings"], s["models_repository"]
    token = hf["token_secret"]
    if token["name"] is not None:
        check_name("spec.huggingface.token_secret.name", token["name"])
    if token["key"] is not None and not SECRET_KEY.match(token["key"]):
        raise SpecError("spec.huggingface.token_secret.key", "%r is not a valid Secret key: expected letters, digits, "
                                                             "'-', '_' and '.'" % _clip(token["key"]))
    if token["name"] is None and hf["token_secret"]["key"] != "token":
        raise SpecError("spec.huggingface.token_secret.name", "required with token_secret.key")
    if hf["endpoint"] is not None and not re.match(r"^https?://[^\s/]+[^\s]*\Z", hf["endpoint"]):
        raise SpecError("spec.huggingface.endpoint", "%r: expected an http(s) URL, for example "
                                                     "https://hf-mirror.example.com" % _clip(hf["endpoint"]))
    if vol["claim_name"] is not None:
        check_name("spec.model_volume.claim_name", vol["claim_name"])
        if vol["size"] is not None:
            raise SpecError("spec.model_volume", "give either claim_name (an existing claim) or size (a claim this "
                                                 "collection creates), not both")
    for key in ("storage_class",):
        if vol[key] is not None:
            check_name("spec.model_volume." + key, vol[key])
            if vol["size"] is None:
                raise SpecError("spec.model_volume." + key, "applies only with size (a claim this collection creates)")
    if vol["size"] is not None and parse_quantity(vol["size"]) <= 0:
        raise SpecError("spec.model_volume.size", "expected a positive quantity, got %s" % vol["size"])

    models = s["generative_models"]
    if not models:
        for group, given in (("huggingface", token["name"] or hf["endpoint"]),
                             ("model_volume", vol["claim_name"] or vol["size"])):
            if given:
                warnings.append("%s is ignored: there are no generative_models" % group)
        return False
    image = s["image_name"]
    if version is not None and version < _generative.SINCE:
        raise SpecError("spec.generative_models", "generative models pulled from Hugging Face need OVMS %s or later; "
                                                  "the image %s is OVMS %s"
                        % (_generative.text(_generative.SINCE), image, version_text(version)))
    given = [k for k in ("model_path", "models", "config_configmap_name", "config_path") if ms[k]]
    if ms["is_stateful"]:
        given.append("is_stateful")
    if given:
        raise SpecError("spec.models_settings." + given[0], "cannot be combined with generative_models in one server: "
                                                            "deploy the classic models as a server of their own")
    for key in ("models_volume_claim", "models_host_path"):
        if rep[key]:
            raise SpecError("spec.models_repository." + key, "cannot be combined with generative_models in one "
                                                             "server: the models are downloaded to model_volume")
    out, names, sources = [], set(), set()
    for i, m in enumerate(models):
        p = "spec.generative_models[%d]" % i
        entry = _normalize_generative_model(p, m, version, image)
        if entry["name"] in names:
            raise SpecError(p + ".name", "the servable name %r is listed twice" % entry["name"])
        if entry["source_model"] in sources:
            raise SpecError(p + ".source_model", "%r is listed twice: both would be pulled into one directory with one "
                                                 "graph.pbtxt" % entry["source_model"])
        names.add(entry["name"])
        sources.add(entry["source_model"])
        out.append(entry)
    s["generative_models"] = out
    if vol["claim_name"] is None and vol["size"] is None:
        warnings.append("generative_models without model_volume: the models are downloaded into an emptyDir, again "
                        "whenever a pod starts; give model_volume (claim_name or size) to keep them")
    elif vol["size"] is not None and vol["access_mode"] != "ReadWriteMany" and (
            s["autoscaling"]["enabled"] or s["deployment_parameters"]["replicas"] > 1):
        warnings.append("model_volume: several replicas share one %s claim: pods on other nodes cannot mount it "
                        "(access_mode ReadWriteMany for that)" % vol["access_mode"])
    return True


def servables(spec):
    """[{"name", "task"}] of the generative servables of a normalized spec (the openvino.ovms/servables annotation)."""
    return [{"name": m["name"], "task": m["task"]} for m in spec.get("generative_models") or []]


# --- what the API server and OVMS would refuse, checked before any request ------------------------------
# Each rule names the field, the value and what is accepted; docs/validation.md lists them all.
_INGRESS_BAD_SEQUENCES = ("//", "/./", "/../", "%2f", "%2F")
_INGRESS_BAD_SUFFIXES = ("/..", "/.")
_VERSION_POLICIES = ("all", "latest", "specific")


def check_label_key(path, key, what="label"):
    """A label or annotation key: an optional DNS-1123 subdomain prefix and '/', then a name of at most 63
    characters (letters, digits, '-', '_', '.'; alphanumeric at both ends)."""
    if not isinstance(key, str) or not key:
        raise SpecError(path, "expected a non-empty string as %s key, got %s" % (what, _describe(key)))
    prefix, dummy, rest = key.rpartition("/")
    if "/" in key and (not prefix or len(prefix) > 253 or not DNS1123_SUBDOMAIN.match(prefix)):
        raise SpecError(path, "%r is not a valid %s key: its prefix before '/' must be a DNS-1123 subdomain "
                              "(lower case letters, digits, '-' and '.'), for example example.com/team"
                        % (_clip(key), what))
    if not rest or len(rest) > 63 or not QUALIFIED_NAME.match(rest):
        raise SpecError(path, "%r is not a valid %s key: expected [prefix/]name, the name at most 63 characters "
                              "(letters, digits, '-', '_', '.'; starting and ending with a letter or digit)"
                        % (_clip(key), what))


def check_annotations(path, annotations):
    total = 0
    for k, v in (annotations or {}).items():
        check_label_key("%s.%s" % (path, k), k, "annotation")
        if not isinstance(v, str):
            raise SpecError("%s.%s" % (path, k), "expected a string value, got %s (quote it)" % _describe(v))
        total += len(k.encode("utf-8")) + len(v.encode("utf-8"))
    if total > ANNOTATIONS_MAX_BYTES:
        raise SpecError(path, "the annotations take %d bytes; Kubernetes allows at most %d" % (
            total, ANNOTATIONS_MAX_BYTES))


def parse_quantity(text):
    """A Kubernetes quantity (already matched by QUANTITY) as a Decimal, in base units."""
    from decimal import Decimal

    m = QUANTITY.match(text)
    number, suffix = m.group(1), m.group(3) or ""
    value = Decimal(number)
    if suffix[:1] in ("e", "E"):
        return value.scaleb(int(suffix[1:]))
    binary = {"Ki": 10, "Mi": 20, "Gi": 30, "Ti": 40, "Pi": 50, "Ei": 60}
    decimal = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}
    if suffix in binary:
        return value * (2 ** binary[suffix])
    return value.scaleb(decimal[suffix])


def _check_resources(dp):
    base = "spec.deployment_parameters.resources"
    res = dp["resources"]
    for kind in ("limits", "requests"):
        dev = res[kind]["xpu_device"]
        if dev is None:
            continue
        p = "%s.%s.xpu_device" % (base, kind)
        if not QUALIFIED_RESOURCE.match(dev) or len(dev.split("/")[0]) > 253 or len(dev.split("/")[1]) > 63:
            raise SpecError(p, "%r is not an extended resource name: expected domain/name, for example "
                               "gpu.intel.com/i915" % _clip(dev))
        if "kubernetes.io/" in dev:
            raise SpecError(p, "%r is in the kubernetes.io domain, which is reserved for Kubernetes' own resources: "
                               "use the device plugin's name, for example gpu.intel.com/i915" % dev)
        qty = res[kind]["xpu_device_quantity"]
        if qty is None or parse_quantity(qty) != parse_quantity(qty).to_integral_value():
            raise SpecError("%s.%s.xpu_device_quantity" % (base, kind),
                            "expected a whole number for the extended resource %s, got %r" % (dev, qty))
    req, lim = res["requests"], res["limits"]
    if req["xpu_device"]:
        if req["xpu_device"] != lim["xpu_device"]:
            raise SpecError(base + ".limits.xpu_device",
                            "Kubernetes needs a limit for the extended resource %s requested in requests.xpu_device: "
                            "set limits.xpu_device to %s too (or give it in limits only)" % (req["xpu_device"],
                                                                                             req["xpu_device"]))
        if parse_quantity(req["xpu_device_quantity"]) != parse_quantity(lim["xpu_device_quantity"]):
            raise SpecError(base + ".requests.xpu_device_quantity",
                            "an extended resource's request must equal its limit (%s), got %s"
                            % (lim["xpu_device_quantity"], req["xpu_device_quantity"]))
    for key in ("cpu", "memory"):
        if req[key] and lim[key] and parse_quantity(req[key]) > parse_quantity(lim[key]):
            raise SpecError("%s.requests.%s" % (base, key), "the request %s is above the limit %s: expected at most "
                                                            "the limit" % (req[key], lim[key]))


def _check_host(path, host, wildcard):
    import ipaddress

    name = host[2:] if wildcard and host.startswith("*.") else host
    check_name(path, name, DNS1123_SUBDOMAIN, 253, "a DNS name (a DNS-1123 subdomain%s)" % (
        ", optionally starting with *." if wildcard else ""))
    if any(len(label) > 63 for label in name.split(".")):
        raise SpecError(path, "%r has a part longer than 63 characters" % host)
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return
    raise SpecError(path, "%r is an IP address: expected a DNS name" % host)


def _check_version_policy(path, policy):
    if len(policy) != 1 or next(iter(policy)) not in _VERSION_POLICIES:
        raise SpecError(path, "OVMS expects exactly one of %s, for example {\"latest\": {\"num_versions\": 1}}, "
                              "got the keys %s" % (", ".join(_VERSION_POLICIES), ", ".join(sorted(map(str, policy)))
                                                   or "none"))
    value = next(iter(policy.values()))
    if not isinstance(value, dict):
        raise SpecError(path, "expected an object under %s, got %s" % (next(iter(policy)), _describe(value)))


def _check_device(path, device):
    if device is not None and (not device.strip() or device != device.strip() or " " in device):
        raise SpecError(path, "%r is not a device OVMS can use: expected for example CPU, GPU, NPU, AUTO or "
                              "HETERO:GPU,CPU (no spaces)" % device)


def _batch_ok(value):
    """OVMS's batch_size: auto or a positive int32."""
    return value == "auto" or bool(re.match(r"^[1-9][0-9]{0,9}\Z", value)) and int(value) <= INT32_MAX


def check_api_rules(name, s):
    """What Kubernetes or OVMS would refuse in a normalized spec, with the field that causes it."""
    from ansible_collections.openvino.ovms.plugins.module_utils import _render  # _render imports this module

    dp, ms, rep, srv = s["deployment_parameters"], s["models_settings"], s["models_repository"], s["server_settings"]
    image = s["image_name"]
    if not isinstance(image, str) or len(image) > 255 or not IMAGE_REFERENCE.match(image):
        raise SpecError("spec.image_name", "%r is not an image reference: expected [registry/]repository[:tag]"
                                           "[@digest] in lower case, without spaces, for example %s"
                        % (_clip(image or ""), DEFAULT_IMAGE))
    if ms["single_model_mode"]:
        _check_device("spec.models_settings.target_device", ms["target_device"])
        if ms["layout"]:
            check_layout("spec.models_settings.layout", ms["layout"])
        if ms["model_version_policy"]:
            _check_version_policy("spec.models_settings.model_version_policy", ms["model_version_policy"])
    for i, m in enumerate(ms["models"] or []):
        p = "spec.models_settings.models[%d]" % i
        _check_device(p + ".target_device", m.get("target_device"))
        if m.get("layout"):
            check_layout(p + ".layout", m["layout"])
        if m.get("model_version_policy"):
            _check_version_policy(p + ".model_version_policy", m["model_version_policy"])
    if srv["rest_workers"] and not 2 <= srv["rest_workers"] <= MAX_REST_WORKERS:
        raise SpecError("spec.server_settings.rest_workers", "OVMS accepts from 2 to %d REST workers, got %d"
                        % (MAX_REST_WORKERS, srv["rest_workers"]))
    if dp["startup_timeout_seconds"] is not None and dp["startup_timeout_seconds"] > INT32_MAX:
        raise SpecError("spec.deployment_parameters.startup_timeout_seconds", "expected at most %d seconds, got %d"
                        % (INT32_MAX, dp["startup_timeout_seconds"]))

    _check_resources(dp)
    # the labels the Deployment selects its pods by (the chart's), and ours that find a server's pods by name
    selector = _chart.deployment_selector(name, object_name(name, s))
    from ansible_collections.openvino.ovms.plugins.module_utils import _render  # imports this module

    selector.update(_render.instance_labels(name))
    for k, v in (dp["pod_labels"] or {}).items():
        p = "spec.deployment_parameters.pod_labels.%s" % k
        check_label_key(p, k)
        if not isinstance(v, str):
            raise SpecError(p, "expected a string value, got %s (quote it)" % _describe(v))
        if len(v) > 63 or not LABEL_VALUE.match(v):
            raise SpecError(p, "%r is not a valid label value: expected at most 63 characters (letters, digits, '-', "
                               "'_', '.'; starting and ending with a letter or digit) or an empty string" % _clip(v))
        if k in selector and selector[k] != v:
            raise SpecError(p, "the Deployment selects its pods by %s=%s, so this label cannot be changed: remove it"
                            % (k, selector[k]))
    check_annotations("spec.deployment_parameters.pod_annotations", dp["pod_annotations"])
    for key in ("runAsUser", "runAsGroup"):
        if rep[key] is not None and re.match(r"^[0-9]{1,30}\Z", rep[key]) and int(rep[key]) > INT32_MAX:
            raise SpecError("spec.models_repository." + key, "expected a numeric ID from 0 to %d, got %s"
                            % (INT32_MAX, rep[key]))
    host_path = rep["models_host_path"]
    if host_path and ".." in host_path.split("/"):
        raise SpecError("spec.models_repository.models_host_path",
                        "%r contains '..': Kubernetes refuses host paths with back-steps" % host_path)

    hpa = s["autoscaling"]
    if hpa["enabled"]:
        for i, m in enumerate(hpa["pod_metrics"] or []):
            p = "spec.autoscaling.pod_metrics[%d]" % i
            if m["name"] in (".", "..") or "/" in m["name"] or "%" in m["name"]:
                raise SpecError(p + ".name", "%r is not a metric name Kubernetes accepts: no '/', no '%%', not . or .."
                                % m["name"])
            if parse_quantity(m["target_average_value"]) <= 0:
                raise SpecError(p + ".target_average_value", "expected a positive quantity, got %s"
                                % m["target_average_value"])
    pdb = s["pod_disruption_budget"]
    if pdb["enabled"]:
        for key in ("min_available", "max_unavailable"):
            v = pdb[key]
            bound = 100 if v is not None and v.endswith("%") else INT32_MAX
            if v is not None and INT_OR_PERCENT.match(v) and int(v.rstrip("%")) > bound:
                raise SpecError("spec.pod_disruption_budget." + key,
                                "expected a number up to %d or a percentage up to 100%%, got %s" % (INT32_MAX, v))

    ing = s["ingress"]
    if ing["enabled"]:
        path = ing["path"]
        if not path or not path.startswith("/"):
            raise SpecError("spec.ingress.path", "%r is not an absolute path: expected it to start with /, for "
                                                 "example /v2" % (path or ""))
        bad = [q for q in _INGRESS_BAD_SEQUENCES if q in path] + [q for q in _INGRESS_BAD_SUFFIXES if path.endswith(q)]
        if bad:
            raise SpecError("spec.ingress.path", "%r contains %r, which Kubernetes refuses in an Ingress path"
                            % (path, bad[0]))
        if ing["class_name"]:
            check_name("spec.ingress.class_name", ing["class_name"], DNS1123_SUBDOMAIN, 253,
                       "an IngressClass name (a DNS-1123 subdomain)")
        if ing["host"]:
            _check_host("spec.ingress.host", ing["host"], wildcard=True)
        if ing["tls_secret_name"]:
            check_name("spec.ingress.tls_secret_name", ing["tls_secret_name"])
        check_annotations("spec.ingress.annotations", ing["annotations"])
    if s["route"]["enabled"] and s["route"]["host"]:
        _check_host("spec.route.host", s["route"]["host"], wildcard=False)


def _normalize_models(models, warnings):
    seen = set()
    out = []
    for i, m in enumerate(models):
        p = "spec.models_settings.models[%d]" % i
        unknown = sorted(set(m) - set(MODEL_ENTRY_KEYS), key=str)
        if unknown:
            raise SpecError("%s.%s" % (p, unknown[0]), "unknown key (OVMS rejects it in config.json); allowed: %s"
                            % ", ".join(MODEL_ENTRY_KEYS))
        entry = {}
        for key, t in MODEL_ENTRY_KEYS.items():
            if m.get(key) is None:
                continue
            entry[key] = _coerce("%s.%s" % (p, key), F(t, min=1), m[key])
        for key in ("name", "base_path"):
            if not entry.get(key):
                raise SpecError("%s.%s" % (p, key), "required")
        if entry["name"] in seen:
            raise SpecError(p + ".name", "duplicate model name %r" % entry["name"])
        seen.add(entry["name"])
        if "batch_size" in entry and not _batch_ok(entry["batch_size"]):
            raise SpecError(p + ".batch_size", "expected auto or a positive integer, got %r" % entry["batch_size"])
        out.append(entry)
    return out


# --- input: a ModelServer manifest, or options -------------------------------------------------------
def from_manifest(manifest, namespace=None):
    """(name, namespace, raw spec) from a ModelServer manifest written for the operator."""
    if not isinstance(manifest, dict):
        raise SpecError("definition", "expected a ModelServer manifest (a mapping), got %s" % _describe(manifest))
    if manifest.get("kind") != KIND:
        raise SpecError("definition.kind", "expected %s, got %s" % (KIND, _describe(manifest.get("kind"))))
    if manifest.get("apiVersion") != API_VERSION:
        raise SpecError("definition.apiVersion", "expected %s, got %s" % (API_VERSION,
                                                                          _describe(manifest.get("apiVersion"))))
    meta = manifest.get("metadata")
    meta = {} if meta is None else meta
    if not isinstance(meta, dict):
        raise SpecError("metadata", "expected an object (mapping) with name and namespace, got %s" % _describe(meta))
    name = meta.get("name")
    if name is None or name == "":
        raise SpecError("metadata.name", "required")
    ns = meta.get("namespace") or namespace
    if not ns:
        raise SpecError("metadata.namespace", "required (in the manifest or as the namespace option)")
    if namespace and meta.get("namespace") and meta["namespace"] != namespace:
        raise SpecError("metadata.namespace", "the manifest says %s but the namespace option says %s"
                        % (_describe(meta["namespace"]), _describe(namespace)))
    check_identity(name, ns)
    spec = manifest.get("spec")
    return name, ns, {} if spec is None else spec


# --- derived copies: Ansible argument_spec and docs --------------------------------------------------
_ARG_TYPES = {"str": "str", "quantity": "raw", "shape": "str", "json": "raw", "int": "int", "port": "int",
              "bool": "bool", "dict": "dict", "list": "list"}


def _argspec(fields):
    spec = {}
    for key, f in fields.items():
        if f["type"] == "group":
            spec[key] = {"type": "dict", "options": _argspec(f["fields"])}
            if "secret" in key or "token" in key:
                spec[key]["no_log"] = False  # names a Secret (huggingface.token_secret), holds no credential
            continue
        a = {"type": _ARG_TYPES[f["type"]]}
        if f["choices"]:
            a["choices"] = list(f["choices"])
        if f["secret"]:
            a["no_log"] = True
        elif "secret" in key or "key" in key or "token" in key:
            a["no_log"] = False  # a Secret's name or a key's ID, not a credential
        if f["type"] == "list":
            a["elements"] = f["elements"]
        spec[key] = a
    return spec


def argument_spec():
    """The spec options of the module (defaults are applied by normalize(), for every input path)."""
    return _argspec(FIELDS)


def _doc_default(f):
    if f["default"] is None or f["default"] == "":
        return ""
    return " Defaults to C(%s)." % (f["default"] if not isinstance(f["default"], bool) else str(f["default"]).lower())


def _docs(fields, prefix="spec"):
    out = {}
    for key, f in fields.items():
        if f["type"] == "group":
            out[key] = {"description": [f["desc"]], "type": "dict", "suboptions": _docs(f["fields"], "%s.%s" % (prefix, key))}
            continue
        path = "%s.%s" % (prefix, key)
        desc = f["desc"] + _doc_default(f)
        if f["crd_default"] is not None and f["crd_default"] != f["default"] and f["type"] != "json":
            desc += " (The CRD's default is C(%s).)" % f["crd_default"]
        lines = [desc]
        if f["note"]:
            lines.append(f["note"])
        if f["ours"]:
            lines.append("Not a field of the operator's CRD: an addition of this collection.")
        if path in FALSY_UNSET:
            lines.append("C(0) and C(\"\") mean not set, as with the operator: the flag or setting is left out.")
        absent = GROUP_ABSENT_DEFAULTS.get(prefix.split(".")[-1], {})
        if key in absent:
            lines.append("When the whole group is absent, the default is C(%s), as with the operator (its Helm "
                         "values)." % absent[key])
        d = {"description": lines, "type": _ARG_TYPES[f["type"]]}
        if f["choices"]:
            d["choices"] = list(f["choices"])
        if f["type"] == "list":
            d["elements"] = f["elements"]
        out[key] = d
    return out


def option_docs():
    """The module's DOCUMENTATION options for the spec fields (written into the module by a generator)."""
    return _docs(FIELDS)


def field_keys(fields=None):
    """Every key of the schema, groups included (huggingface.token_secret names a Secret: not a credential)."""
    fields = FIELDS if fields is None else fields
    out = set(fields)
    for f in fields.values():
        if f["type"] == "group":
            out |= field_keys(f["fields"])
    return out


def leaf_paths(fields=None, prefix="spec"):
    """Every leaf field as a dotted path, for tests and docs."""
    fields = FIELDS if fields is None else fields
    out = []
    for key, f in fields.items():
        if f["type"] == "group":
            out.extend(leaf_paths(f["fields"], "%s.%s" % (prefix, key)))
        else:
            out.append("%s.%s" % (prefix, key))
    return out
