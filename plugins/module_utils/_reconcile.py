# -*- coding: utf-8 -*-
# Copyright (c) openvino.ovms contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
#
# PRIVATE: this module_utils file is internal to the openvino.ovms collection.
"""Desired manifests vs the cluster: server-side apply, dry-run for check mode, diffs, prune.

The plan for one model server costs one LIST per kind (what this server owns, found by its labels) and
one PATCH (server-side apply) per desired object, plus a DELETE per pruned object. Check mode sends the
same PATCHes with dryRun=All, so the API server's own defaulting and validation decide what would change;
`changed` compares the server's answer with the live object, not with our manifest.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import json
import re
import threading

from ansible_collections.openvino.ovms.plugins.module_utils import _render

MANAGER = _render.MANAGER
HANDOVER_MANAGER = MANAGER + "-hpa-handover"
MASK = "********"
# Metadata that says nothing about the desired state: left out of comparisons and diffs.
VOLATILE_METADATA = ("managedFields", "resourceVersion", "uid", "generation", "creationTimestamp", "selfLink",
                     "deletionTimestamp", "deletionGracePeriodSeconds")
REVISION_ANNOTATION = "deployment.kubernetes.io/revision"
VOLATILE_ANNOTATIONS = (REVISION_ANNOTATION, "kubectl.kubernetes.io/last-applied-configuration")


APPLY_PATCH = "application/apply-patch+yaml"
_YAML_UNPRINTABLE = re.compile(u"[\u007f-\u009f\u2028\u2029\ufffe\uffff]")


class ReconcileError(Exception):
    pass


class ApiError(ReconcileError):
    def __init__(self, method, path, status, body):
        self.status = status
        self.body = body if isinstance(body, dict) else {}
        message = self.body.get("message") or (body if isinstance(body, str) else "")
        super(ApiError, self).__init__("%s %s: HTTP %s: %s" % (method, path, status, message))


class Api:
    """The few REST calls reconcile needs, over a kubernetes.client.ApiClient (from kubernetes.core's
    get_api_client, so every connection option works). Counts its requests by verb."""

    def __init__(self, api_client):
        self.api_client = api_client
        self.counts = {}
        self._lock = threading.Lock()  # fleet mode sends requests from several threads

    def _count(self, verb):
        with self._lock:
            self.counts[verb] = self.counts.get(verb, 0) + 1

    def request(self, method, path, body=None, query=None, content_type=None):
        from kubernetes.client.rest import ApiException  # imported late: module_utils must import without it

        self._count(method)
        headers = {"Accept": "application/json"}
        if content_type:
            headers["Content-Type"] = content_type
        if content_type == APPLY_PATCH and body is not None:
            # JSON is YAML, but the API server's YAML decoder refuses the surrogate-pair escapes (\ud83d\ude00) that
            # json.dumps, and so the kubernetes client, write for characters beyond U+FFFF (emoji, ...): send raw
            # UTF-8. The charset parameter keeps the client from serializing the body a second time.
            # Characters YAML does not allow raw (DEL, C1 controls, U+FFFE/F) or reads as line breaks (U+0085, U+2028,
            # U+2029) stay escaped; all are below U+10000, so no surrogate pair.
            body = _YAML_UNPRINTABLE.sub(lambda m: "\\u%04x" % ord(m.group(0)), json.dumps(
                body, ensure_ascii=False, separators=(",", ":"))).encode("utf-8")
            headers["Content-Type"] = APPLY_PATCH + "; charset=utf-8"
        try:
            resp = self.api_client.call_api(path, method, query_params=query or [], header_params=headers,
                                            body=body, auth_settings=["BearerToken"], _preload_content=False,
                                            _return_http_data_only=True)
            status, data = resp.status, resp.data
        except ApiException as exc:
            status, data = exc.status, exc.body
        try:
            payload = json.loads(data) if data else {}
        except ValueError:
            payload = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
        return status, payload

    def watch(self, path, query):
        """Yield the events of a watch on a collection until the server ends it (timeoutSeconds in query)."""
        from kubernetes.client.rest import ApiException

        self._count("WATCH")
        try:
            resp = self.api_client.call_api(path, "GET", query_params=[("watch", "1")] + list(query),
                                            header_params={"Accept": "application/json"}, auth_settings=["BearerToken"],
                                            _preload_content=False, _return_http_data_only=True)
        except ApiException as exc:
            yield {"type": "ERROR", "object": {"code": exc.status, "message": str(exc.reason)}}
            return
        buf = b""
        try:
            for chunk in resp.stream(amt=None, decode_content=True):
                buf += chunk
                while b"\n" in buf:
                    line, buf = buf.split(b"\n", 1)
                    if line.strip():
                        yield json.loads(line)
        finally:
            resp.close()

    @property
    def total(self):
        return sum(self.counts.values())

    def summary(self):
        """What a module returns as api_requests."""
        return {"total": self.total, "writes": self.writes, "by_verb": dict(self.counts)}

    @property
    def writes(self):
        return sum(n for verb, n in self.counts.items() if verb in ("POST", "PUT", "PATCH", "DELETE"))


def collection_path(api_version, plural, namespace):
    base = "/api/%s" % api_version if "/" not in api_version else "/apis/%s" % api_version
    return "%s/namespaces/%s/%s" % (base, namespace, plural)


def object_path(kind, namespace, name):
    api_version, plural = _KIND_INFO[kind]
    return "%s/%s" % (collection_path(api_version, plural, namespace), name)


_KIND_INFO = dict((k, (v, p)) for k, v, p in _render.KINDS)


def _free_form(obj):
    """Whether an object carries free-form Kubernetes content from the spec (only the API server can check it)."""
    if obj["kind"] != "Deployment":
        return False
    return "strategy" in obj["spec"] or "affinity" in obj["spec"]["template"]["spec"]


def revision_of(deployment):
    """The Deployment's rollout revision (0 when it has none, or there is no Deployment)."""
    annotations = ((deployment or {}).get("metadata") or {}).get("annotations") or {}
    return int(annotations.get(REVISION_ANNOTATION, 0) or 0)


