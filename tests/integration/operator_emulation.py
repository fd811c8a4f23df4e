"""TEST DOUBLE: the OpenVINO operator (and the bit of OLM that matters), played against the real API server.

Written from ../shared/reference/operator-behaviour.md ("How the operator runs", "Objects", "Deployment") and the
ModelServer field table (tests/fixtures/modelserver-v1alpha1-fields.yaml, a copy of the reference):

- the ModelServer CRD is generated from the field table (types, CRD defaults, enums, free-form objects), with the
  status and scale subresources;
- minimal CRDs for OLM's Subscription and ClusterServiceVersion (operators.coreos.com/v1alpha1);
- EmulatedOperator, a thread that acts as the operator does while it "runs", i.e. while its manager Deployment wants
  replicas or has a pod: for a new ModelServer it installs the release (the chart's Deployment, Service and
  credential Secret, created with field manager "helm" - an Update - with a controller ownerReference to the resource
  and the label helm.sdk.operatorframework.io/chart, a release Secret sh.helm.release.v1.<name>.v1 likewise, status
  conditions Initialized and Deployed), puts its finalizer on the resource, and on every later pass puts back a
  missing finalizer, missing ownerReferences and missing objects; when the resource is being deleted it uninstalls
  the release (deletes every object) and then drops the finalizer;
- with olm=True it also plays OLM: a manager Deployment owned by the ClusterServiceVersion is put back to 1 replica
  when scaled to 0 by hand, re-created when missing while the CSV exists, and a CSV deleted while its Subscription
  exists is re-installed.
Everything it does is recorded in .log, with the time.
"""
from __future__ import annotations

import base64
import copy
import gzip
import json
import threading
import time
from pathlib import Path

import yaml
from kubernetes import client
from kubernetes.client.rest import ApiException

FIELDS = Path(__file__).resolve().parents[1] / "fixtures" / "modelserver-v1alpha1-fields.yaml"
FINALIZER = "helm.sdk.operatorframework.io/uninstall-release"
CHART_LABEL = "helm.sdk.operatorframework.io/chart"
CHART = "ovms-4.0.0"
MANAGER_NAME = "openvino-operator-controller-manager"
MANAGER_LABELS = {"control-plane": "controller-manager"}
OLM = ("operators.coreos.com", "v1alpha1")


# --- CRDs ---------------------------------------------------------------------------------------------------------
def modelserver_crd() -> dict:
    """The ModelServer CRD, its schema generated from the reference field table."""
    spec_schema = {"type": "object", "properties": {
        # top-level values the chart reads and the bundle CRDs let through
        "fullnameOverride": {"type": "string"}, "nameOverride": {"type": "string"}}}
    for field in yaml.safe_load(FIELDS.read_text()):
        if field.get("documented_only"):
            continue  # in no CRD: the API server prunes it
        parts = field["path"].split(".")[1:]
        node = spec_schema
        for part in parts[:-1]:
            node = node["properties"].setdefault(part, {"type": "object", "properties": {}})
        leaf = {"type": field["type"]}
        if field.get("free_form"):
            leaf["x-kubernetes-preserve-unknown-fields"] = True
        if "crd_default" in field:
            leaf["default"] = field["crd_default"]
        if "enum" in field:
            leaf["enum"] = field["enum"]
        node["properties"][parts[-1]] = leaf
    return {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": "modelservers.intel.com"},
            "spec": {"group": "intel.com", "scope": "Namespaced",
                     "names": {"plural": "modelservers", "singular": "modelserver", "kind": "ModelServer",
                               "listKind": "ModelServerList"},
                     "versions": [{"name": "v1alpha1", "served": True, "storage": True,
                                   "subresources": {"status": {}, "scale": {
                                       "specReplicasPath": ".spec.deployment_parameters.replicas",
                                       "statusReplicasPath": ".status.replicas",
                                       "labelSelectorPath": ".status.labelSelector"}},
                                   "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                                       "spec": spec_schema,
                                       "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}}}}}]}}


def olm_crds() -> list:
    """Minimal Subscription and ClusterServiceVersion CRDs (operators.coreos.com/v1alpha1, namespaced)."""
    def crd(kind, plural, spec_props, status_props):
        return {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
                "metadata": {"name": "%s.%s" % (plural, OLM[0])},
                "spec": {"group": OLM[0], "scope": "Namespaced",
                         "names": {"plural": plural, "singular": kind.lower(), "kind": kind},
                         "versions": [{"name": OLM[1], "served": True, "storage": True, "subresources": {"status": {}},
                                       "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                                           "spec": {"type": "object", "properties": spec_props,
                                                    "x-kubernetes-preserve-unknown-fields": True},
                                           "status": {"type": "object", "properties": status_props,
                                                      "x-kubernetes-preserve-unknown-fields": True}}}}}]}}
    s = {"type": "string"}
    return [crd("Subscription", "subscriptions", {"channel": s, "name": s, "source": s, "sourceNamespace": s,
                                                   "installPlanApproval": s, "startingCSV": s},
                {"installedCSV": s, "currentCSV": s, "state": s}),
            crd("ClusterServiceVersion", "clusterserviceversions", {"displayName": s, "version": s},
                {"phase": s, "reason": s})]


