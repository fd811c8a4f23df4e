# -*- coding: utf-8 -*-
# Copyright (c) openvino.ovms contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
#
# PRIVATE: this module_utils file is internal to the openvino.ovms collection.
"""Cluster + OVMS REST -> the state of a model server: rollout, pods and their problems, models.

Pure interpretation functions (rollout_state, pod_summary, model_states, ...) are separate from the few
that talk to the API server or to OVMS, so that the interpretation is unit-tested on recorded answers.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import threading
import time

from ansible.module_utils.six import string_types
from ansible_collections.openvino.ovms.plugins.module_utils import _reconcile, _render, _spec

REVISION_ANNOTATION = _reconcile.REVISION_ANNOTATION

# Container waiting reasons that waiting does not cure within a deploy: a crash loop, an image that cannot be pulled or
# is misnamed, a container whose config (a missing Secret or ConfigMap key) cannot be made. The fleet wait reports a
# server with such a pod as failed at once instead of waiting for the deadline.
STUCK_REASONS = ("CrashLoopBackOff", "ImagePullBackOff", "ErrImagePull", "InvalidImageName", "ErrImageNeverPull",
                 "CreateContainerConfigError")


# --- interpretation ------------------------------------------------------------------------------
def rollout_state(deployment):
    """The Deployment's rollout, as `kubectl rollout status` judges it."""
    spec, status, meta = deployment.get("spec", {}), deployment.get("status", {}), deployment.get("metadata", {})
    desired = spec.get("replicas", 1)
    observed = status.get("observedGeneration", 0) >= meta.get("generation", 1)
    state = {
        "desired": desired,
        "current": status.get("replicas", 0),
        "updated": status.get("updatedReplicas", 0),
        "ready": status.get("readyReplicas", 0),
        "available": status.get("availableReplicas", 0),
        "generation": meta.get("generation"),
        "observed_generation": status.get("observedGeneration"),
        "revision": _reconcile.revision_of(deployment),
    }
    state["complete"] = bool(observed and state["updated"] == desired and state["ready"] == desired
                             and state["available"] == desired and state["current"] == desired)
    progressing = [c for c in status.get("conditions") or [] if c.get("type") == "Progressing"]
    state["deadline_exceeded"] = bool(progressing and progressing[0].get("reason") == "ProgressDeadlineExceeded")
    return state


def progress_line(namespace, name, rollout):
    return "%s/%s: %d/%d pods ready, %d/%d updated, %d available" % (
        namespace, name, rollout["ready"], rollout["desired"], rollout["updated"], rollout["desired"],
        rollout["available"])


def pod_summary(pod):
    """A pod's readiness and, when it is not ready, why (the reason a human would look for first)."""
    status = pod.get("status", {})
    conditions = dict((c.get("type"), c) for c in status.get("conditions") or [])
    ready = conditions.get("Ready", {}).get("status") == "True"
    out = {"name": pod["metadata"]["name"], "phase": status.get("phase"), "ready": ready,
           "node": pod.get("spec", {}).get("nodeName"), "ip": status.get("podIP"), "restarts": 0, "reason": None,
           "stuck": None}
    reasons = []
    for cs in status.get("containerStatuses") or []:
        out["restarts"] += cs.get("restartCount", 0)
        waiting = (cs.get("state") or {}).get("waiting")
        terminated = (cs.get("lastState") or {}).get("terminated") or (cs.get("state") or {}).get("terminated")
        if waiting and waiting.get("reason"):
            text = waiting["reason"]
            if text in STUCK_REASONS and not out["stuck"]:
                out["stuck"] = text
            if terminated and terminated.get("exitCode") is not None:
                text += " (last exit code %s%s)" % (terminated["exitCode"],
                                                    ", " + terminated["reason"] if terminated.get("reason") else "")
            elif waiting.get("message"):
                text += ": " + waiting["message"]
            reasons.append("container %s: %s" % (cs.get("name"), text))
        elif not cs.get("ready") and terminated:
            reasons.append("container %s: terminated with exit code %s" % (cs.get("name"), terminated.get("exitCode")))
    scheduled = conditions.get("PodScheduled", {})
    if scheduled.get("status") == "False":
        reasons.append("%s: %s" % (scheduled.get("reason") or "Unschedulable", scheduled.get("message") or ""))
    if not ready and not reasons:
        cond = conditions.get("Ready") or {}
        if cond.get("reason") or cond.get("message"):
            detail = " (%s)" % cond["message"] if cond.get("message") else ""
            reasons.append("not ready: %s%s" % (cond.get("reason") or "", detail))
        else:
            reasons.append("not ready (phase %s)" % status.get("phase"))
    out["reason"] = "; ".join(reasons) or None
    return out


def warning_events(events, names, limit=5):
    """The most recent Warning events about the given objects, newest first."""
    picked = [e for e in events if e.get("type") == "Warning" and (e.get("involvedObject") or {}).get("name") in names]
    picked.sort(key=lambda e: e.get("lastTimestamp") or e.get("eventTime") or "", reverse=True)
    return ["%s %s: %s" % ((e.get("involvedObject") or {}).get("name"), e.get("reason"), e.get("message"))
            for e in picked[:limit]]


def model_states(config, expected):
    """Per expected model (or every model in the answer when expected is empty): is a version AVAILABLE with
    error_code OK? `config` is OVMS's /v1/config answer."""
    names = list(expected) or sorted(config)
    out = {}
    for name in names:
        entry = config.get(name)
        if entry is None:
            out[name] = {"available": False, "state": "MISSING", "error_code": None,
                         "error_message": "not in /v1/config (not configured on this server)", "versions": []}
            continue
        versions = entry.get("model_version_status") or []
        ok = [v for v in versions if v.get("state") == "AVAILABLE" and (v.get("status") or {}).get("error_code") == "OK"]
        newest = (ok or versions or [{}])[-1]
        status = newest.get("status") or {}
        out[name] = {"available": bool(ok), "state": newest.get("state", "NO VERSIONS"),
                     "error_code": status.get("error_code"), "error_message": status.get("error_message"),
                     "versions": [{"version": v.get("version"), "state": v.get("state"),
                                   "error_code": (v.get("status") or {}).get("error_code")} for v in versions]}
    return out


def model_failed(state):
    """A load that failed (OVMS shows LOADING with an error code other than OK) will not recover by waiting."""
    return state["state"] == "LOADING" and state["error_code"] not in (None, "OK")