def key_of(obj):
    return (obj["kind"], obj["metadata"]["name"])


# --- comparison and diff -----------------------------------------------------------------------------
def strip(obj):
    """The object without status and server-kept metadata (None stays None)."""
    if obj is None:
        return None
    obj = copy.deepcopy(obj)
    obj.pop("status", None)
    meta = obj.get("metadata", {})
    for key in VOLATILE_METADATA:
        meta.pop(key, None)
    annotations = meta.get("annotations")
    if annotations:
        for key in VOLATILE_ANNOTATIONS:
            annotations.pop(key, None)
        if not annotations:
            meta.pop("annotations")
    return obj


def mask(obj):
    """Secret values replaced: a diff shows which keys changed, never their values."""
    if obj is None or obj.get("kind") != "Secret":
        return obj
    obj = copy.deepcopy(obj)
    for field in ("data", "stringData"):
        if field in obj:
            obj[field] = dict((k, MASK) for k in obj[field])
    return obj


def field_changes(before, after, path=""):
    """[(path, before, after)] of every leaf that differs; lists of named items are matched by name."""
    if isinstance(before, dict) and isinstance(after, dict):
        out = []
        for key in sorted(set(before) | set(after)):
            out.extend(field_changes(before.get(key), after.get(key), "%s.%s" % (path, key) if path else key))
        return out
    if isinstance(before, list) and isinstance(after, list) and _named(before) and _named(after):
        b = dict((i["name"], i) for i in before)
        a = dict((i["name"], i) for i in after)
        out = []
        for key in sorted(set(b) | set(a)):
            out.extend(field_changes(b.get(key), a.get(key), '%s[name=%s]' % (path, key)))
        return out
    return [] if before == after else [(path, before, after)]


def _named(items):
    return all(isinstance(i, dict) and "name" in i for i in items) and len(set(i["name"] for i in items)) == len(items)


def secret_changes(before, after):
    """field_changes for a Secret, with values masked (only the fact of a change shows)."""
    return [(p, MASK if b is not None else None, MASK if a is not None else None)
            for p, b, a in field_changes(before, after)]


def _yaml(obj):
    import yaml  # PyYAML ships with ansible-core

    return "" if obj is None else yaml.safe_dump(obj, default_flow_style=False, sort_keys=True)


def diff_entry(kind, namespace, name, before, after):
    header = "%s %s/%s" % (kind, namespace, name)
    return {"before_header": header, "after_header": header, "before": _yaml(mask(before)), "after": _yaml(mask(after))}


# --- conflicts -------------------------------------------------------------------------------------
_CONFLICT_MANAGER = re.compile(r'conflict with "([^"]+)"')


def conflicts_of(error):
    """[(manager, field)] from a 409 answer to server-side apply."""
    out = []
    for cause in (error.body.get("details") or {}).get("causes") or []:
        m = _CONFLICT_MANAGER.search(cause.get("message", ""))
        out.append((m.group(1) if m else "?", cause.get("field", "?")))
    return out


def manager_operations(live):
    """{manager: operation} from an object's managedFields."""
    return dict((m.get("manager"), m.get("operation")) for m in (live or {}).get("metadata", {}).get("managedFields") or [])