def install_crds(api_client, crds, timeout=60):
    ext = client.ApiextensionsV1Api(api_client)
    for crd in crds:
        try:
            ext.create_custom_resource_definition(crd)
        except ApiException as exc:
            if exc.status != 409:
                raise
    deadline = time.monotonic() + timeout
    for crd in crds:
        while True:
            got = ext.read_custom_resource_definition(crd["metadata"]["name"])
            if any(c.type == "Established" and c.status == "True" for c in got.status.conditions or []):
                break
            assert time.monotonic() < deadline, "CRD %s not established" % crd["metadata"]["name"]
            time.sleep(0.1)


# --- what the chart renders ---------------------------------------------------------------------------------------
def fullname(name, spec):
    if spec.get("fullnameOverride"):
        return spec["fullnameOverride"][:63].rstrip("-")
    base = spec.get("nameOverride") or "ovms"
    return (name if base in name else "%s-%s" % (name, base))[:63]


def chart_args(spec):
    """The container arguments, in the chart's order, each flag and its value as two items; empty, 0 and false
    values left out."""
    ms = spec.get("models_settings") or {}
    srv = spec.get("server_settings") or {}
    args = []

    def add(flag, value):
        if value not in (None, "", 0, False):
            args.extend(["--" + flag, str(value)])
    if ms.get("single_model_mode", True):
        add("model_path", ms.get("model_path"))
        add("model_name", ms.get("model_name"))
        add("target_device", ms.get("target_device"))
        for key in ("nireq", "plugin_config", "batch_size", "layout", "shape", "model_version_policy"):
            add(key, ms.get(key))
    else:
        add("config_path", ms.get("config_path") or "/config/config.json")
    add("log_level", srv.get("log_level", "INFO"))
    add("file_system_poll_wait_seconds", srv.get("file_system_poll_wait_seconds", 1))
    args.extend(["--sequence_cleaner_poll_wait_minutes", str(srv.get("sequence_cleaner_poll_wait_minutes", 0))])
    args.extend(["--port", "8080", "--rest_port", "8081"])
    add("grpc_workers", srv.get("grpc_workers", 1))
    add("rest_workers", srv.get("rest_workers"))
    return args