def expected_models(deployment, config_maps):
    """The models a Deployment is configured to serve: --model_name, or the mounted config.json's entries.
    None when the config lives where we cannot read it (config_path on a volume)."""
    containers = deployment.get("spec", {}).get("template", {}).get("spec", {}).get("containers") or []
    args = next((c.get("args") or [] for c in containers if c.get("name") == "ovms"), [])
    for arg in args:
        if arg.startswith("--model_name="):
            return [arg.split("=", 1)[1]]
    volumes = deployment.get("spec", {}).get("template", {}).get("spec", {}).get("volumes") or []
    cm_name = next((v["configMap"]["name"] for v in volumes if v.get("name") == "config" and v.get("configMap")), None)
    if cm_name and cm_name in config_maps:
        try:
            config = json.loads(config_maps[cm_name].get("data", {}).get("config.json", "{}"))
            return [e["config"]["name"] for e in config.get("model_config_list", [])]
        except (ValueError, KeyError, TypeError):
            return None
    return None


# --- talking to the cluster and to OVMS -------------------------------------------------------------
def proxy_path(namespace, service, path):
    return "/api/v1/namespaces/%s/services/%s:rest/proxy%s" % (namespace, service, path)


def ovms_get(api, namespace, service, path, base_url=None, timeout=10):
    """(status, JSON or text) of GET path on OVMS: through the API server's service proxy, or base_url."""
    return ovms_request(api, "GET", namespace, service, path, None, base_url, timeout)


def ovms_post(api, namespace, service, path, body, base_url=None, timeout=60):
    """(status, JSON or text) of POST path with a JSON body on OVMS: through the API server's service proxy (counted
    as a POST through the proxy, not a write), or base_url."""
    return ovms_request(api, "POST", namespace, service, path, body, base_url, timeout)


def ovms_request(api, method, namespace, service, path, body=None, base_url=None, timeout=10):
    """(status, JSON or text) of one request to OVMS (a JSON body for POST): through the API server's service proxy,
    or directly at base_url."""
    if not base_url:
        proxy = proxy_path(namespace, service, path)
        if method == "GET":
            status, answer = api.request("GET", proxy, retry_statuses=False)
        else:
            status, answer = api.request(method, proxy, body=body, retry_statuses=False,
                                         count_as="%s (service proxy)" % method)
        if status == 403 and isinstance(answer, dict) and answer.get("kind") == "Status":
            # the API server refused the proxy (RBAC: get/create on services/proxy), not OVMS: waiting would not help
            raise _reconcile.ApiError(method, proxy, status, answer)
        return status, answer
    from ansible.module_utils.urls import open_url
    from ansible.module_utils.six.moves.urllib.error import HTTPError, URLError

    extra = {} if body is None else {"data": json.dumps(body), "headers": {"Content-Type": "application/json"}}
    try:
        resp = open_url(base_url.rstrip("/") + path, method=method, timeout=timeout, validate_certs=True, **extra)
        status, data = resp.getcode(), resp.read()
    except HTTPError as exc:
        status, data = exc.code, exc.read()
    except (URLError, OSError) as exc:
        return 0, "cannot reach %s: %s" % (base_url, exc)
    try:
        return status, json.loads(data)
    except ValueError:
        return status, data.decode("utf-8", "replace")


def find_deployment(api, namespace, name):
    """(name, Deployment or None) of one model server: the Deployment carrying its owner labels (its name follows
    fullnameOverride / nameOverride, which only the spec knows), else the one of the default name (for example an
    operator-made Deployment not taken over yet)."""
    items = _list(api, "/apis/apps/v1/namespaces/%s/deployments" % namespace, _render.owner_selector(name))
    if items:
        return items[0]["metadata"]["name"], items[0]
    dep_name = _spec.object_name(name)
    dep_path = _reconcile.object_path("Deployment", namespace, dep_name)
    status, deployment = api.request("GET", dep_path)
    if status == 404:
        return dep_name, None
    if status != 200:
        raise _reconcile.ApiError("GET", dep_path, status, deployment)
    return dep_name, deployment


def read_server(api, namespace, name):
    """(deployment, pods, events, config maps) of one model server."""
    _service, deployment = find_deployment(api, namespace, name)
    if deployment is None:
        return None, [], [], {}
    pods = _list(api, "/api/v1/namespaces/%s/pods" % namespace, _render.pod_selector(name))
    events = _list(api, "/api/v1/namespaces/%s/events" % namespace, None, field="type=Warning")
    owned_cms = _list(api, "/api/v1/namespaces/%s/configmaps" % namespace, _render.owner_selector(name))
    cms = dict((c["metadata"]["name"], c) for c in owned_cms)
    return deployment, pods, events, cms


def _list(api, path, selector, field=None):
    return _list_body(api, path, selector, field).get("items") or []


def _list_body(api, path, selector, field=None):
    query = []
    if selector:
        query.append(("labelSelector", selector))
    if field:
        query.append(("fieldSelector", field))
    status, body = api.request("GET", path, query=query)
    if status != 200:
        raise _reconcile.ApiError("GET", path, status, body)
    return body


def server_names(api, namespace):
    """Every model server this collection manages in a namespace (by the owner labels of its Deployments)."""
    items = _list(api, "/apis/apps/v1/namespaces/%s/deployments" % namespace, _render.owner_selector())
    return sorted(set(i["metadata"]["labels"][_render.LABEL_INSTANCE] for i in items))


def watch_rollout(api, namespace, name, timeout):
    """Watch the Deployment (no polling sleep) until its rollout is complete or timeout seconds passed.
    Returns the last Deployment seen (None when it does not exist)."""
    dep_name, dep = find_deployment(api, namespace, name)
    path = _reconcile.object_path("Deployment", namespace, dep_name)
    deadline = time.time() + timeout
    if dep is None:
        return None
    while not rollout_state(dep)["complete"]:
        remaining = int(deadline - time.time())
        if remaining <= 0:
            break
        collection = path.rsplit("/", 1)[0]
        for event in api.watch(collection, [("fieldSelector", "metadata.name=%s" % dep_name),
                                            ("resourceVersion", dep["metadata"]["resourceVersion"]),
                                            ("timeoutSeconds", str(max(1, remaining)))]):
            if event.get("type") in ("ADDED", "MODIFIED"):
                dep = event["object"]
                if rollout_state(dep)["complete"]:
                    break
            elif event.get("type") == "ERROR":  # resourceVersion too old, or the connection broke: read it again
                if (event.get("object") or {}).get("code") == 403:  # not allowed to watch: say so, do not spin
                    raise _reconcile.ApiError("WATCH", collection, 403, event["object"].get("message", ""))
                status, dep = api.request("GET", path)
                if status == 404:
                    return None
                if status != 200:
                    raise _reconcile.ApiError("GET", path, status, dep)
                break
    return dep