def _owns_replicas(live, manager):
    for entry in (live or {}).get("metadata", {}).get("managedFields") or []:
        if entry.get("manager") == manager and entry.get("operation") == "Apply":
            if "f:replicas" in ((entry.get("fieldsV1") or {}).get("f:spec") or {}):
                return True
    return False


# --- the plan ----------------------------------------------------------------------------------------
class Reconciler:
    def __init__(self, api, check_mode=False, force_conflicts=False, want_diff=False):
        self.api = api
        self.check_mode = check_mode
        self.force_conflicts = force_conflicts
        self.want_diff = want_diff
        self.warnings = []
        self._served = {}

    def _query(self, force=False):
        q = [("fieldManager", MANAGER), ("fieldValidation", "Strict")]
        if force:
            q.append(("force", "true"))
        if self.check_mode:
            q.append(("dryRun", "All"))
        return q

    def list_owned(self, namespace, name=None):
        """{(kind, name): object} of everything in namespace carrying this collection's owner labels."""
        live = {}
        for kind, api_version, plural in _render.KINDS:
            path = collection_path(api_version, plural, namespace)
            status, body = self.api.request("GET", path, query=[("labelSelector", _render.owner_selector(name))])
            if status == 404 and kind == "Route":
                self._served[kind] = False  # not OpenShift: no Routes to find
                continue
            if status != 200:
                raise ApiError("GET", path, status, body)
            self._served[kind] = True
            for item in body.get("items") or []:
                item.setdefault("kind", kind)
                item.setdefault("apiVersion", api_version)
                live[(kind, item["metadata"]["name"])] = item
        return live

    def _apply(self, obj, live):
        kind, name = key_of(obj)
        ns = obj["metadata"]["namespace"]
        path = object_path(kind, ns, name)
        if kind == "Deployment" and "replicas" not in obj["spec"] and _owns_replicas(live, MANAGER):
            self._hand_over_replicas(path, obj, live)
        status, body = self._server_side_apply(path, obj, self._query(self.force_conflicts))
        if status == 409 and not self.force_conflicts:
            error = ApiError("PATCH", path, status, body)
            conflicts = conflicts_of(error)
            ops = manager_operations(live)
            foreign = [(m, f) for m, f in conflicts if ops.get(m) == "Apply" and not m.startswith(MANAGER)]
            described = ", ".join('%s (field manager "%s", %s)' % (f, m, ops.get(m) or "?") for m, f in conflicts)
            if foreign:
                raise ReconcileError(
                    "%s %s/%s: server-side apply conflicts with another field manager: %s. Another declarative "
                    "tool owns these fields; set force_conflicts: true to take them over."
                    % (kind, ns, name, ", ".join('%s owned by "%s"' % (f, m) for m, f in foreign)))
            # Fields changed by imperative edits (kubectl edit/patch/scale: operation Update) are drift:
            # the declared state takes them back.
            self.warnings.append("%s %s/%s: %s fields edited outside this collection: %s"
                                 % (kind, ns, name, "would take back" if self.check_mode else "took back", described))
            status, body = self._server_side_apply(path, obj, self._query(True))
        if status not in (200, 201):
            raise ApiError("PATCH", path, status, body)
        return status, body

    def _server_side_apply(self, path, obj, query):
        return self.api.request("PATCH", path, body=obj, query=query, content_type="application/apply-patch+yaml")

    def _hand_over_replicas(self, path, obj, live):
        """Autoscaling was just turned on: give spec.replicas to a handover manager at its live value, so that
        dropping it from our apply does not reset it to 1 (the HPA owns the count from now on)."""
        handover = {"apiVersion": "apps/v1", "kind": "Deployment",
                    "metadata": {"name": obj["metadata"]["name"], "namespace": obj["metadata"]["namespace"]},
                    "spec": {"replicas": live["spec"].get("replicas", 1)}}
        query = [("fieldManager", HANDOVER_MANAGER), ("force", "true")]
        if self.check_mode:
            query.append(("dryRun", "All"))
        status, body = self._server_side_apply(path, handover, query)
        if status not in (200, 201):
            raise ApiError("PATCH", path, status, body)

    def _delete(self, kind, namespace, name):
        path = object_path(kind, namespace, name)
        query = [("propagationPolicy", "Background")]
        if self.check_mode:
            query.append(("dryRun", "All"))
        status, body = self.api.request("DELETE", path, query=query)
        if status not in (200, 202, 404):
            raise ApiError("DELETE", path, status, body)

    def check_namespace(self, namespace):
        """The namespace exists and is not being deleted (a 403 cannot tell: then the applies will)."""
        path = "/api/v1/namespaces/%s" % namespace
        status, body = self.api.request("GET", path)
        if status == 404:
            raise ReconcileError("metadata.namespace: the namespace %s does not exist on this cluster; create it first "
                                 "(this collection does not create namespaces)" % namespace)
        if status == 200 and (body.get("status") or {}).get("phase") == "Terminating":
            raise ReconcileError("metadata.namespace: the namespace %s is being deleted" % namespace)
        if status not in (200, 403):
            raise ApiError("GET", path, status, body)

    def preflight(self, namespace, desired, live, check_namespace=True):
        """Everything that depends on the cluster, checked before the first write, so that a refused run writes
        nothing: every kind served (a Route needs OpenShift), the namespace there (when nothing is there yet), no
        foreign object in the way, and the API server's verdict (a dry run) on objects holding free-form
        Kubernetes fields (affinity, update strategy), which the spec's rules do not check."""
        for obj in desired:
            if self._served.get(obj["kind"]) is False:
                raise ReconcileError("route.enabled is set but this cluster does not serve %s %s (not OpenShift): use "
                                     "ingress instead" % (obj["apiVersion"], obj["kind"]) if obj["kind"] == "Route"
                                     else "this cluster does not serve %s %s" % (obj["apiVersion"], obj["kind"]))
        if check_namespace and desired and not live:
            self.check_namespace(namespace)
        if not self.force_conflicts:
            for obj in desired:
                if key_of(obj) not in live:
                    self._refuse_foreign(obj["kind"], namespace, obj["metadata"]["name"])
        if not self.check_mode:  # in check mode every apply is a dry run anyway
            for obj in desired:
                if _free_form(obj):
                    kind, obj_name = key_of(obj)
                    path = object_path(kind, namespace, obj_name)
                    query = [("fieldManager", MANAGER), ("fieldValidation", "Strict"), ("force", "true"),
                             ("dryRun", "All")]
                    status, body = self._server_side_apply(path, obj, query)
                    if status not in (200, 201):
                        raise ApiError("PATCH (dry run, nothing was written)", path, status, body)

    def reconcile(self, name, namespace, desired, prune=True, live=None, preflight=True):
        """Apply desired (a list of manifests) and prune what this server owns but no longer renders.
        `live` (from list_owned) saves the listing when the caller already has it; preflight=False when the
        caller already ran preflight(). Returns {"changed", "objects", "diff", "revision_before"}."""
        if live is None:
            live = self.list_owned(namespace, name)
        if preflight:
            self.preflight(namespace, desired, live)
        objects, diffs = [], []
        for obj in desired:
            kind, obj_name = key_of(obj)
            before = live.get((kind, obj_name))
            status, after = self._apply(obj, before)
            s_before, s_after = strip(before), strip(after)
            if before is None:
                action = "created"
            else:
                action = "unchanged" if s_before == s_after else "updated"
            entry = {"kind": kind, "name": obj_name, "namespace": namespace, "action": action}
            if action == "updated":
                changes = secret_changes(s_before, s_after) if kind == "Secret" else field_changes(s_before, s_after)
                entry["changes"] = [{"path": p, "before": b, "after": a} for p, b, a in changes]
            objects.append(entry)
            if action != "unchanged" and self.want_diff:
                diffs.append(diff_entry(kind, namespace, obj_name, s_before, s_after))
        if prune:
            wanted = set(key_of(o) for o in desired)
            for (kind, obj_name), obj in sorted(live.items(), key=lambda kv: -_render.KIND_ORDER[kv[0][0]]):
                if (kind, obj_name) in wanted:
                    continue
                self._delete(kind, namespace, obj_name)
                objects.append({"kind": kind, "name": obj_name, "namespace": namespace, "action": "deleted"})
                if self.want_diff:
                    diffs.append(diff_entry(kind, namespace, obj_name, strip(obj), None))
        changed = any(o["action"] != "unchanged" for o in objects)
        deployment = next((o for key, o in live.items() if key[0] == "Deployment"), None)
        return {"changed": changed, "objects": objects, "diff": diffs, "revision_before": revision_of(deployment)}

    def _refuse_foreign(self, kind, namespace, name):
        """An object we are about to create must not already exist unlabelled (someone else's)."""
        path = object_path(kind, namespace, name)
        status, body = self.api.request("GET", path)
        if status == 200:
            raise ReconcileError("%s %s/%s already exists and is not managed by openvino.ovms (it lacks the labels "
                                 "%s); delete it, or set force_conflicts: true to adopt it"
                                 % (kind, namespace, name, _render.owner_selector()))
        if status != 404:
            raise ApiError("GET", path, status, body)