def chart_objects(cr) -> list:
    """The release's objects as the chart renders them for a ModelServer (status, defaults: the API server's)."""
    name, ns, spec = cr["metadata"]["name"], cr["metadata"]["namespace"], cr.get("spec") or {}
    full = fullname(name, spec)
    labels = {"app": full, "release": name, "chart": CHART, "heritage": "Helm"}
    dp, ms, rep = (spec.get(k) or {} for k in ("deployment_parameters", "models_settings", "models_repository"))
    sp = spec.get("service_parameters") or {}
    container = {"name": "ovms", "image": spec.get("image_name", "openvino/model_server:latest"),
                 "args": chart_args(spec),
                 "ports": [{"containerPort": 8080, "name": "grpc"}, {"containerPort": 8081, "name": "rest"}],
                 "livenessProbe": {"httpGet": {"path": "/v2/health/live", "port": "rest"}},
                 "readinessProbe": {"httpGet": {"path": "/v2/health/ready", "port": "rest"},
                                    "initialDelaySeconds": 5, "periodSeconds": 5}}
    objects, env = [], []
    if rep.get("storage_type") == "S3":
        if rep.get("aws_access_key_id"):
            env.append({"name": "AWS_ACCESS_KEY_ID", "value": rep["aws_access_key_id"]})
        if rep.get("aws_secret_access_key"):
            env.append({"name": "AWS_SECRET_ACCESS_KEY", "valueFrom": {"secretKeyRef": {
                "name": full + "-aws-secret", "key": "secret_access_key"}}})
            objects.append({"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
                            "metadata": {"name": full + "-aws-secret", "namespace": ns, "labels": dict(labels)},
                            "data": {"secret_access_key": base64.b64encode(
                                rep["aws_secret_access_key"].encode()).decode()}})
        if rep.get("aws_region"):
            env.append({"name": "AWS_REGION", "value": rep["aws_region"]})
        if rep.get("s3_compat_api_endpoint"):
            env.append({"name": "S3_ENDPOINT", "value": rep["s3_compat_api_endpoint"]})
    if env:
        container["env"] = env
    pod = {"containers": [container]}
    if ms.get("config_configmap_name"):
        container["volumeMounts"] = [{"name": "config", "mountPath": "/config", "readOnly": True}]
        pod["volumes"] = [{"name": "config", "configMap": {"name": ms["config_configmap_name"]}}]
    deployment = {"apiVersion": "apps/v1", "kind": "Deployment",
                  "metadata": {"name": full, "namespace": ns, "labels": dict(labels)},
                  "spec": {"replicas": dp.get("replicas", 1), "selector": {"matchLabels": {"app": full, "release": name}},
                           "template": {"metadata": {"labels": dict(labels)}, "spec": pod}}}
    if dp.get("update_strategy"):
        deployment["spec"]["strategy"] = dp["update_strategy"]
    service = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": full, "namespace": ns, "labels": dict(labels)},
               "spec": {"type": sp.get("service_type", "ClusterIP"), "selector": {"app": full},
                        "ports": [{"name": "grpc", "port": sp.get("grpc_port", 8080), "targetPort": 8080},
                                  {"name": "rest", "port": sp.get("rest_port", 8081), "targetPort": 8081}]}}
    return objects + [deployment, service]


def release_secret(cr, objects, revision=1):
    name, ns = cr["metadata"]["name"], cr["metadata"]["namespace"]
    record = {"name": name, "namespace": ns, "version": revision, "info": {"status": "deployed"},
              "chart": {"metadata": {"name": "ovms", "version": "4.0.0"}},
              "manifest": "\n---\n".join(yaml.safe_dump(o) for o in objects)}
    data = base64.b64encode(gzip.compress(json.dumps(record).encode())).decode()
    return {"apiVersion": "v1", "kind": "Secret", "type": "helm.sh/release.v1",
            "metadata": {"name": "sh.helm.release.v1.%s.v%d" % (name, revision), "namespace": ns,
                         "labels": {"name": name, "owner": "helm", "status": "deployed", "version": str(revision)}},
            "data": {"release": base64.b64encode(data.encode()).decode()}}


def owner_ref(cr):
    return {"apiVersion": "intel.com/v1alpha1", "kind": "ModelServer", "name": cr["metadata"]["name"],
            "uid": cr["metadata"]["uid"], "controller": True, "blockOwnerDeletion": True}