def describe(api, namespace, name, check_models=True, base_url=None, read=None, smoke="auto"):
    """Everything the role and modelserver_info report about one model server. read: its (deployment, pods, events,
    config maps) when already read (the fleet wait lists them once per namespace); else they are read here.
    smoke: auto (a smoke request to every generative servable), true (also a KServe v2 inference to every classic
    model) or false; see add_smoke."""
    read = read or read_server(api, namespace, name)
    result = server_state(namespace, name, *read)
    if check_models and result["exists"] and result["rollout"]["ready"] > 0:
        check_server_models(api, result, base_url)
    if result["exists"]:
        add_smoke(api, namespace, result, smoke if check_models else False, base_url)
        result["models_progress"] = servables_progress(result, [
            {"started": _epoch(p.get("status", {}).get("startTime"))} for p in read[1]],
            time.time()) if check_models else None
    return finish(result, check_models)


def server_state(namespace, name, deployment, pods, events, cms):
    """The cluster's side of describe(): Deployment, rollout, pods and their problems, events, expected models."""
    # the Service has the Deployment's name (the chart's fullname)
    service = deployment["metadata"]["name"] if deployment else _spec.object_name(name)
    result = {"name": name, "namespace": namespace, "service": service, "exists": deployment is not None}
    if deployment is None:
        result.update(ready=False, problems=["Deployment %s/%s does not exist" % (namespace, service)],
                      pods=[], models={}, models_ok=False, models_failed=[])
        return result
    rollout = rollout_state(deployment)
    summaries = [pod_summary(p) for p in pods if not p["metadata"].get("deletionTimestamp")]
    problems = ["pod %s: %s" % (p["name"], p["reason"]) for p in summaries if not p["ready"]]
    names = set(p["name"] for p in summaries) | set([service])
    rs_names = set(r.get("name") for p in pods for r in p["metadata"].get("ownerReferences") or [])
    result.update(rollout=rollout, progress=progress_line(namespace, service, rollout), pods=summaries,
                  problems=problems, events=warning_events(events, names | rs_names))
    result["servables"] = generative_servables(deployment)
    result["expected_models"] = with_servables(expected_models(deployment, cms), result["servables"])
    result["models"], result["models_ok"], result["models_failed"] = {}, False, []
    return result


def check_server_models(api, result, base_url=None):
    """The OVMS side of describe(): ask the server (result of server_state) for its models; fills models, models_ok,
    models_failed (or ovms_error)."""
    namespace, service = result["namespace"], result["service"]
    status, config = ovms_get(api, namespace, service, "/v1/config", base_url)
    if status != 200 or not isinstance(config, dict):
        result["ovms_error"] = "GET /v1/config answered %s: %s" % (status, _short(config))
        return result
    states = model_states(config, result["expected_models"] or [])
    for model, state in states.items():
        if state["available"] and not ready_check_possible(model, base_url):
            state["ready_endpoint"] = None  # /v1/config's AVAILABLE (and the smoke request) must do
        elif state["available"]:
            code, body = ovms_get(api, namespace, service, model_url_path(model, "/ready"), base_url)
            state["ready_endpoint"] = code
            if code != 200:
                state["available"] = False
                state["error_message"] = "/v2/models/%s/ready answered %s: %s" % (model, code, _short(body))
    result["models"] = states
    result["models_ok"] = bool(states) and all(s["available"] for s in states.values())
    result["models_failed"] = [m for m, s in sorted(states.items()) if model_failed(s)]
    return result


def finish(result, check_models=True):
    """describe()'s verdict: ready, and failure (one line saying why not)."""
    if not result["exists"]:
        result["failure"] = result["problems"][0]
        return result
    result["ready"] = result["rollout"]["complete"] and (
        (result["models_ok"] and result.get("smoke_ok", True)) or not check_models)
    result["failure"] = None if result["ready"] else failure_summary(result, check_models)
    return result


def failure_summary(info, check_models=True):
    """One line saying why a model server is not ready: the pods, their reasons and events, or the models."""
    rollout = info["rollout"]
    if not rollout["complete"]:
        parts = [info["progress"]]
        if rollout["deadline_exceeded"]:
            parts.append("the Deployment exceeded its progress deadline")
        parts += info["problems"] or ["no pod reports a problem yet"]
        if info.get("events"):
            parts.append("recent Warning events: " + " | ".join(info["events"]))
        return "; ".join(parts)
    if not check_models:
        return None
    if info.get("ovms_error"):
        return "OVMS did not answer: %s" % info["ovms_error"]
    bad = ["model %s: %s (error_code %s: %s)" % (m, s["state"], s["error_code"], s["error_message"])
           for m, s in sorted(info["models"].items()) if not s["available"]]
    if not bad and info.get("smoke_failed"):
        bad = [smoke_line(m, info["smoke"][m]) for m in info["smoke_failed"]]
    return "; ".join(bad) or "OVMS reports no models"


def _epoch(timestamp):
    """Seconds since the epoch of a Kubernetes timestamp (2026-12-03T05:21:00Z), None when there is none."""
    if not timestamp:
        return None
    import calendar

    try:
        return calendar.timegm(time.strptime(timestamp, "%Y-%m-%dT%H:%M:%SZ"))
    except ValueError:
        return None


def _short(body):
    text = body if isinstance(body, str) else json.dumps(body)
    return text[:300]


def wait_for(api, namespace, name, what, wait_until, window, check_models=True, base_url=None, interval=0.5,
             smoke="auto"):
    """describe() after waiting for `what` (rollout | models) until it holds, wait_until (epoch seconds) passes, or
    `window` seconds of this call are used up. A model load that failed, or a smoke request that failed, ends the
    wait at once."""
    stop = min(wait_until, time.time() + window)
    if what == "rollout":
        watch_rollout(api, namespace, name, max(0, stop - time.time()))
        return describe(api, namespace, name, check_models=False)
    while True:
        info = describe(api, namespace, name, check_models=check_models, base_url=base_url, smoke=smoke)
        failed = [m for m, s in info.get("models", {}).items() if model_failed(s)] + info.get("smoke_failed", [])
        if info["ready"] or failed or time.time() >= stop:
            return info
        time.sleep(interval)


