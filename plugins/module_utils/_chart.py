# -*- coding: utf-8 -*-
# Copyright (c) openvino.ovms contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
#
# PRIVATE: this module_utils file is internal to the openvino.ovms collection. Its API may change
# without notice; other collections must not import it.
"""What the operator's Helm chart (helm-charts/ovms, which the operator renders for every ModelServer) names
and labels, and the one table of the places where this collection deliberately renders something else.

DIFFERENCES is the single source of the README section "Deliberate differences from the operator" and of the
module's DOCUMENTATION notes (both written by tools/gen_docs.py; a unit test fails when they drift).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

CHART_NAME = "ovms"
CHART_VERSION = "4.0.0"  # the chart of the operator's last release
# Helm's limit on a release name; the operator names the release after the resource.
MAX_RELEASE_NAME = 53
MAX_NAME = 63


def _trunc(text):
    """Helm's `trunc 63 | trimSuffix "-"` (trimSuffix removes one trailing '-', not all)."""
    text = text[:MAX_NAME]
    return text[:-1] if text.endswith("-") else text


def fullname(name, fullname_override=None, name_override=None):
    """The chart's `ovms.fullname`: fullnameOverride when given; else the release name, with the suffix
    -<nameOverride or ovms> unless the release name already contains it; cut at 63 characters."""
    if fullname_override:
        return _trunc(fullname_override)
    base = name_override or CHART_NAME
    if base in name:
        return _trunc(name)
    return _trunc("%s-%s" % (name, base))


def labels(name, full):
    """The chart's labels on the Deployment, its pod template and the Service."""
    return {"app": full, "release": name, "chart": "%s-%s" % (CHART_NAME, CHART_VERSION), "heritage": "Helm"}


def deployment_selector(name, full):
    """The chart's Deployment selector (immutable once created: an operator-made Deployment has exactly this)."""
    return {"app": full, "release": name}


def service_selector(full):
    return {"app": full}


# Each place where this collection renders something other than the operator's chart, on purpose:
# (short name, what we do, why). Everything else renders what the chart renders.
DIFFERENCES = [
    ("default image",
     "The default image_name is the pinned OVMS release openvino/model_server:2026.3, not the CRD's "
     "registry.connect.redhat.com/intel/openvino-model-server:latest (nor the chart's openvino/model_server:latest).",
     "A re-run deploys what was tested; :latest changes under you (and 2026.3 changed the command line)."),
    ("placeholder model path",
     "The CRD's default model_path gs://<bucket_name>/<model_dir> (or any path with '<') is refused before any "
     "request.",
     "It is a placeholder: the operator deploys it and OVMS crash-loops on it."),
    ("credentials only in Secrets",
     "aws_access_key_id reaches the pod through a secretKeyRef (key access_key_id of <fullname>-aws-secret), not as "
     "a plain env value; aws_session_token (ours) is key session_token of the same Secret.",
     "The key ID is a credential too: it must not show in the pod spec, in diffs or in `kubectl get -o yaml`."),
    ("gcp_creds_secret_name honoured",
     "The Secret named in gcp_creds_secret_name is mounted at /secret; the chart mounts a Secret named gcpcreds "
     "whatever the field says.",
     "The field would otherwise have no effect and a differently named Secret could never be used."),
    ("startup probe",
     "The container has a startup probe on /v2/health/live (deployment_parameters.startup_timeout_seconds, "
     "600 s by default) besides the chart's liveness and readiness probes; with generative_models it asks "
     "/v2/health/ready (1800 s by default), so that its budget covers the download and the compilation.",
     "Large models load for minutes; without it the liveness probe restarts OVMS in the middle of the load."),
    ("flags removed in OVMS 2026.3",
     "For images of OVMS 2026.3 and later (or whose tag names no version), --sequence_cleaner_poll_wait_minutes is "
     "not passed, and is_stateful (--stateful, --idle_sequence_cleanup, --low_latency_transformation, "
     "--max_sequence_number) is refused.",
     "OVMS 2026.3 removed these options and exits on an unknown option; the chart always passes the first."),
    ("metrics_list needs metrics_enable",
     "--metrics_list is passed only together with --metrics_enable.",
     "The chart passes it alone, which OVMS refuses at start-up."),
    ("no_proxy",
     "models_repository.no_proxy becomes the env variable no_proxy.",
     "No CRD declares the field, so the API server drops it before the operator sees it; here it is an addition."),
    ("runAsUser and runAsGroup are numbers",
     "runAsUser / runAsGroup must be numeric IDs (\"\" and 0 mean not set, as in the chart).",
     "Kubernetes refuses anything else; the chart would render it and the API server refuse it."),
    ("names longer than 53 characters refused",
     "A metadata.name longer than 53 characters is refused before any request.",
     "The operator cannot deploy it either (Helm's release name limit); refusing it says so up front."),
    ("our labels besides the chart's",
     "Every object also carries app.kubernetes.io/name=openvino-model-server, app.kubernetes.io/instance=<name> and "
     "app.kubernetes.io/managed-by=openvino.ovms (the pods the first two), and the Deployment the annotation "
     "openvino.ovms/ovms-version; the chart's labels, Deployment selector and Service selector are kept as the chart "
     "has them.",
     "Prune and state=absent find the objects by these labels, never by guessing names; the pods' instance label "
     "finds a server's pods by its name alone; the annotation records which OVMS contract the flags follow."),
    ("arguments as --flag=value",
     "Each OVMS argument is one list item --flag=value (the chart passes --flag and value as two items); the order "
     "is the chart's. plugin_config and model_version_policy are parsed as JSON objects and passed compact "
     "({\"latest\":{\"num_versions\":1}}).",
     "The same command line for OVMS; invalid JSON is refused before deploying instead of crash-looping, and a "
     "whitespace-only edit does not roll the pods."),
    ("additions",
     "Fields that are not in the CRD (ovms_version, pod_labels, pod_annotations, startup_timeout_seconds, "
     "models_settings.models, aws_session_token, autoscaling, pod_disruption_budget, ingress, route, "
     "generative_models, huggingface, model_volume) render objects or settings the chart does not have; they are "
     "off when not given. A manifest using generative_models is not one for the operator.",
     "Left unset, a spec renders what the operator renders."),
]
