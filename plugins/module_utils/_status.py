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
import time

from ansible_collections.openvino.ovms.plugins.module_utils import _reconcile, _render, _spec

REVISION_ANNOTATION = _reconcile.REVISION_ANNOTATION


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
           "node": pod.get("spec", {}).get("nodeName"), "ip": status.get("podIP"), "restarts": 0, "reason": None}
    reasons = []
    for cs in status.get("containerStatuses") or []:
        out["restarts"] += cs.get("restartCount", 0)
        waiting = (cs.get("state") or {}).get("waiting")
        terminated = (cs.get("lastState") or {}).get("terminated") or (cs.get("state") or {}).get("terminated")
        if waiting and waiting.get("reason"):
            text = waiting["reason"]
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
    if not base_url:
        status, body = api.request("GET", proxy_path(namespace, service, path), retry_statuses=False)
        if status == 403 and isinstance(body, dict) and body.get("kind") == "Status":
            # the API server refused the proxy (RBAC: services/proxy), not OVMS: waiting would not help
            raise _reconcile.ApiError("GET", proxy_path(namespace, service, path), status, body)
        return status, body
    from ansible.module_utils.urls import open_url
    from ansible.module_utils.six.moves.urllib.error import HTTPError, URLError

    try:
        resp = open_url(base_url.rstrip("/") + path, method="GET", timeout=timeout, validate_certs=True)
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
    query = []
    if selector:
        query.append(("labelSelector", selector))
    if field:
        query.append(("fieldSelector", field))
    status, body = api.request("GET", path, query=query)
    if status != 200:
        raise _reconcile.ApiError("GET", path, status, body)
    return body.get("items") or []


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


def describe(api, namespace, name, check_models=True, base_url=None):
    """Everything the role and modelserver_info report about one model server."""
    deployment, pods, events, cms = read_server(api, namespace, name)
    # the Service has the Deployment's name (the chart's fullname)
    service = deployment["metadata"]["name"] if deployment else _spec.object_name(name)
    result = {"name": name, "namespace": namespace, "service": service, "exists": deployment is not None}
    if deployment is None:
        result.update(ready=False, problems=["Deployment %s/%s does not exist" % (namespace, service)],
                      pods=[], models={}, models_ok=False)
        return result
    rollout = rollout_state(deployment)
    summaries = [pod_summary(p) for p in pods if not p["metadata"].get("deletionTimestamp")]
    problems = ["pod %s: %s" % (p["name"], p["reason"]) for p in summaries if not p["ready"]]
    names = set(p["name"] for p in summaries) | set([service])
    rs_names = set(r.get("name") for p in pods for r in p["metadata"].get("ownerReferences") or [])
    result.update(rollout=rollout, progress=progress_line(namespace, service, rollout), pods=summaries,
                  problems=problems, events=warning_events(events, names | rs_names))
    expected = expected_models(deployment, cms)
    result["expected_models"] = expected
    result["models"], result["models_ok"], result["models_failed"] = {}, False, []
    if check_models and rollout["ready"] > 0:
        status, config = ovms_get(api, namespace, service, "/v1/config", base_url)
        if status != 200 or not isinstance(config, dict):
            result["ovms_error"] = "GET /v1/config answered %s: %s" % (status, _short(config))
        else:
            states = model_states(config, expected or [])
            for model, state in states.items():
                if state["available"]:
                    code, body = ovms_get(api, namespace, service, "/v2/models/%s/ready" % model, base_url)
                    state["ready_endpoint"] = code
                    if code != 200:
                        state["available"] = False
                        state["error_message"] = "/v2/models/%s/ready answered %s: %s" % (model, code, _short(body))
            result["models"] = states
            result["models_ok"] = bool(states) and all(s["available"] for s in states.values())
            result["models_failed"] = [m for m, s in sorted(states.items()) if model_failed(s)]
    result["ready"] = rollout["complete"] and (result["models_ok"] or not check_models)
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
    return "; ".join(bad) or "OVMS reports no models"


def _short(body):
    text = body if isinstance(body, str) else json.dumps(body)
    return text[:300]


def wait_for(api, namespace, name, what, wait_until, window, check_models=True, base_url=None, interval=0.5):
    """describe() after waiting for `what` (rollout | models) until it holds, wait_until (epoch seconds) passes, or
    `window` seconds of this call are used up. A model load that failed ends the wait at once."""
    stop = min(wait_until, time.time() + window)
    if what == "rollout":
        watch_rollout(api, namespace, name, max(0, stop - time.time()))
        return describe(api, namespace, name, check_models=False)
    while True:
        info = describe(api, namespace, name, check_models=check_models, base_url=base_url)
        failed = [m for m, s in info.get("models", {}).items() if model_failed(s)]
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