def rollback(api, namespace, name, revision, check_mode=False):
    """Restore the Deployment's pod template from its ReplicaSet of `revision`, like
    `kubectl rollout undo --to-revision`. Returns a description of what was restored."""
    service, _deployment = find_deployment(api, namespace, name)
    sets = _list(api, "/apis/apps/v1/namespaces/%s/replicasets" % namespace, _render.pod_selector(name))
    match = [r for r in sets if (r["metadata"].get("annotations") or {}).get(REVISION_ANNOTATION) == str(revision)]
    if not match:
        raise _reconcile.ReconcileError("cannot roll back %s/%s: no ReplicaSet of revision %s (found revisions %s)" % (
            namespace, service, revision, ", ".join(sorted((r["metadata"].get("annotations") or {}).get(
                REVISION_ANNOTATION, "?") for r in sets)) or "none"))
    template = match[0]["spec"]["template"]
    template.get("metadata", {}).get("labels", {}).pop("pod-template-hash", None)
    path = _reconcile.object_path("Deployment", namespace, service)
    query = [("fieldManager", _reconcile.MANAGER + "-rollback")]
    if check_mode:
        query.append(("dryRun", "All"))
    status, body = api.request("PATCH", path, body=[{"op": "replace", "path": "/spec/template", "value": template}],
                               query=query, content_type="application/json-patch+json")
    if status != 200:
        raise _reconcile.ApiError("PATCH", path, status, body)
    image = (template["spec"]["containers"] or [{}])[0].get("image")
    return "Deployment %s/%s pod template restored from revision %s (image %s)" % (namespace, service, revision, image)


# --- a fleet: many model servers waited for and verified at once ------------------------------------
def parse_server_ref(ref):
    """(namespace, name) of a fleet entry written "namespace/name"."""
    parts = ref.split("/") if isinstance(ref, str) else []
    if len(parts) != 2 or not all(parts):
        raise _spec.SpecError("servers", "expected namespace/name, got %r" % (ref,))
    try:
        _spec.check_identity(parts[1], parts[0])
    except _spec.SpecError as exc:
        raise _spec.SpecError("servers", "%s: %s" % (ref, exc))
    return parts[0], parts[1]


def fleet_verdict(info, stuck=None, error=None):
    """(status, cause) of one fleet server from its describe() result: ready; failed (a cause waiting will not cure:
    a stuck pod, a Deployment past its progress deadline, a model whose load failed, an error); or pending."""
    if error:
        return "failed", error
    if info.get("ready"):
        return "ready", None
    if stuck:
        return "failed", stuck
    if not info.get("exists"):
        return "pending", "no Deployment"
    if info["rollout"]["deadline_exceeded"]:
        return "failed", "ProgressDeadlineExceeded"
    if info.get("models_failed"):
        return "failed", "; ".join("model %s: load failed (error_code %s)" % (m, info["models"][m]["error_code"])
                                   for m in info["models_failed"])
    if info.get("smoke_failed"):
        return "failed", "; ".join(smoke_line(m, info["smoke"][m]) for m in info["smoke_failed"])
    if not info["rollout"]["complete"]:
        return "pending", "rolling out (%d/%d ready)" % (info["rollout"]["ready"], info["rollout"]["desired"])
    return "pending", "models not AVAILABLE yet"


def fleet_progress(results, limit=10):
    """One line for the whole fleet: "37/100 ready, 2 failing: ns/a CrashLoopBackOff, ...; 61 waiting (...)"."""
    failed = [r for r in results if r["status"] == "failed"]
    pending = [r for r in results if r["status"] == "pending"]
    line = "%d/%d ready" % (sum(1 for r in results if r["status"] == "ready"), len(results))
    if failed:
        named = ["%s/%s %s" % (r["namespace"], r["name"], r["cause"]) for r in failed[:limit]]
        line += ", %d failing: %s%s" % (len(failed), ", ".join(named), ", ..." if len(failed) > limit else "")
    if pending:
        rolling = sum(1 for r in pending if not r.get("exists") or not r["rollout"]["complete"])
        line += "; %d waiting (%d rolling out, %d loading models)" % (len(pending), rolling, len(pending) - rolling)
    return line


def _pods_selector():
    """Every pod of this collection's model servers (instance_labels without the instance)."""
    return "%s=%s" % (_render.LABEL_NAME, _render.APP_NAME)


def _instance(obj):
    return (obj["metadata"].get("labels") or {}).get(_render.LABEL_INSTANCE)