# --- the running operator -----------------------------------------------------------------------------------------
class EmulatedOperator(threading.Thread):
    PLURALS = {"Deployment": ("apps", "v1", "deployments"), "Service": ("", "v1", "services"),
               "Secret": ("", "v1", "secrets")}

    def __init__(self, api_client, operator_ns, namespaces, olm=False):
        super().__init__(daemon=True)
        self.api = api_client
        self.custom = client.CustomObjectsApi(api_client)
        self.apps = client.AppsV1Api(api_client)
        self.core = client.CoreV1Api(api_client)
        self.operator_ns, self.namespaces, self.olm = operator_ns, namespaces, olm
        self.log = []
        self.errors = []
        self.passes = 0
        self._halt = threading.Event()
        self.pass_done = threading.Condition()

    # manager ---------------------------------------------------------------------------------------------------
    def manager_deployment(self, csv_uid=None, csv_name=None):
        meta = {"name": MANAGER_NAME, "namespace": self.operator_ns, "labels": dict(MANAGER_LABELS)}
        if csv_uid:
            meta["ownerReferences"] = [{"apiVersion": "operators.coreos.com/v1alpha1", "kind": "ClusterServiceVersion",
                                        "name": csv_name, "uid": csv_uid, "controller": False,
                                        "blockOwnerDeletion": False}]
        return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta,
                "spec": {"replicas": 1, "selector": {"matchLabels": dict(MANAGER_LABELS)},
                         "template": {"metadata": {"labels": dict(MANAGER_LABELS)}, "spec": {"containers": [{
                             "name": "manager", "image": "registry.connect.redhat.com/intel/ovms-operator:1.2.0",
                             "args": ["--leader-elect"]}]}}}}

    def running(self):
        try:
            dep = self.apps.read_namespaced_deployment(MANAGER_NAME, self.operator_ns)
        except ApiException as exc:
            if exc.status == 404:
                dep = None
            else:
                raise
        pods = self.core.list_namespaced_pod(self.operator_ns, label_selector="control-plane=controller-manager").items
        return bool(pods) or bool(dep and (dep.spec.replicas or 0) > 0)

    def record(self, what):
        self.log.append((time.time(), what))

    # OLM -------------------------------------------------------------------------------------------------------
    def _olm_pass(self):
        group, version = OLM
        subs = self.custom.list_namespaced_custom_object(group, version, self.operator_ns, "subscriptions")["items"]
        csvs = {c["metadata"]["name"]: c for c in self.custom.list_namespaced_custom_object(
            group, version, self.operator_ns, "clusterserviceversions")["items"]}
        for sub in subs:
            wanted = (sub.get("status") or {}).get("installedCSV")
            if wanted and wanted not in csvs:
                csvs[wanted] = self.custom.create_namespaced_custom_object(group, version, self.operator_ns,
                                                                           "clusterserviceversions", csv(wanted))
                self.record("OLM re-installed ClusterServiceVersion %s (its Subscription is still there)" % wanted)
        for name, c in csvs.items():
            if c["metadata"].get("deletionTimestamp"):
                continue
            try:
                dep = self.apps.read_namespaced_deployment(MANAGER_NAME, self.operator_ns)
            except ApiException as exc:
                if exc.status != 404:
                    raise
                self.apps.create_namespaced_deployment(self.operator_ns, self.manager_deployment(
                    c["metadata"]["uid"], name))
                self.record("OLM re-created the manager Deployment (CSV %s)" % name)
                continue
            if (dep.spec.replicas or 0) == 0:
                self.apps.patch_namespaced_deployment(MANAGER_NAME, self.operator_ns, {"spec": {"replicas": 1}})
                self.record("OLM put the manager Deployment back to 1 replica (CSV %s)" % name)

    # the operator ----------------------------------------------------------------------------------------------
    def _read(self, kind, ns, name):
        group, version, plural = self.PLURALS[kind]
        try:
            if kind == "Deployment":
                return self.apps.read_namespaced_deployment(name, ns).to_dict()
            if kind == "Service":
                return self.core.read_namespaced_service(name, ns).to_dict()
            return self.core.read_namespaced_secret(name, ns).to_dict()
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise

    def _create(self, obj):
        ns = obj["metadata"]["namespace"]
        if obj["kind"] == "Deployment":
            self.apps.create_namespaced_deployment(ns, obj, field_manager="helm")
        elif obj["kind"] == "Service":
            self.core.create_namespaced_service(ns, obj, field_manager="helm")
        else:
            self.core.create_namespaced_secret(ns, obj, field_manager="helm")

    def _patch(self, kind, ns, name, body):
        if kind == "Deployment":
            self.apps.patch_namespaced_deployment(name, ns, body, field_manager="helm")
        elif kind == "Service":
            self.core.patch_namespaced_service(name, ns, body, field_manager="helm")
        else:
            self.core.patch_namespaced_secret(name, ns, body, field_manager="helm")

    def _delete_obj(self, kind, ns, name):
        try:
            if kind == "Deployment":
                self.apps.delete_namespaced_deployment(name, ns)
            elif kind == "Service":
                self.core.delete_namespaced_service(name, ns)
            else:
                self.core.delete_namespaced_secret(name, ns)
        except ApiException as exc:
            if exc.status != 404:
                raise

    def release_objects(self, cr):
        objects = chart_objects(cr)
        for obj in objects:
            obj["metadata"]["labels"][CHART_LABEL] = CHART
            obj["metadata"]["ownerReferences"] = [owner_ref(cr)]
        record = release_secret(cr, chart_objects(cr))
        record["metadata"]["labels"][CHART_LABEL] = CHART
        record["metadata"]["ownerReferences"] = [owner_ref(cr)]
        return objects + [record]

    def _reconcile(self, cr):
        group, ns, name = "intel.com", cr["metadata"]["namespace"], cr["metadata"]["name"]
        objects = self.release_objects(cr)
        if cr["metadata"].get("deletionTimestamp"):
            if FINALIZER in (cr["metadata"].get("finalizers") or []):
                for obj in objects:
                    self._delete_obj(obj["kind"], ns, obj["metadata"]["name"])
                self.custom.patch_namespaced_custom_object(group, "v1alpha1", ns, "modelservers", name, {
                    "metadata": {"finalizers": [f for f in cr["metadata"]["finalizers"] if f != FINALIZER]}})
                self.record("uninstalled the release %s/%s (the ModelServer was deleted) and dropped the finalizer"
                            % (ns, name))
            return
        installed = self._read("Secret", ns, objects[-1]["metadata"]["name"]) is not None
        for obj in objects:
            live = self._read(obj["kind"], ns, obj["metadata"]["name"])
            if live is None:
                self._create(obj)
                if installed:
                    self.record("re-created %s %s/%s" % (obj["kind"], ns, obj["metadata"]["name"]))
                continue
            refs = live["metadata"].get("owner_references") or []
            if not any(r["uid"] == cr["metadata"]["uid"] for r in refs):
                self._patch(obj["kind"], ns, obj["metadata"]["name"],
                            {"metadata": {"ownerReferences": [owner_ref(cr)]}})
                self.record("re-added the ownerReference on %s %s/%s" % (obj["kind"], ns, obj["metadata"]["name"]))
        if FINALIZER not in (cr["metadata"].get("finalizers") or []):
            self.custom.patch_namespaced_custom_object(group, "v1alpha1", ns, "modelservers", name, {
                "metadata": {"finalizers": (cr["metadata"].get("finalizers") or []) + [FINALIZER]}})
            self.record("%s the finalizer on ModelServer %s/%s" % ("re-added" if installed else "put", ns, name))
        if not installed:
            self.custom.patch_namespaced_custom_object_status(group, "v1alpha1", ns, "modelservers", name, {"status": {
                "conditions": [{"type": "Initialized", "status": "True"},
                               {"type": "Deployed", "status": "True", "reason": "InstallSuccessful"}],
                "deployedRelease": {"name": name, "manifest": "..."},
                "replicas": (cr["spec"].get("deployment_parameters") or {}).get("replicas", 1),
                "labelSelector": "app=%s,release=%s" % (fullname(name, cr["spec"]), name)}})
            self.record("installed the release %s/%s" % (ns, name))

    def one_pass(self):
        if self.olm:
            self._olm_pass()
        if not self.running():
            return
        for ns in self.namespaces:
            for cr in self.custom.list_namespaced_custom_object("intel.com", "v1alpha1", ns, "modelservers")["items"]:
                if not self.running():  # checked again right before acting: a stopped operator writes nothing
                    return
                try:
                    self._reconcile(cr)
                except ApiException as exc:
                    if exc.status not in (404, 409, 422):  # a race with the migration: the next pass sees it
                        raise

    def run(self):
        while not self._halt.is_set():
            try:
                self.one_pass()
            except Exception as exc:  # recorded, and the test fails on it
                self.errors.append(repr(exc))
            with self.pass_done:
                self.passes += 1
                self.pass_done.notify_all()
            self._halt.wait(0.05)

    def wait_passes(self, n=2, timeout=60):
        """Until n more full passes are done (the operator has seen everything there is now)."""
        with self.pass_done:
            target = self.passes + n
            assert self.pass_done.wait_for(lambda: self.passes >= target, timeout), "the emulated operator hangs"

    def stop(self):
        self._halt.set()
        self.join(10)


def csv(name):
    return {"apiVersion": "operators.coreos.com/v1alpha1", "kind": "ClusterServiceVersion",
            "metadata": {"name": name}, "spec": {"displayName": "OpenVINO Toolkit Operator", "version": "1.2.0"}}


def subscription(name, csv_name):
    return {"apiVersion": "operators.coreos.com/v1alpha1", "kind": "Subscription", "metadata": {"name": name},
            "spec": {"channel": "alpha", "name": "ovms-operator", "source": "certified-operators",
                     "sourceNamespace": "openshift-marketplace", "installPlanApproval": "Automatic"}}
