# -*- coding: utf-8 -*-
# Copyright (c) openvino.ovms contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
#
# PRIVATE: this module_utils file is internal to the openvino.ovms collection.
"""A validated ModelServer spec -> the Kubernetes manifests that serve it. Pure and deterministic:
no cluster, no clock, no randomness, so the same input always renders the same objects."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import hashlib
import json

from ansible_collections.openvino.ovms.plugins.module_utils import _chart, _generative, _spec

MANAGER = "openvino.ovms"
GRPC_CONTAINER_PORT = 8080
REST_CONTAINER_PORT = 8081
CONFIG_MOUNT = "/config"
MODELS_MOUNT = "/models"
GCP_MOUNT = "/secret"

LABEL_NAME = "app.kubernetes.io/name"
LABEL_INSTANCE = "app.kubernetes.io/instance"
LABEL_MANAGED_BY = "app.kubernetes.io/managed-by"
APP_NAME = "openvino-model-server"
ANNOTATION_CONFIG_CHECKSUM = "openvino.ovms/config-checksum"
ANNOTATION_OVMS_VERSION = "openvino.ovms/ovms-version"
# On the Deployment and its pod template of a server with generative_models: a JSON list of {"name", "task"}, one
# per servable, for the verification that waits for them and sends each its smoke request.
ANNOTATION_SERVABLES = "openvino.ovms/servables"
HF_TOKEN_ENV = "HF_TOKEN"

# Every kind this collection may create, in apply order (dependencies first), with its REST location:
# kind -> (apiVersion, plural). Prune and state=absent look at exactly these kinds.
KINDS = [
    ("Secret", "v1", "secrets"),
    ("ConfigMap", "v1", "configmaps"),
    ("PersistentVolumeClaim", "v1", "persistentvolumeclaims"),
    ("Deployment", "apps/v1", "deployments"),
    ("Service", "v1", "services"),
    ("HorizontalPodAutoscaler", "autoscaling/v2", "horizontalpodautoscalers"),
    ("PodDisruptionBudget", "policy/v1", "poddisruptionbudgets"),
    ("Ingress", "networking.k8s.io/v1", "ingresses"),
    ("Route", "route.openshift.io/v1", "routes"),
]
KIND_ORDER = {k[0]: i for i, k in enumerate(KINDS)}


def owner_labels(name):
    """Labels on every object of a model server: prune and state=absent select by exactly these."""
    return {LABEL_NAME: APP_NAME, LABEL_INSTANCE: name, LABEL_MANAGED_BY: MANAGER}


def instance_labels(name):
    """Our labels on the pods (besides the chart's): they find a server's pods and ReplicaSets by its name alone,
    whatever fullnameOverride says."""
    return {LABEL_NAME: APP_NAME, LABEL_INSTANCE: name}


def pod_labels(name, fullname):
    """Every label the pod template carries besides the user's pod_labels: the chart's and instance_labels."""
    labels = _chart.labels(name, fullname)
    labels.update(instance_labels(name))
    return labels


def pod_selector(name):
    """instance_labels as a label selector string (the pods and ReplicaSets of one model server)."""
    return ",".join("%s=%s" % kv for kv in sorted(instance_labels(name).items()))


def owner_selector(name=None):
    parts = ["%s=%s" % (LABEL_NAME, APP_NAME), "%s=%s" % (LABEL_MANAGED_BY, MANAGER)]
    if name:
        parts.append("%s=%s" % (LABEL_INSTANCE, name))
    return ",".join(parts)


def aws_secret_name(fullname):
    """The chart's name of the S3 Secret (key secret_access_key; ours add access_key_id and session_token)."""
    return fullname + "-aws-secret"


def azure_secret_name(fullname):
    """The chart's name of the Azure Secret (key connection_string)."""
    return fullname + "-azure-secret"


def config_map_name(fullname):
    return fullname + "-config"


def model_volume_claim_name(fullname):
    """The PersistentVolumeClaim the module creates for model_volume.size."""
    return fullname + "-models"


def _meta(name, namespace, obj_name, annotations=None, extra_labels=None):
    labels = dict(extra_labels or {})
    labels.update(owner_labels(name))
    meta = {"name": obj_name, "namespace": namespace, "labels": labels}
    if annotations:
        meta["annotations"] = annotations
    return meta


def _b64(value):
    return base64.b64encode(value.encode("utf-8")).decode("ascii")


def _compact(obj):
    return json.dumps(obj, separators=(",", ":"))


def _pulled_by_init_containers(spec):
    """Several generative models: init containers pull them (--pull) and the server serves a model_config_list.
    One: the server pulls and serves it itself (--source_model ... --task)."""
    return len(spec["generative_models"] or []) > 1


def _classic_entry(m):
    cfg = {}
    for key in ("name", "base_path", "target_device", "batch_size", "layout", "nireq"):
        if key in m:
            cfg[key] = m[key]
    if "shape" in m:
        shape = m["shape"].strip()
        cfg["shape"] = json.loads(shape) if shape.startswith("{") else shape
    for key in ("plugin_config", "model_version_policy"):
        if key in m:
            cfg[key] = m[key]
    return cfg


def generated_config(spec):
    """config.json for multi-model mode from models_settings.models, or for several generative_models (each
    pulled model's directory holds its graph.pbtxt); None when not generated."""
    ms = spec["models_settings"]
    if _pulled_by_init_containers(spec):
        entries = [{"config": {"name": m["name"], "base_path": _generative.model_dir(MODELS_MOUNT, m["source_model"])}}
                   for m in spec["generative_models"]]
    elif spec["generative_models"] or ms["single_model_mode"] or not ms["models"]:
        return None
    else:
        entries = [{"config": _classic_entry(m)} for m in ms["models"]]
    config = {"model_config_list": entries}
    mon = spec["monitoring"]
    if mon["metrics_enable"]:
        metrics = {"enable": True}
        if mon["metrics_list"]:
            metrics["metrics_list"] = [x.strip() for x in mon["metrics_list"].split(",") if x.strip()]
        config["monitoring"] = {"metrics": metrics}
    return config


def container_args(spec, version):
    ms, srv, mon = spec["models_settings"], spec["server_settings"], spec["monitoring"]
    args = []  # in the chart's order
    generative = spec["generative_models"] or []
    if len(generative) == 1:  # pulled and served by the server itself: its flags come last (the task's after --task)
        pass
    elif generative:
        args.append("--config_path=%s/config.json" % CONFIG_MOUNT)
    elif ms["single_model_mode"]:
        args += ["--model_path=%s" % ms["model_path"], "--model_name=%s" % ms["model_name"],
                 "--target_device=%s" % ms["target_device"]]
        if ms["nireq"] is not None:
            args.append("--nireq=%d" % ms["nireq"])
        if ms["plugin_config"]:
            args.append("--plugin_config=%s" % _compact(ms["plugin_config"]))
        for key in ("batch_size", "layout", "shape"):
            if ms[key]:
                args.append("--%s=%s" % (key, ms[key]))
        if ms["model_version_policy"]:
            args.append("--model_version_policy=%s" % _compact(ms["model_version_policy"]))
        if ms["is_stateful"]:  # validated: only for images before 2026.3
            args.append("--stateful")
            if not ms["idle_sequence_cleanup"]:
                args.append("--idle_sequence_cleanup=false")
            if ms["low_latency_transformation"]:
                args.append("--low_latency_transformation")
            if ms["max_sequence_number"] is not None:
                args.append("--max_sequence_number=%d" % ms["max_sequence_number"])
    else:
        path = ms["config_path"] or "%s/config.json" % CONFIG_MOUNT
        args.append("--config_path=%s" % path)
    # A generated config.json carries the monitoring settings itself. --metrics_list only with --metrics_enable:
    # OVMS refuses it alone (the chart passes it anyway).
    if mon["metrics_enable"] and generated_config(spec) is None:
        args.append("--metrics_enable")
        if mon["metrics_list"]:
            args.append("--metrics_list=%s" % mon["metrics_list"])
    args += ["--log_level=%s" % srv["log_level"],
             "--file_system_poll_wait_seconds=%d" % srv["file_system_poll_wait_seconds"]]
    if srv["grpc_workers"] is not None:
        args.append("--grpc_workers=%d" % srv["grpc_workers"])
    if srv["rest_workers"] is not None:
        args.append("--rest_workers=%d" % srv["rest_workers"])
    if _spec.supports_stateful(version) and not generative:  # a generative server has no stateful models
        args.append("--sequence_cleaner_poll_wait_minutes=%d" % srv["sequence_cleaner_poll_wait_minutes"])
    args += ["--port=%d" % GRPC_CONTAINER_PORT, "--rest_port=%d" % REST_CONTAINER_PORT]
    if len(generative) == 1:
        args += pull_args(generative[0])
    return args


def pull_args(model, serve=True):
    """The flags that pull a generative model into the model volume (serve: and serve it). --model_name only when
    the served name is not the source model's id (OVMS's default); never for a pull alone (config.json names it)."""
    args = _generative.pull_args(model, MODELS_MOUNT)
    if serve and model["name"] != model["source_model"]:
        args.insert(1, "--model_name=%s" % model["name"])
    return args


def _env(fullname, spec, download=False):
    """The chart's env variables, in its order (the S3 key ID and session token from the Secret: ours); for a
    container that downloads generative models also HF_ENDPOINT, and HF_TOKEN from the user's Secret."""
    rep = spec["models_repository"]
    env = []
    hf = spec["huggingface"]
    if download and hf["token_secret"]["name"]:
        env.append({"name": HF_TOKEN_ENV, "valueFrom": {"secretKeyRef": {"name": hf["token_secret"]["name"],
                                                                         "key": hf["token_secret"]["key"]}}})
    if download and hf["endpoint"]:
        env.append({"name": "HF_ENDPOINT", "value": hf["endpoint"]})
    for key in ("http_proxy", "https_proxy", "no_proxy"):
        if rep[key]:
            env.append({"name": key, "value": rep[key]})
    if rep["gcp_creds_secret_name"]:
        env.append({"name": "GOOGLE_APPLICATION_CREDENTIALS", "value": "%s/gcp-creds.json" % GCP_MOUNT})
    aws = aws_secret_name(fullname)
    for var, key, field in (("AWS_ACCESS_KEY_ID", "access_key_id", "aws_access_key_id"),
                            ("AWS_SECRET_ACCESS_KEY", "secret_access_key", "aws_secret_access_key"),
                            ("AWS_SESSION_TOKEN", "session_token", "aws_session_token")):
        if rep[field]:
            env.append({"name": var, "valueFrom": {"secretKeyRef": {"name": aws, "key": key}}})
    if rep["aws_region"]:
        env.append({"name": "AWS_REGION", "value": rep["aws_region"]})
    if rep["s3_compat_api_endpoint"]:
        env.append({"name": "S3_ENDPOINT", "value": rep["s3_compat_api_endpoint"]})
    if rep["azure_storage_connection_string"]:
        env.append({"name": "AZURE_STORAGE_CONNECTION_STRING",
                    "valueFrom": {"secretKeyRef": {"name": azure_secret_name(fullname), "key": "connection_string"}}})
    return env


def _resources(spec, devices=True):
    out = {}
    for kind in ("limits", "requests"):
        r = spec["deployment_parameters"]["resources"][kind]
        values = {}
        for key in ("cpu", "memory"):
            if r[key]:
                values[key] = r[key]
        if r["xpu_device"] and devices:
            values[r["xpu_device"]] = r["xpu_device_quantity"]
        if values:
            out[kind] = values
    return out


def _probe(path, **extra):
    probe = {"httpGet": {"path": path, "port": "rest"}}
    probe.update(extra)
    return probe


def deployment(name, namespace, spec, version, config=None):
    dp, ms, rep = spec["deployment_parameters"], spec["models_settings"], spec["models_repository"]
    obj = _spec.object_name(name, spec)
    generative = spec["generative_models"] or []
    # A generative server's startup probe asks for readiness: its budget covers the download and the compilation on
    # every release, whether the REST port opens after the download (before 2026.2) or before it (answering
    # /v2/health/ready with 503 until the model is loaded). Liveness starts only after it, so neither restarts OVMS
    # in the middle of a download or a compilation that stays within startup_timeout_seconds.
    container = {
        "name": "ovms",
        "image": spec["image_name"],
        "args": container_args(spec, version),
        "ports": [{"name": "grpc", "containerPort": GRPC_CONTAINER_PORT, "protocol": "TCP"},
                  {"name": "rest", "containerPort": REST_CONTAINER_PORT, "protocol": "TCP"}],
        "startupProbe": _probe("/v2/health/ready" if generative else "/v2/health/live", periodSeconds=10,
                               failureThreshold=max(1, -(-dp["startup_timeout_seconds"] // 10))),
        "livenessProbe": _probe("/v2/health/live", periodSeconds=10, failureThreshold=3),
        "readinessProbe": _probe("/v2/health/ready", initialDelaySeconds=5, periodSeconds=5),
    }
    env = _env(obj, spec, download=len(generative) == 1)
    if env:
        container["env"] = env
    env_from = []
    if dp["extra_envs_secret"]:
        env_from.append({"secretRef": {"name": dp["extra_envs_secret"]}})
    if dp["extra_envs_configmap"]:
        env_from.append({"configMapRef": {"name": dp["extra_envs_configmap"]}})
    if env_from:
        container["envFrom"] = env_from
    resources = _resources(spec)
    if resources:
        container["resources"] = resources
    security = {}
    for key in ("runAsUser", "runAsGroup"):
        if rep[key] is not None:
            security[key] = int(rep[key])
    if security:
        container["securityContext"] = security

    # The chart's volumes, names and order. Its config ConfigMap is mounted whenever it is named, in either mode
    # (config_path: /config/my.json with a config map is the operator's HPA example); a generated config likewise.
    # storage_type cluster with neither a claim nor a host path has no models volume: the models are in the image.
    mounts, volumes = [], []
    if rep["gcp_creds_secret_name"]:
        mounts.append({"name": "gcpcreds", "mountPath": GCP_MOUNT, "readOnly": True})
        volumes.append({"name": "gcpcreds", "secret": {"secretName": rep["gcp_creds_secret_name"]}})
    cm = config_map_name(obj) if config is not None else ms["config_configmap_name"]
    if cm:
        mounts.append({"name": "config", "mountPath": CONFIG_MOUNT, "readOnly": True})
        volumes.append({"name": "config", "configMap": {"name": cm}})
    if generative:  # validated: no classic models volume then
        mounts.append({"name": "models", "mountPath": MODELS_MOUNT})
        volumes.append(_model_volume(obj, spec))
    elif rep["models_host_path"] or rep["models_volume_claim"]:
        mounts.append({"name": "models", "mountPath": MODELS_MOUNT, "readOnly": True})
    if generative:
        pass
    elif rep["models_host_path"]:
        volumes.append({"name": "models", "hostPath": {"path": rep["models_host_path"], "type": "Directory"}})
    elif rep["models_volume_claim"]:
        volumes.append({"name": "models", "persistentVolumeClaim": {"claimName": rep["models_volume_claim"]}})
    if mounts:
        container["volumeMounts"] = mounts

    pod_annotations = dict(dp["pod_annotations"] or {})
    deployment_annotations = {ANNOTATION_OVMS_VERSION: _spec.version_text(version)}
    if generative:
        servables = json.dumps(_spec.servables(spec), separators=(",", ":"))
        pod_annotations[ANNOTATION_SERVABLES] = deployment_annotations[ANNOTATION_SERVABLES] = servables
    if dp["openshift_service_mesh"]:
        pod_annotations["sidecar.istio.io/inject"] = "true"
    if config is not None and spec["server_settings"]["file_system_poll_wait_seconds"] == 0:
        # OVMS does not re-read its config without polling: a changed config must roll the pods.
        digest = hashlib.sha256(json.dumps(config, sort_keys=True).encode("utf-8")).hexdigest()[:16]
        pod_annotations[ANNOTATION_CONFIG_CHECKSUM] = digest
    labels = dict(dp["pod_labels"] or {})
    labels.update(pod_labels(name, obj))  # the chart's and ours always win
    template_meta = {"labels": labels}
    if pod_annotations:
        template_meta["annotations"] = pod_annotations
    pod_spec = {"containers": [container]}
    if len(generative) > 1:
        pod_spec["initContainers"] = _pull_containers(obj, spec, container)
    if generative:
        # the image's user (uid/gid 5000) must write to the model volume: its group owns it; the ownership is changed
        # only when the volume's root does not have it yet (not a walk over every file of a big model on each start)
        pod_spec["securityContext"] = {"fsGroup": _generative.OVMS_UID, "fsGroupChangePolicy": "OnRootMismatch"}
    if volumes:
        pod_spec["volumes"] = volumes
    affinity = {}
    for key, k8s_key in (("node_affinity", "nodeAffinity"), ("pod_affinity", "podAffinity"),
                         ("pod_antiaffinity", "podAntiAffinity")):
        if dp[key]:
            affinity[k8s_key] = dp[key]
    if affinity:
        pod_spec["affinity"] = affinity
    dspec = {"selector": {"matchLabels": _chart.deployment_selector(name, obj)},
             "template": {"metadata": template_meta, "spec": pod_spec}}
    if not spec["autoscaling"]["enabled"]:
        dspec["replicas"] = dp["replicas"]  # with an HPA on, the replica count is the HPA's
    if dp["update_strategy"]:
        dspec["strategy"] = dp["update_strategy"]
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": _meta(name, namespace, obj, deployment_annotations, _chart.labels(name, obj)),
            "spec": dspec}


def _model_volume(fullname, spec):
    """The pod volume the generative models are downloaded to: the user's claim, the one this collection creates, or
    an emptyDir."""
    vol = spec["model_volume"]
    if vol["claim_name"]:
        return {"name": "models", "persistentVolumeClaim": {"claimName": vol["claim_name"]}}
    if vol["size"]:
        return {"name": "models", "persistentVolumeClaim": {"claimName": model_volume_claim_name(fullname)}}
    return {"name": "models", "emptyDir": {}}


def _pull_containers(fullname, spec, server):
    """One init container per generative model: `ovms --pull` downloads it (or finds it on the volume) and writes its
    graph.pbtxt, then exits; the server then serves them all from the generated model_config_list."""
    out = []
    for i, model in enumerate(spec["generative_models"]):
        c = {"name": "pull-%d" % i, "image": spec["image_name"], "args": ["--pull"] + pull_args(model, serve=False),
             "volumeMounts": [{"name": "models", "mountPath": MODELS_MOUNT}]}
        env = _env(fullname, spec, download=True)
        if env:
            c["env"] = env
        resources = _resources(spec, devices=False)  # a download needs no GPU
        if resources:
            c["resources"] = resources
        if "securityContext" in server:
            c["securityContext"] = server["securityContext"]
        out.append(c)
    return out


def model_volume_claim(name, namespace, spec):
    """The PersistentVolumeClaim of model_volume.size (None when the user names a claim or there is no volume)."""
    vol = spec["model_volume"]
    if not spec["generative_models"] or not vol["size"] or vol["claim_name"]:
        return None
    pspec = {"accessModes": [vol["access_mode"]], "resources": {"requests": {"storage": vol["size"]}}}
    if vol["storage_class"]:
        pspec["storageClassName"] = vol["storage_class"]
    return {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
            "metadata": _meta(name, namespace, model_volume_claim_name(_spec.object_name(name, spec))), "spec": pspec}


def service(name, namespace, spec):
    sp = spec["service_parameters"]
    obj = _spec.object_name(name, spec)
    return {"apiVersion": "v1", "kind": "Service", "metadata": _meta(name, namespace, obj, None, _chart.labels(name, obj)),
            "spec": {"type": sp["service_type"], "selector": _chart.service_selector(obj),
                     "ports": [{"name": "grpc", "port": sp["grpc_port"], "targetPort": GRPC_CONTAINER_PORT,
                                "protocol": "TCP"},
                               {"name": "rest", "port": sp["rest_port"], "targetPort": REST_CONTAINER_PORT,
                                "protocol": "TCP"}]}}


def secrets(name, namespace, spec):
    rep = spec["models_repository"]
    out = []
    aws = {}
    for key, field in (("secret_access_key", "aws_secret_access_key"), ("access_key_id", "aws_access_key_id"),
                       ("session_token", "aws_session_token")):
        if rep[field]:
            aws[key] = _b64(rep[field])
    obj = _spec.object_name(name, spec)
    if aws:
        out.append({"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
                    "metadata": _meta(name, namespace, aws_secret_name(obj)), "data": aws})
    if rep["azure_storage_connection_string"]:
        out.append({"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
                    "metadata": _meta(name, namespace, azure_secret_name(obj)),
                    "data": {"connection_string": _b64(rep["azure_storage_connection_string"])}})
    return out


def _int_or_str(value):
    return int(value) if value.isdigit() else value


def extras(name, namespace, spec):
    """HPA, PDB, Ingress and Route, each when enabled."""
    obj = _spec.object_name(name, spec)
    out = []
    hpa = spec["autoscaling"]
    if hpa["enabled"]:
        metrics = []
        if hpa["target_cpu_utilization"]:
            metrics.append({"type": "Resource", "resource": {"name": "cpu", "target": {
                "type": "Utilization", "averageUtilization": hpa["target_cpu_utilization"]}}})
        for m in hpa["pod_metrics"] or []:
            metrics.append({"type": "Pods", "pods": {"metric": {"name": m["name"]}, "target": {
                "type": "AverageValue", "averageValue": m["target_average_value"]}}})
        out.append({"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
                    "metadata": _meta(name, namespace, obj),
                    "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": obj},
                             "minReplicas": hpa["min_replicas"], "maxReplicas": hpa["max_replicas"],
                             "metrics": metrics}})
    pdb = spec["pod_disruption_budget"]
    if pdb["enabled"]:
        pspec = {"selector": {"matchLabels": _chart.deployment_selector(name, obj)}}
        if pdb["min_available"] is not None:
            pspec["minAvailable"] = _int_or_str(pdb["min_available"])
        else:
            pspec["maxUnavailable"] = _int_or_str(pdb["max_unavailable"])
        out.append({"apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
                    "metadata": _meta(name, namespace, obj), "spec": pspec})
    ing = spec["ingress"]
    if ing["enabled"]:
        rule = {"http": {"paths": [{"path": ing["path"], "pathType": "Prefix", "backend": {
            "service": {"name": obj, "port": {"name": ing["port"]}}}}]}}
        if ing["host"]:
            rule["host"] = ing["host"]
        ispec = {"rules": [rule]}
        if ing["class_name"]:
            ispec["ingressClassName"] = ing["class_name"]
        if ing["tls_secret_name"]:
            ispec["tls"] = [{"hosts": [ing["host"]], "secretName": ing["tls_secret_name"]}]
        out.append({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
                    "metadata": _meta(name, namespace, obj, ing["annotations"] or None), "spec": ispec})
    route = spec["route"]
    if route["enabled"]:
        rspec = {"to": {"kind": "Service", "name": obj, "weight": 100}, "port": {"targetPort": route["port"]}}
        if route["host"]:
            rspec["host"] = route["host"]
        if route["tls_termination"] != "none":
            rspec["tls"] = {"termination": route["tls_termination"]}
            if route["tls_termination"] == "edge":
                rspec["tls"]["insecureEdgeTerminationPolicy"] = "Redirect"
        out.append({"apiVersion": "route.openshift.io/v1", "kind": "Route",
                    "metadata": _meta(name, namespace, obj), "spec": rspec})
    return out


def render(name, namespace, spec):
    """Every manifest of a normalized spec, in apply order."""
    version = _spec.ovms_version(spec["image_name"], spec["ovms_version"])
    config = generated_config(spec)
    manifests = secrets(name, namespace, spec)
    if config is not None:
        manifests.append({"apiVersion": "v1", "kind": "ConfigMap",
                          "metadata": _meta(name, namespace, config_map_name(_spec.object_name(name, spec))),
                          "data": {"config.json": json.dumps(config, indent=2) + "\n"}})
    claim = model_volume_claim(name, namespace, spec)
    if claim is not None:
        manifests.append(claim)
    manifests.append(deployment(name, namespace, spec, version, config))
    manifests.append(service(name, namespace, spec))
    manifests.extend(extras(name, namespace, spec))
    return manifests


def service_info(name, namespace, spec):
    sp = spec["service_parameters"]
    svc = _spec.object_name(name, spec)
    host = "%s.%s.svc" % (svc, namespace)
    return {"name": svc, "namespace": namespace, "type": sp["service_type"], "grpc_port": sp["grpc_port"],
            "rest_port": sp["rest_port"], "grpc_url": "%s:%d" % (host, sp["grpc_port"]),
            "rest_url": "http://%s:%d" % (host, sp["rest_port"])}


def resolve_input(name=None, namespace=None, spec=None, definition=None):
    """(name, namespace, raw spec) from either a ModelServer manifest or name + namespace + spec."""
    if definition is not None:
        return _spec.from_manifest(definition, namespace)
    if not name:
        raise _spec.SpecError("name", "required (or give a ModelServer definition)")
    if not namespace:
        raise _spec.SpecError("namespace", "required")
    return name, namespace, spec or {}


def manifests_for(name=None, namespace=None, spec=None, definition=None):
    """The whole pipeline without a cluster: (manifests, normalized spec, name, namespace, warnings)."""
    name, namespace, raw = resolve_input(name, namespace, spec, definition)
    normalized, warnings = _spec.normalize(name, namespace, raw)
    return render(name, namespace, normalized), normalized, name, namespace, warnings