class FleetWait:
    """Waits for many model servers at once: ONE label-selector watch on the Deployments per namespace (all of its
    servers), a pod LIST per namespace every `tick` seconds while rollouts are incomplete (a crash-looping pod fails
    its server at once, not at the deadline), and each server's models verified as soon as its rollout completes,
    with describe()'s model check in a pool of `parallel` threads. Reads the namespaces once more at the end for the
    report."""

    def __init__(self, api, servers, check_models=True, base_url=None, parallel=8, interval=0.5, tick=3.0,
                 fail_fast=False, smoke="auto"):
        self.api, self.check_models, self.base_url, self.smoke = api, check_models, base_url, smoke
        self.parallel, self.interval, self.tick, self.fail_fast = max(1, parallel), interval, tick, fail_fast
        self.keys = []
        for key in servers:
            if key not in self.keys:
                self.keys.append(key)
        self.namespaces = sorted(set(ns for ns, _name in self.keys))
        self.lock = threading.Lock()
        self.changed = threading.Event()
        self.halt = threading.Event()
        self.deployments = {}   # (ns, name) -> the newest Deployment seen
        self.cms = {}           # (ns, name) -> {name: ConfigMap}
        self.stuck = {}         # (ns, name) -> cause (a reason waiting does not cure)
        self.errors = {}        # (ns, name) -> an error reading or verifying it
        self.verified = {}      # (ns, name) -> describe() result with the models checked (the last one)
        self.missing = []       # no Deployment with the owner labels: described one by one at the end

    # -- the cluster side, one thread per namespace --
    def _deployments_path(self, ns):
        return "/apis/apps/v1/namespaces/%s/deployments" % ns

    def _relist(self, ns):
        body = _list_body(self.api, self._deployments_path(ns), _render.owner_selector())
        with self.lock:
            for dep in body.get("items") or []:
                if (ns, _instance(dep)) in self.deployments:
                    self.deployments[(ns, _instance(dep))] = dep
        return (body.get("metadata") or {}).get("resourceVersion")

    def _open(self, ns):
        """Keys of ns whose rollout is neither complete nor failed."""
        with self.lock:
            return [k for k in self.keys if k[0] == ns and k in self.deployments and k not in self.stuck
                    and k not in self.errors and not rollout_state(self.deployments[k])["complete"]]

    def _check_pods(self, ns, keys):
        pods = _list(self.api, "/api/v1/namespaces/%s/pods" % ns, _pods_selector())
        with self.lock:
            for key in keys:
                dep = self.deployments[key]
                if rollout_state(dep)["deadline_exceeded"]:
                    self.stuck[key] = "ProgressDeadlineExceeded"
                    continue
                for pod in pods:
                    if _instance(pod) != key[1] or pod["metadata"].get("deletionTimestamp"):
                        continue
                    summary = pod_summary(pod)
                    if summary["stuck"]:
                        self.stuck[key] = summary["stuck"]
                        break
        self.changed.set()

    def _watch(self, ns, rv, stop):
        try:
            while not self.halt.is_set():
                keys = self._open(ns)
                remaining = stop - time.time()
                if not keys or remaining <= 0:
                    return
                seconds = max(1, int(min(remaining, self.tick) + 0.999))
                for event in self.api.watch(self._deployments_path(ns), [
                        ("labelSelector", _render.owner_selector()), ("resourceVersion", rv),
                        ("allowWatchBookmarks", "true"), ("timeoutSeconds", str(seconds))]):
                    kind, obj = event.get("type"), event.get("object") or {}
                    if kind == "ERROR":  # resourceVersion too old, or the connection broke: list again
                        if obj.get("code") == 403:  # not allowed to watch: say so, do not spin
                            raise _reconcile.ApiError("WATCH", self._deployments_path(ns), 403, obj.get("message", ""))
                        rv = self._relist(ns)
                        break
                    rv = obj.get("metadata", {}).get("resourceVersion") or rv
                    key = (ns, _instance(obj))
                    if kind in ("ADDED", "MODIFIED") and key in self.deployments:
                        with self.lock:
                            self.deployments[key] = obj
                        if rollout_state(obj)["complete"]:
                            self.changed.set()
                            if not self._open(ns):
                                break
                keys = self._open(ns)
                if keys:
                    self._check_pods(ns, keys)
        except _reconcile.ReconcileError as exc:
            with self.lock:
                for key in self.keys:
                    if key[0] == ns:
                        self.errors.setdefault(key, str(exc))
        finally:
            self.changed.set()

    # -- the OVMS side --
    def _verify(self, key):
        with self.lock:
            dep, cms = self.deployments[key], self.cms.get(key, {})
        try:
            info = describe(self.api, key[0], key[1], check_models=True, base_url=self.base_url,
                            read=(dep, [], [], cms), smoke=self.smoke)
        except _reconcile.ReconcileError as exc:
            with self.lock:
                self.errors[key] = str(exc)
            return
        with self.lock:
            self.verified[key] = info

    def _to_verify(self):
        """Keys whose rollout is complete and whose models are not decided yet (neither all AVAILABLE nor failed)."""
        with self.lock:
            return [k for k in self.keys if k in self.deployments and k not in self.stuck and k not in self.errors
                    and rollout_state(self.deployments[k])["complete"]
                    and not (k in self.verified and (self.verified[k]["ready"] or self.verified[k]["models_failed"]
                                                     or self.verified[k].get("smoke_failed")))]

    def _failed_any(self):
        with self.lock:
            return bool(self.stuck or self.errors or any(v["models_failed"] or v.get("smoke_failed")
                                                         for v in self.verified.values()))

    def run(self, stop):
        """Wait until every server is ready or failed, or time.time() passes stop; return a result per server."""
        from concurrent.futures import ThreadPoolExecutor

        rvs = {}
        for ns in self.namespaces:
            body = _list_body(self.api, self._deployments_path(ns), _render.owner_selector())
            rvs[ns] = (body.get("metadata") or {}).get("resourceVersion")
            found = dict((_instance(d), d) for d in body.get("items") or [])
            cms = _list(self.api, "/api/v1/namespaces/%s/configmaps" % ns, _render.owner_selector())
            for key in self.keys:
                if key[0] != ns:
                    continue
                if key[1] in found:
                    self.deployments[key] = found[key[1]]
                    self.cms[key] = dict((c["metadata"]["name"], c) for c in cms if _instance(c) == key[1])
                else:
                    self.missing.append(key)
        watchers = [threading.Thread(target=self._watch, args=(ns, rvs[ns], stop)) for ns in self.namespaces]
        for thread in watchers:
            thread.daemon = True
            thread.start()
        with ThreadPoolExecutor(max_workers=self.parallel) as pool:
            while True:
                self.changed.clear()
                if self.check_models:
                    list(pool.map(self._verify, self._to_verify()))
                if self.fail_fast and self._failed_any():
                    break
                waiting = [ns for ns in self.namespaces if self._open(ns)]
                if not waiting and not (self.check_models and self._to_verify()):
                    break
                remaining = stop - time.time()
                if remaining <= 0:
                    break
                # a watcher wakes us when a rollout completes; models still loading are asked again every interval
                self.changed.wait(min(remaining, self.interval if self._to_verify() else self.tick))
            self.halt.set()
            for thread in watchers:
                thread.join()
            return self._report(pool)

    def _report(self, pool):
        reads = {}
        for ns in self.namespaces:
            pods = _list(self.api, "/api/v1/namespaces/%s/pods" % ns, _pods_selector())
            events = _list(self.api, "/api/v1/namespaces/%s/events" % ns, None, field="type=Warning")
            reads[ns] = (pods, events)

        def one(key):
            ns, name = key
            if key in self.missing:
                try:
                    info = describe(self.api, ns, name, check_models=self.check_models, base_url=self.base_url,
                                    smoke=self.smoke)
                except _reconcile.ReconcileError as exc:
                    info, self.errors[key] = {"name": name, "namespace": ns, "exists": False}, str(exc)
            else:
                pods, events = reads[ns]
                info = server_state(ns, name, self.deployments[key], [p for p in pods if _instance(p) == name], events,
                                    self.cms.get(key, {}))
                verified = self.verified.get(key)
                if verified and self.check_models:
                    for field in ("models", "models_ok", "models_failed", "ovms_error"):
                        if field in verified:
                            info[field] = verified[field]
                finish(info, self.check_models)
            status, cause = fleet_verdict(info, self.stuck.get(key), self.errors.get(key))
            if status != "ready" and not info.get("failure"):
                info["failure"] = cause
            info.update(status=status, cause=cause)
            return info
        return list(pool.map(one, self.keys))


def wait_fleet(api, servers, wait_until, window, check_models=True, base_url=None, parallel=8, fail_fast=False,
               interval=0.5, tick=3.0, smoke="auto"):
    """Many model servers ((namespace, name) pairs) waited for and verified at once, for up to `window` seconds of
    this call or until wait_until (epoch seconds). Returns (results per server, each describe()'s result plus
    `status` (ready / failed / pending) and `cause`; the fleet's progress line)."""
    stop = min(wait_until, time.time() + window)
    results = FleetWait(api, servers, check_models, base_url, parallel, interval, tick, fail_fast, smoke).run(stop)
    return results, fleet_progress(results)


def fleet_report(applied, waited=None, rolled_back=None, pending_cause="not waited for"):
    """The fleet role's result per server, from the fleet apply's results, the last fleet wait's modelservers and the
    rollback loop's results: {"servers": [{namespace, name, applied, changed, revision_before, status (ready / failed /
    pending / applied when not waited for), ready, models_available, cause, failure, rolled_back}], "failed": [
    "ns/name: cause"], "pending": [...], "summary"}. pending_cause: why a server still pending was not waited for
    further ("not ready within 600 s": it is failed; "stopped early": it stays pending)."""
    waited_by = dict(((w["namespace"], w["name"]), w) for w in waited or [])
    rolled_by = {}
    for r in rolled_back or []:
        item = r.get("item") or {}
        if r.get("skipped") or not item:
            continue
        rolled_by[(item.get("namespace"), item.get("name"))] = r
    servers = []
    for a in applied or []:
        key = (a["namespace"], a["name"])
        entry = {"namespace": a["namespace"], "name": a["name"], "applied": a.get("outcome"),
                 "changed": a.get("changed", False), "revision_before": a.get("revision_before"),
                 "service": (a.get("service") or {}).get("name"), "ready": False, "models_available": [],
                 "cause": None, "failure": None, "rolled_back": None}
        if a.get("failed"):
            entry.update(status="failed", cause=a.get("msg"), failure=a.get("msg"))
        elif key in waited_by:
            w = waited_by[key]
            entry.update(status=w["status"], cause=w.get("cause"), failure=w.get("failure"), ready=w["status"] == "ready",
                         models_available=sorted(m for m, s in (w.get("models") or {}).items() if s.get("available")))
            if w["status"] == "pending":
                timed_out = pending_cause.startswith("not ready")
                entry.update(status="failed" if timed_out else "pending", cause="%s: %s" % (pending_cause, w.get("cause")))
        else:
            entry["status"] = a.get("outcome") or "applied"
        if key in rolled_by:
            r = rolled_by[key]
            entry["rolled_back"] = r.get("rolled_back") if not r.get("failed") else "rollback failed: %s" % r.get("msg")
        servers.append(entry)
    failed = ["%s/%s: %s%s" % (s["namespace"], s["name"], s["cause"], " -- rolled back: %s" % s["rolled_back"]
                               if s["rolled_back"] else "") for s in servers if s["status"] == "failed"]
    pending = ["%s/%s: %s" % (s["namespace"], s["name"], s["cause"]) for s in servers if s["status"] == "pending"]
    lines = []
    for s in servers:
        if s["ready"]:
            lines.append("%s/%s: ready%s" % (s["namespace"], s["name"], "; models AVAILABLE: %s" % ", ".join(
                s["models_available"]) if s["models_available"] else ""))
        elif s["status"] in ("failed", "pending"):
            lines.append("%s/%s: %s: %s%s" % (s["namespace"], s["name"], s["status"], s["cause"],
                                              " -- rolled back: %s" % s["rolled_back"] if s["rolled_back"] else ""))
        else:
            lines.append("%s/%s: %s" % (s["namespace"], s["name"], s["status"]))
    ready = sum(1 for s in servers if s["ready"])
    summary = "%d/%d ready, %d failed%s" % (ready, len(servers), len(failed),
                                            ", %d not verified" % len(pending) if pending else "")
    return {"servers": servers, "failed": failed, "pending": pending, "summary": summary, "lines": lines}


# --- generative servables and smoke requests (issue 13) -------------------------------------------------------------
# The renderer writes the generative servables of a Deployment into this annotation (a JSON list of
# {"name", "task"}); classic servers carry none. Verification reads it: which servables to expect, and which smoke
# request each one gets.
SERVABLES_ANNOTATION = "openvino.ovms/servables"
SMOKE_CHOICES = ("auto", True, False)

# Per task: the step's name, the endpoint, and the smallest real request (ovms-generative.md, section 4). Tasks not
# listed here (image_generation, text2speech, speech2text) get no smoke request: theirs would not be small.
SMOKE_REQUESTS = {
    "text_generation": ("chat completion", "/v3/chat/completions",
                        lambda model: {"model": model, "messages": [{"role": "user", "content": "hi"}],
                                       "max_tokens": 1}),
    "embeddings": ("embedding", "/v3/embeddings", lambda model: {"model": model, "input": ["hi"]}),
    "rerank": ("rerank", "/v3/rerank", lambda model: {"model": model, "query": "hi", "documents": ["a", "b"]}),
}
INFER_STEP = "KServe v2 inference"
# a zero tensor larger than this is not sent as JSON (the step is skipped, saying so)
MAX_SMOKE_ELEMENTS = 1 << 22


def generative_servables(deployment):
    """The generative servables the renderer recorded on the Deployment (its annotation, else its pod template's):
    a list of {"name", "task"}, empty for a classic server or an annotation that is not such a list."""
    for meta in (deployment.get("metadata") or {},
                 ((deployment.get("spec") or {}).get("template") or {}).get("metadata") or {}):
        text = (meta.get("annotations") or {}).get(SERVABLES_ANNOTATION)
        if not text:
            continue
        try:
            items = json.loads(text)
        except ValueError:
            return []
        if not isinstance(items, list):
            return []
        return [{"name": i["name"], "task": i.get("task")} for i in items
                if isinstance(i, dict) and isinstance(i.get("name"), string_types) and i["name"]]
    return []


def with_servables(expected, servables):
    """The expected models (from the args or the config map, None when unreadable) plus the generative servables,
    each once, in that order."""
    names = list(expected or [])
    for s in servables:
        if s["name"] not in names:
            names.append(s["name"])
    return names if names or expected is not None else None


def smoke_setting(value):
    """The smoke option: "auto", True or False, from auto or a boolean (true/false, yes/no, on/off, 1/0, any case, as
    -e and AWX give them). Raises TypeError for anything else."""
    from ansible.module_utils.parsing.convert_bool import boolean

    if isinstance(value, string_types) and value.strip().lower() == "auto":
        return "auto"
    return boolean(value, strict=True)


def smoke_wanted(smoke, servables):
    """Which models get a smoke request: 'generative' (auto with generative servables, or true), 'all' (true: the
    classic models too, by KServe v2 inference) or None."""
    if smoke is False:
        return None
    if smoke is True:
        return "all"
    return "generative" if servables else None


def model_url_path(name, suffix=""):
    """/v2/models/<name><suffix> with the name percent-encoded: OVMS matches a name holding '/' only as %2F."""
    from ansible.module_utils.six.moves.urllib.parse import quote

    return "/v2/models/%s%s" % (quote(name, safe=""), suffix)


def ready_check_possible(name, base_url=None):
    """Whether GET /v2/models/<name>/ready can reach OVMS with the name intact. Through the API server's service proxy
    a name holding "/" cannot: the proxy decodes %2F into "/" before it forwards the request (kubernetes/kubernetes
    issue 14193; seen on the local control plane, Kubernetes 1.35), and OVMS matches such a name only as %2F. Such a
    servable is judged by /v1/config's AVAILABLE and by its smoke request, which names it in the JSON body."""
    return bool(base_url) or "/" not in name


def _is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_count(value):
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _show(value, limit=80):
    """A value as JSON, cut to limit characters (for messages about an answer's shape)."""
    text = json.dumps(value)
    return text if len(text) <= limit else text[:limit] + "..."


def _at(body, *keys):
    """body[k1][k2]... or None when a step is missing or of the wrong kind."""
    for key in keys:
        if isinstance(key, int):
            if not isinstance(body, list) or len(body) <= key:
                return None
        elif not isinstance(body, dict):
            return None
        body = body[key] if isinstance(key, int) else body.get(key)
    return body


def check_chat_answer(body):
    """None when body is the answer of a chat completion with max_tokens 1, else what is wrong with its shape."""
    if _at(body, "object") != "chat.completion":
        return "object is %s, expected \"chat.completion\"" % json.dumps(_at(body, "object"))
    choices = _at(body, "choices")
    if not isinstance(choices, list) or not choices:
        return "choices is %s, expected a non-empty list" % _show(choices)
    if _at(body, "choices", 0, "message", "role") != "assistant":
        return "choices[0].message.role is %s, expected \"assistant\"" % json.dumps(
            _at(body, "choices", 0, "message", "role"))
    content = _at(body, "choices", 0, "message", "content")
    if content is not None and not isinstance(content, string_types):
        return "choices[0].message.content is %s, expected a string" % _show(content)
    if _at(body, "choices", 0, "finish_reason") not in ("length", "stop"):
        return "choices[0].finish_reason is %s, expected \"length\" (or \"stop\")" % json.dumps(
            _at(body, "choices", 0, "finish_reason"))
    for key in ("prompt_tokens", "completion_tokens", "total_tokens"):
        if not _is_count(_at(body, "usage", key)):
            return "usage.%s is %s, expected a count" % (key, json.dumps(_at(body, "usage", key)))
    if body["usage"]["completion_tokens"] > 1:
        return "usage.completion_tokens is %d: max_tokens 1 was not honoured" % body["usage"]["completion_tokens"]
    return None


def check_embeddings_answer(body, inputs=1):
    """None when body is the answer of an embeddings request of `inputs` inputs, else what is wrong with its shape."""
    if _at(body, "object") != "list":
        return "object is %s, expected \"list\"" % json.dumps(_at(body, "object"))
    data = _at(body, "data")
    if not isinstance(data, list) or len(data) != inputs:
        return "data is %s, expected a list of %d embedding(s)" % (_show(data), inputs)
    for i in range(inputs):
        if _at(data, i, "object") != "embedding":
            return "data[%d].object is %s, expected \"embedding\"" % (i, json.dumps(_at(data, i, "object")))
        vector = _at(data, i, "embedding")
        if not isinstance(vector, list) or not vector or not all(_is_number(x) for x in vector):
            return "data[%d].embedding is %s, expected a non-empty list of numbers" % (i, _show(vector))
        if not _is_count(_at(data, i, "index")):
            return "data[%d].index is %s, expected a count" % (i, json.dumps(_at(data, i, "index")))
    if not isinstance(_at(body, "usage"), dict):
        return "usage is %s, expected an object" % _show(_at(body, "usage"))
    return None


def check_rerank_answer(body, documents=2):
    """None when body is the answer of a rerank of `documents` documents, else what is wrong with its shape."""
    results = _at(body, "results")
    if not isinstance(results, list) or len(results) != documents:
        return "results is %s, expected a list of %d results (one per document)" % (_show(results), documents)
    for i, r in enumerate(results):
        if not _is_count(_at(r, "index")) or r["index"] >= documents:
            return "results[%d].index is %s, expected a document index below %d" % (
                i, json.dumps(_at(r, "index")), documents)
        score = _at(r, "relevance_score")
        if not _is_number(score) or not 0 <= score <= 1:
            return "results[%d].relevance_score is %s, expected a number from 0 to 1" % (i, json.dumps(score))
    if len(set(r["index"] for r in results)) != documents:
        return "results name the documents %s, expected each of 0..%d once" % (
            sorted(r["index"] for r in results), documents - 1)
    return None


ANSWER_CHECKS = {"text_generation": check_chat_answer, "embeddings": check_embeddings_answer,
                 "rerank": check_rerank_answer}


def _product(shape):
    n = 1
    for d in shape:
        n *= d
    return n


def zero_tensor_request(metadata):
    """A KServe v2 inference request of zero tensors shaped from the model's metadata (dynamic -1 dimensions -> 1).
    Raises ValueError when no such request can be made (no inputs, a BYTES input, a tensor too large)."""
    inputs = _at(metadata, "inputs")
    if not isinstance(inputs, list) or not inputs:
        raise ValueError("the model's metadata lists no inputs")
    tensors = []
    for inp in inputs:
        name, datatype, shape = _at(inp, "name"), _at(inp, "datatype"), _at(inp, "shape")
        named = isinstance(name, string_types) and isinstance(datatype, string_types)
        if not named or not isinstance(shape, list) or not all(
                isinstance(d, int) and not isinstance(d, bool) for d in shape):
            raise ValueError("input %s in the model's metadata has no name, datatype or shape" % _show(inp))
        if datatype == "BYTES":
            raise ValueError("input %s is BYTES: no zero tensor stands for it" % name)
        shape = [1 if d < 0 else d for d in shape]
        count = _product(shape)
        if count > MAX_SMOKE_ELEMENTS:
            raise ValueError("input %s %s has %d elements, too many for a JSON smoke request" % (name, shape, count))
        tensors.append({"name": name, "datatype": datatype, "shape": shape,
                        "data": [False if datatype == "BOOL" else 0] * count})
    return {"inputs": tensors}


def _flatten(data):
    out = []
    for item in data:
        if isinstance(item, list):
            out.extend(_flatten(item))
        else:
            out.append(item)
    return out


def check_infer_answer(body, metadata):
    """None when body is a KServe v2 inference answer carrying every output of the metadata, else what is wrong."""
    outputs = _at(body, "outputs")
    if not isinstance(outputs, list) or not outputs:
        return "outputs is %s, expected a non-empty list" % _show(outputs)
    for i, out in enumerate(outputs):
        shape = _at(out, "shape")
        if not isinstance(_at(out, "name"), string_types) or not isinstance(_at(out, "datatype"), string_types):
            return "outputs[%d] has no name or datatype" % i
        if not isinstance(shape, list) or not all(_is_count(d) for d in shape):
            return "outputs[%d].shape is %s, expected a list of sizes" % (i, json.dumps(shape))
        data = _at(out, "data")
        if data is not None and (not isinstance(data, list) or len(_flatten(data)) != _product(shape)):
            return "outputs[%d] (%s) holds %s elements, its shape %s says %d" % (
                i, out["name"], len(_flatten(data)) if isinstance(data, list) else "no list of",
                shape, _product(shape))
    wanted = [o.get("name") for o in _at(metadata, "outputs") or [] if isinstance(o, dict)]
    missing = [n for n in wanted if n not in [o["name"] for o in outputs]]
    if missing:
        return "output %s of the model's metadata is missing" % missing[0]
    return None


def ovms_error(status, body):
    """What OVMS (or the proxy in front of it) said about a failed request: its {"error": ...}, a Kubernetes Status'
    message, or the start of the text."""
    if isinstance(body, dict):
        message = body.get("error") or body.get("message")
        if isinstance(message, dict):  # OpenAI style {"error": {"message": ...}}
            message = message.get("message")
        if message:
            return "HTTP %s: %s" % (status, message)
    return "HTTP %s: %s" % (status, _short(body))


def smoke_servable(api, namespace, service, name, task, base_url=None):
    """The smoke step of one generative servable: {step, request, ok, status, error, skipped}."""
    if task not in SMOKE_REQUESTS:
        return {"step": None, "request": None, "ok": True, "status": None, "error": None,
                "skipped": "no smoke request for task %s" % task}
    step, path, make = SMOKE_REQUESTS[task]
    result = {"step": step, "request": "POST " + path, "ok": False, "status": None, "error": None, "skipped": None}
    status, body = ovms_post(api, namespace, service, path, make(name), base_url)
    result["status"] = status
    if status != 200:
        result["error"] = ovms_error(status, body)
        return result
    wrong = ANSWER_CHECKS[task](body)
    if wrong:
        result["error"] = "the answer has the wrong shape: %s" % wrong
        return result
    result["ok"] = True
    return result


def smoke_classic(api, namespace, service, name, base_url=None):
    """The smoke step of one classic model: a KServe v2 inference of zero tensors shaped from its metadata."""
    path = model_url_path(name, "/infer")
    result = {"step": INFER_STEP, "request": "POST " + path, "ok": False, "status": None, "error": None,
              "skipped": None}
    status, metadata = ovms_get(api, namespace, service, model_url_path(name), base_url)
    if status != 200 or not isinstance(metadata, dict):
        result.update(status=status, error="metadata (GET %s): %s" % (model_url_path(name), ovms_error(
            status, metadata)))
        return result
    try:
        request = zero_tensor_request(metadata)
    except ValueError as exc:
        result.update(ok=True, skipped=str(exc))
        return result
    status, body = ovms_post(api, namespace, service, path, request, base_url)
    result["status"] = status
    if status != 200:
        result["error"] = ovms_error(status, body)
        return result
    wrong = check_infer_answer(body, metadata)
    if wrong:
        result["error"] = "the answer has the wrong shape: %s" % wrong
        return result
    result["ok"] = True
    return result


def smoke_test(api, namespace, service, expected, servables, wanted, base_url=None):
    """{model: smoke result} for every generative servable (and, when wanted == 'all', every classic model)."""
    tasks = dict((s["name"], s["task"]) for s in servables)
    out = {}
    for name in expected or []:
        if name in tasks:
            out[name] = smoke_servable(api, namespace, service, name, tasks[name], base_url)
        elif wanted == "all":
            out[name] = smoke_classic(api, namespace, service, name, base_url)
    return out


def smoke_line(name, result):
    if result["skipped"]:
        return "model %s: smoke skipped (%s)" % (name, result["skipped"])
    if result["ok"]:
        return "model %s: %s OK" % (name, result["step"])
    return "model %s: %s (%s) failed: %s" % (name, result["step"], result["request"], result["error"])


def add_smoke(api, namespace, info, smoke, base_url=None):
    """Run the smoke step when wanted and every model is AVAILABLE; set smoke, smoke_ok, smoke_failed in info."""
    info["smoke"], info["smoke_ok"], info["smoke_failed"] = {}, True, []
    wanted = smoke_wanted(smoke, info.get("servables") or [])
    if not wanted or not info.get("models_ok"):
        info["smoke_ok"] = not wanted
        return info
    info["smoke"] = smoke_test(api, namespace, info["service"], info.get("expected_models") or sorted(info["models"]),
                               info.get("servables") or [], wanted, base_url)
    info["smoke_failed"] = [m for m, r in sorted(info["smoke"].items()) if not r["ok"]]
    info["smoke_ok"] = not info["smoke_failed"]
    return info


def servables_progress(info, pods=None, now=None):
    """One line on the generative servables while they download and load, and after: how many are AVAILABLE, each
    one's state, how long its pods have been up; the smoke results once they ran. None for a classic server."""
    servables = info.get("servables") or []
    if not servables:
        return None
    models = info.get("models") or {}
    ready = [s for s in servables if (models.get(s["name"]) or {}).get("available")]
    parts = ["%d/%d generative servables AVAILABLE" % (len(ready), len(servables))]
    up = ""
    starts = [p.get("started") for p in pods or [] if p.get("started")]
    if starts and now:
        up = ", pod up %d s" % max(0, int(now - max(starts)))
    if info.get("ovms_error"):
        parts.append("OVMS did not answer yet (%s)" % info["ovms_error"])
    for s in servables:
        state = models.get(s["name"])
        if state is None or state.get("available"):
            continue
        if state["state"] == "MISSING":
            parts.append("%s (%s): not in /v1/config yet (downloading or starting%s)" % (s["name"], s["task"], up))
        elif model_failed(state):
            parts.append("%s (%s): load failed (error_code %s: %s)" % (
                s["name"], s["task"], state["error_code"], state["error_message"]))
        else:
            parts.append("%s (%s): %s (loading or compiling%s)" % (s["name"], s["task"], state["state"], up))
    for name, result in sorted((info.get("smoke") or {}).items()):
        parts.append(smoke_line(name, result))
    return "; ".join(parts)
