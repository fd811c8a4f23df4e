# -*- coding: utf-8 -*-
# Copyright (c) openvino.ovms contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
#
# PRIVATE: this module_utils file is internal to the openvino.ovms collection.
"""Desired manifests vs the cluster: server-side apply, dry-run for check mode, diffs, prune.

The plan for one model server costs a LIST of Deployments and one LIST per kind the server owns (recorded on its
Deployment, see KINDS_ANNOTATION) or is given now (what this server owns, found by its labels), and
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
import time

from ansible_collections.openvino.ovms.plugins.module_utils import _client, _render

MANAGER = _render.MANAGER
HANDOVER_MANAGER = MANAGER + "-hpa-handover"
MASK = "********"
# Metadata that says nothing about the desired state: left out of comparisons and diffs.
VOLATILE_METADATA = ("managedFields", "resourceVersion", "uid", "generation", "creationTimestamp", "selfLink",
                     "deletionTimestamp", "deletionGracePeriodSeconds")
REVISION_ANNOTATION = "deployment.kubernetes.io/revision"
# On a model server's Deployment: the kinds of the objects it owns, as group-kinds in the format of KEP-3659's
# applyset.kubernetes.io/contains-group-kinds ("Deployment.apps,Secret,Service"). A run lists only these kinds
# (plus the ones it applies), not all eight. Bookkeeping, not desired state: left out of comparisons and diffs.
KINDS_ANNOTATION = "openvino.ovms/contains-group-kinds"
VOLATILE_ANNOTATIONS = (REVISION_ANNOTATION, "kubectl.kubernetes.io/last-applied-configuration", KINDS_ANNOTATION)


APPLY_PATCH = "application/apply-patch+yaml"
_YAML_UNPRINTABLE = re.compile(u"[\u007f-\u009f\u2028\u2029\ufffe\uffff]")


class ReconcileError(Exception):
    pass


FORBIDDEN_HINT = (" -- the identity running openvino.ovms lacks this permission; the Role shipped in the collection's "
                  "rbac/role.yaml grants what deploy, verify, drift, undeploy and rollback need (README: Permissions)")


class ApiError(ReconcileError):
    def __init__(self, method, path, status, body):
        self.status = status
        self.body = body if isinstance(body, dict) else {}
        message = self.body.get("message") or (body if isinstance(body, str) else "")
        if status == 403:
            message += FORBIDDEN_HINT
        super(ApiError, self).__init__("%s %s: HTTP %s: %s" % (method, path, status, message))


RETRY_STATUSES = (429, 500, 502, 503, 504)
RETRY_TIMEOUT = _client.RETRY_TIMEOUT
MAX_500_RETRIES = 2        # a 500 is often not transient (an admission webhook's error): retry it only twice


class TransientError(ReconcileError):
    """The API server stayed unreachable (or kept answering 429/5xx) until the retry deadline passed."""


class Api:
    """The few REST calls this collection makes, over a kubernetes.client.ApiClient's connection (kubernetes.core's
    get_api_client, so every connection option works; sent by _client.send, which works on every supported
    kubernetes library). Survives transient faults: connection errors, 429 and 5xx are retried with exponential
    backoff and full jitter (Retry-After honoured) until `retry_timeout` seconds or the caller's `retry_until`
    (epoch seconds, the later of the two) pass; every verb sent is idempotent (server-side apply, GET, DELETE).
    Counts its requests by verb, and its retries."""

    def __init__(self, api_client, retry_timeout=RETRY_TIMEOUT, retry_until=None):
        self.api_client = api_client
        self.retry_timeout = retry_timeout
        self.retry_until = retry_until
        self.counts = {}
        self.retries = 0
        self.last_fault = None
        self.gone = None  # set once a request ran out of retries: later ones fail at once (fleet mode's breakdown)
        self._lock = threading.Lock()  # fleet mode sends requests from several threads

    def _count(self, verb, retry=False):
        with self._lock:
            self.counts[verb] = self.counts.get(verb, 0) + 1
            if retry:
                self.retries += 1

    def _deadline(self):
        return max(time.time() + self.retry_timeout, self.retry_until or 0)

    def request(self, method, path, body=None, query=None, content_type=None, retry_statuses=True, count_as=None):
        """(status, payload): the decoded JSON answer (or its text). HTTP errors are answers, not exceptions;
        connection errors raise TransientError once retries are exhausted. retry_statuses=False retries only
        connection errors (for the service proxy, whose 5xx come from the backend, not the API server).
        count_as: the verb it is counted under (a POST through the service proxy writes nothing in the cluster)."""
        headers = {"Accept": "application/json"}
        if content_type:
            headers["Content-Type"] = content_type
        elif body is not None:
            headers["Content-Type"] = "application/json"
        if content_type == APPLY_PATCH and body is not None:
            # JSON is YAML, but the API server's YAML decoder refuses the surrogate-pair escapes (\ud83d\ude00) that
            # json.dumps, and so the kubernetes client, write for characters beyond U+FFFF (emoji, ...): send raw
            # UTF-8 (sent as bytes, as they are).
            # Characters YAML does not allow raw (DEL, C1 controls, U+FFFE/F) or reads as line breaks (U+0085, U+2028,
            # U+2029) stay escaped; all are below U+10000, so no surrogate pair.
            body = _YAML_UNPRINTABLE.sub(lambda m: "\\u%04x" % ord(m.group(0)), json.dumps(
                body, ensure_ascii=False, separators=(",", ":"))).encode("utf-8")
            headers["Content-Type"] = APPLY_PATCH + "; charset=utf-8"
        if self.gone:
            raise TransientError("%s %s: not sent, the Kubernetes API server is gone (%s)" % (method, path, self.gone))
        started = time.time()
        deadline, attempt = self._deadline(), 0
        while True:
            self._count(count_as or method, retry=attempt > 0)
            status, data, retry_after, fault = None, None, None, None
            try:
                resp = _client.send(self.api_client, method, path, query=query or [], body=body, headers=headers)
                try:
                    status, data, retry_after = resp.status, resp.data, resp.headers.get("Retry-After")
                finally:
                    resp.release_conn()
            except Exception as exc:  # urllib3's and the socket's errors: the request may not have arrived
                if not _client.is_connection_error(exc):
                    raise
                fault = "%s: %s" % (type(exc).__name__, exc)
            transient = fault is not None or (retry_statuses and status in RETRY_STATUSES and not (
                status == 500 and attempt >= MAX_500_RETRIES))
            if transient:
                self.last_fault = fault or "HTTP %s" % status
                delay = _client.backoff(attempt, retry_after)
                if time.time() + delay < deadline:
                    time.sleep(delay)
                    attempt += 1
                    continue
                if fault is not None:
                    self.gone = "%d attempts over %.1f s, last: %s" % (attempt + 1, time.time() - started, fault)
                    raise TransientError("%s %s: the Kubernetes API server did not answer (%s)" % (
                        method, path, self.gone))
            try:
                payload = json.loads(data) if data else {}
            except ValueError:
                payload = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
            return status, payload

    def watch(self, path, query):
        """Yield the events of a watch on a collection until the server ends it (timeoutSeconds in query). A
        connection that fails or breaks yields one ERROR event (code 0): the caller reads again and re-watches."""
        self._count("WATCH")
        timeout = dict(query).get("timeoutSeconds")
        try:
            resp = _client.send(self.api_client, "GET", path, query=[("watch", "1")] + list(query),
                                headers={"Accept": "application/json"},
                                read_timeout=float(timeout) + 15 if timeout else _client.READ_TIMEOUT)
        except Exception as exc:
            if not _client.is_connection_error(exc):
                raise
            self.last_fault = "%s: %s" % (type(exc).__name__, exc)
            yield {"type": "ERROR", "object": {"code": 0, "message": self.last_fault}}
            return
        if resp.status != 200:
            body = resp.data
            resp.release_conn()
            text = body.decode("utf-8", "replace")
            try:
                message = json.loads(text).get("message") or text[:300]
            except (ValueError, AttributeError):
                message = text[:300]
            yield {"type": "ERROR", "object": {"code": resp.status, "message": message}}
            return
        buf = b""
        try:
            for chunk in resp.stream(amt=None, decode_content=True):
                buf += chunk
                while b"\n" in buf:
                    line, buf = buf.split(b"\n", 1)
                    if line.strip():
                        yield json.loads(line)
        except Exception as exc:
            if not _client.is_connection_error(exc):
                raise
            self.last_fault = "watch broken: %s: %s" % (type(exc).__name__, exc)
            yield {"type": "ERROR", "object": {"code": 0, "message": self.last_fault}}
        finally:
            resp.release_conn()

    @property
    def total(self):
        return sum(self.counts.values())

    def summary(self):
        """What a module returns as api_requests."""
        return {"total": self.total, "writes": self.writes, "by_verb": dict(self.counts), "retries": self.retries}

    @property
    def writes(self):
        return sum(n for verb, n in self.counts.items() if verb in ("POST", "PUT", "PATCH", "DELETE"))


def collection_path(api_version, plural, namespace):
    base = "/api/%s" % api_version if "/" not in api_version else "/apis/%s" % api_version
    return "%s/namespaces/%s/%s" % (base, namespace, plural)


def kind_path(kind, namespace):
    """The namespaced collection of one of the kinds this collection renders (_render.KINDS)."""
    api_version, plural = _KIND_INFO[kind]
    return collection_path(api_version, plural, namespace)


def object_path(kind, namespace, name):
    return "%s/%s" % (kind_path(kind, namespace), name)


_KIND_INFO = dict((k, (v, p)) for k, v, p in _render.KINDS)


def _free_form(obj):
    """Whether an object carries free-form Kubernetes content from the spec (only the API server can check it)."""
    if obj["kind"] != "Deployment":
        return False
    return "strategy" in obj["spec"] or "affinity" in obj["spec"]["template"]["spec"]


def group_kind(kind):
    """"Deployment.apps", "Service" (the core group has no suffix), as KEP-3659 writes them."""
    api_version = _KIND_INFO[kind][0]
    return kind if "/" not in api_version else "%s.%s" % (kind, api_version.split("/")[0])


_KIND_OF_GROUP_KIND = dict((group_kind(k[0]), k[0]) for k in _render.KINDS)


def annotation_of_kinds(kinds):
    return ",".join(sorted(group_kind(k) for k in kinds))


def kinds_of_annotation(value):
    """The kinds a KINDS_ANNOTATION names (unknown entries are left out: a later version's kind is listed by it)."""
    return set(_KIND_OF_GROUP_KIND[g.strip()] for g in (value or "").split(",") if g.strip() in _KIND_OF_GROUP_KIND)


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


# --- immutable fields --------------------------------------------------------------------------------
def check_immutable_selectors(desired, live):
    """A Deployment's selector cannot change. Earlier versions of this collection (0.1.0) selected the pods by
    app.kubernetes.io/name + app.kubernetes.io/instance; the operator's chart (and this collection now) by
    app + release. Refuse before any write, naming the fix, rather than half-apply and fail on the Deployment."""
    for obj in desired:
        if obj["kind"] != "Deployment":
            continue
        before = live.get(key_of(obj))
        if before is None:
            continue
        have = (before.get("spec") or {}).get("selector") or {}
        want = obj["spec"]["selector"]
        if have != want:
            ns, name = obj["metadata"]["namespace"], obj["metadata"]["name"]
            raise ReconcileError(
                "Deployment %s/%s selects its pods by %s, but this version of openvino.ovms selects them by %s, as "
                "the operator's chart does (so that an operator-made Deployment can be taken over in place). A "
                "Deployment's selector cannot be changed: delete the Deployment (kubectl -n %s delete deployment %s; "
                "its pods go too, a short outage) and run again. Nothing was changed."
                % (ns, name, _selector_text(have), _selector_text(want), ns, name))


def _selector_text(selector):
    labels = selector.get("matchLabels") or {}
    text = ",".join("%s=%s" % kv for kv in sorted(labels.items()))
    if selector.get("matchExpressions"):
        text += " (and matchExpressions)"
    return text or "nothing"


# --- fields other managers added -------------------------------------------------------------------
# Server-side apply only takes back fields this collection owns. A field another client added (`kubectl set env`,
# `kubectl annotate`, an Update through the API) is owned by that client alone and stays for ever, unseen. These
# are found in the live object's managedFields, reported as drift (with the manager's name), and removed by a real
# run with one JSON patch that tests each value before removing it (check mode sends it with dryRun). Applying
# them with force and then dropping them would not do: applying a field with the value it already has makes its
# ownership shared, and a shared field survives our release.
DEFAULT_IGNORED = (
    # written by controllers or by our own tooling, not drift
    "metadata.annotations.deployment.kubernetes.io/revision",
    "metadata.annotations.kubectl.kubernetes.io/last-applied-configuration",
    # `kubectl rollout restart`: taking it back would roll the pods once more
    "spec.template.metadata.annotations.kubectl.kubernetes.io/restartedAt",
)
# Per kind: what Kubernetes' own controllers write into an object this collection creates. A claim (model_volume.size)
# is bound by the PersistentVolume controller (spec.volumeName, which is immutable once set, and its annotations),
# given a node by the scheduler (WaitForFirstConsumer) and protected by a finalizer.
DEFAULT_IGNORED_BY_KIND = {
    "PersistentVolumeClaim": (
        "spec.volumeName",
        "metadata.finalizers",
        "metadata.annotations.pv.kubernetes.io/bind-completed",
        "metadata.annotations.pv.kubernetes.io/bound-by-controller",
        "metadata.annotations.pv.kubernetes.io/migrated-to",
        "metadata.annotations.volume.beta.kubernetes.io/storage-provisioner",
        "metadata.annotations.volume.kubernetes.io/storage-provisioner",
        "metadata.annotations.volume.kubernetes.io/selected-node",
    ),
}


def _token_key(token):
    """('f', name) | ('k', {item keys}) | ('v', value) | ('.', None) of a fieldsV1 token."""
    if token == ".":
        return ".", None
    kind, _sep, rest = token.partition(":")
    if kind in ("k", "v"):
        return kind, json.loads(rest)
    return "f", rest


def _token_path(tokens):
    out = ""
    for kind, value in tokens:
        if kind == "f":
            out += ("." if out else "") + value
        elif kind == "k":
            out += "[%s]" % ",".join("%s=%s" % (k, v) for k, v in sorted(value.items()))
        else:
            out += "[%s]" % json.dumps(value)
    return out


def _step(node, token):
    """The child of an object node for one token (None when absent)."""
    kind, value = token
    if kind == "f":
        return node.get(value) if isinstance(node, dict) else None
    if kind == "k" and isinstance(node, list):
        return next((i for i in node if isinstance(i, dict) and all(i.get(k) == v for k, v in value.items())), None)
    if kind == "v" and isinstance(node, list):
        return value if value in node else None
    return None


def _lookup(obj, tokens):
    node = obj
    for token in tokens:
        node = _step(node, token)
        if node is None:
            return None
    return node


def _owned_units(fields, prefix=(), leaves=False):
    """The smallest units a managedFields entry owns: a map or list item it owns whole ('.') or a leaf field (with
    leaves, the fields inside an item too)."""
    if not fields or "." in fields and prefix and prefix[-1][0] in ("k", "v") and not (leaves and len(fields) > 1):
        yield prefix
        return
    for token, child in sorted(fields.items()):
        if token == ".":
            continue
        for unit in _owned_units(child, prefix + (_token_key(token),), leaves):  # pylint: disable=use-yield-from
            yield unit  # (no 'yield from': module_utils also run on Python 2.7 targets)


def _undeclared(desired, tokens):
    """What desired lacks of tokens: the list item it does not declare (all of it), or the field (None when it has
    them all). A map it lacks is not removed whole: other managers' keys may be in it."""
    for i in range(1, len(tokens) + 1):
        if _lookup(desired, tokens[:i]) is None:
            return tokens[:i] if tokens[i - 1][0] in ("k", "v") else tokens
    return None


def foreign_fields(live, desired, ignore=(), leaves=False):
    """[{"manager", "operation", "path", "tokens", "value"}] of what other field managers added to the live object:
    fields they own that our manifest does not declare (subresources such as status, our own managers, the
    DEFAULT_IGNORED paths and `ignore` rules - {"managers": [...], "paths": [prefix, ...]} - left out)."""
    found, seen = [], set()
    for entry in ((live or {}).get("metadata") or {}).get("managedFields") or []:
        manager = entry.get("manager") or ""
        if entry.get("subresource") or manager.startswith(MANAGER):
            continue
        if any(manager in (rule.get("managers") or []) for rule in ignore):
            continue
        for tokens in _owned_units(entry.get("fieldsV1") or {}, leaves=leaves):
            if leaves:  # a field inside a list item we declare, or the whole item when we do not declare it
                tokens = _undeclared(desired, tokens)
                if tokens is None:
                    continue
            path = _token_path(tokens)
            if path in seen or _lookup(desired, tokens) is not None:
                continue  # declared by us: server-side apply compares and takes it back itself
            prefixes = list(DEFAULT_IGNORED) + list(DEFAULT_IGNORED_BY_KIND.get((desired or {}).get("kind"), ())) + [
                p for rule in ignore for p in rule.get("paths") or []]
            if any(path == p or path.startswith(p + ".") or path.startswith(p + "[") for p in prefixes):
                continue
            value = _lookup(live, tokens)
            if value is None:
                continue
            seen.add(path)
            found.append({"manager": manager, "operation": entry.get("operation") or "?", "path": path,
                          "tokens": tokens, "value": value})
    return found


def _pointer(obj, tokens):
    """The JSON pointer of tokens in obj (list items by their index there), or None when absent."""
    parts, node = [], obj
    for token in tokens:
        kind, key = token
        if kind == "f":
            parts.append(key.replace("~", "~0").replace("/", "~1"))
        elif isinstance(node, list):
            item = _step(node, token)
            if item is None:
                return None
            parts.append(str(node.index(item)))
        node = _step(node, token)
        if node is None:
            return None
    return "/" + "/".join(parts)


def removal_patch(live, fields):
    """A JSON patch removing fields from live: a test of each value, then its removal; list items from the highest
    index down, so that earlier removals do not shift later ones."""
    located = [(_pointer(live, f["tokens"]), f["value"]) for f in fields]
    located = [(p, v) for p, v in located if p]

    def order(item):
        return tuple((0, int(c)) if c.isdigit() else (1, c) for c in item[0].split("/"))
    ops = []
    for pointer, value in sorted(located, key=order, reverse=True):
        ops += [{"op": "test", "path": pointer, "value": value}, {"op": "remove", "path": pointer}]
    return ops


def apply_removals(obj, patch):
    """A copy of obj with the removals of a removal_patch done (its tests are the API server's business)."""
    obj = copy.deepcopy(obj)
    for op in patch:
        if op["op"] != "remove":
            continue
        parts = [p.replace("~1", "/").replace("~0", "~") for p in op["path"].split("/")[1:]]
        node = obj
        for part in parts[:-1]:
            node = node[int(part)] if isinstance(node, list) else node[part]
        if isinstance(node, list):
            del node[int(parts[-1])]
        else:
            node.pop(parts[-1], None)
    return obj


def namespace_missing(namespace):
    return ReconcileError("metadata.namespace: the namespace %s does not exist on this cluster; create it first "
                          "(or run deploy.yml with ovms_create_namespaces: true)" % namespace)


# --- the plan ----------------------------------------------------------------------------------------
class Reconciler:
    def __init__(self, api, check_mode=False, force_conflicts=False, want_diff=False, ignore=None):
        self.api = api
        self.ignore = ignore or []  # ignore_differences rules: [{"kinds", "managers", "paths"}]
        self.check_mode = check_mode
        self.force_conflicts = force_conflicts
        self.want_diff = want_diff
        self.warnings = []
        self.done = []  # the objects reconcile() has handled so far: what a failure part-way leaves done
        self._served = {}

    def _query(self, force=False):
        q = [("fieldManager", MANAGER), ("fieldValidation", "Strict")]
        if force:
            q.append(("force", "true"))
        if self.check_mode:
            q.append(("dryRun", "All"))
        return q

    def served(self, kind):
        """Whether the cluster serves kind. Only Route may be missing (not OpenShift): asked once, through discovery
        (GET /apis/route.openshift.io/v1, which every authenticated identity may read), never by a LIST that a
        namespace-scoped identity would see refused before it could learn the kind does not exist."""
        if kind != "Route":
            return True
        if kind not in self._served:
            api_version = _KIND_INFO[kind][0]
            path = "/apis/%s" % api_version
            status, body = self.api.request("GET", path)
            if status not in (200, 404):
                raise ApiError("GET", path, status, body)
            self._served[kind] = status == 200
        return self._served[kind]

    def list_owned(self, namespace, name=None, want=(), servers=None):
        """{(kind, name): object} of everything in namespace carrying this collection's owner labels (of the model
        server `name`, or of every server).

        Lists only the kinds that can hold such objects: the Deployments first (every model server has one, and it
        records in its KINDS_ANNOTATION the kinds the server owns), then the recorded kinds plus `want` (the kinds
        being applied now). When a server in question (`name`, or each of `servers`) has no Deployment carrying the
        record (a server unknown here, one left half-made, one made by an older version), every kind is listed, as
        before. A kind the cluster does not serve (Route, off OpenShift) is never listed."""
        live = self._list_kind("Deployment", namespace, name)
        kinds, complete = set(want), True
        recorded = {}
        for obj in live.values():
            labels = obj["metadata"].get("labels") or {}
            value = (obj["metadata"].get("annotations") or {}).get(KINDS_ANNOTATION)
            if value is not None:
                recorded[labels.get(_render.LABEL_INSTANCE)] = kinds_of_annotation(value)
        if name:
            servers = [name]
        if servers is None:  # every server in the namespace: also those whose Deployment is gone
            complete = False
        for server in servers or []:
            if server not in recorded:
                complete = False
        if complete:
            for server_kinds in recorded.values():
                kinds |= server_kinds
        else:
            kinds = set(k[0] for k in _render.KINDS)
        for kind in [k[0] for k in _render.KINDS]:  # in the kinds' order
            if kind == "Deployment" or kind not in kinds or not self.served(kind):
                continue
            live.update(self._list_kind(kind, namespace, name))
        return live

    def _list_kind(self, kind, namespace, name):
        api_version, plural = _KIND_INFO[kind]
        path = collection_path(api_version, plural, namespace)
        status, body = self.api.request("GET", path, query=[("labelSelector", _render.owner_selector(name))])
        if status != 200:
            raise ApiError("GET", path, status, body)
        live = {}
        for item in body.get("items") or []:
            item.setdefault("kind", kind)
            item.setdefault("apiVersion", api_version)
            live[(kind, item["metadata"]["name"])] = item
        return live

    def _record_kinds(self, desired, live):
        """desired with the Deployment annotated with the kinds this server owns after this run: the desired ones,
        and the live ones about to be pruned (so that a prune that fails part-way is found again next time; the
        next run's record drops them). The caller's list is not changed."""
        kinds = set(o["kind"] for o in desired) | set(key[0] for key in live)
        out = []
        for obj in desired:
            if obj["kind"] == "Deployment":
                obj = copy.deepcopy(obj)
                obj["metadata"].setdefault("annotations", {})[KINDS_ANNOTATION] = annotation_of_kinds(kinds)
            out.append(obj)
        return out

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

    def _remove_foreign(self, obj, after):
        """Take back what other managers added to the object (see foreign_fields). Other declarative tools' fields
        (operation Apply) are left in place, with a warning, unless force_conflicts is set."""
        kind, name = key_of(obj)
        ns = obj["metadata"]["namespace"]
        rules = [r for r in self.ignore if not r.get("kinds") or kind in r["kinds"]]
        added = foreign_fields(after, obj, rules)
        if not self.force_conflicts:
            declarative = [f for f in added if f["operation"] == "Apply"]
            if declarative:
                self.warnings.append(
                    "%s %s/%s: fields another declarative tool added are left in place (force_conflicts: true "
                    "removes them): %s" % (kind, ns, name, ", ".join('%s (field manager "%s")' % (
                        f["path"], f["manager"]) for f in declarative)))
            added = [f for f in added if f["operation"] != "Apply"]
        if not added:
            return after
        self.warnings.append("%s %s/%s: %s fields added outside this collection: %s" % (
            kind, ns, name, "would remove" if self.check_mode else "removed", ", ".join(
                '%s (field manager "%s", %s)' % (f["path"], f["manager"], f["operation"]) for f in added)))
        patch = removal_patch(after, added)
        if self.check_mode:  # what the object would be: the dry-run apply's answer without those fields
            return apply_removals(after, patch)
        path = object_path(kind, ns, name)
        status, body = self.api.request("PATCH", path, body=patch, query=[("fieldManager", MANAGER)],
                                        content_type="application/json-patch+json")
        if status != 200:
            raise ApiError("PATCH", path, status, body)
        return body

    def _server_side_apply(self, path, obj, query):
        status, body = self.api.request("PATCH", path, body=obj, query=query,
                                        content_type="application/apply-patch+yaml")
        if status == 404 and isinstance(body, dict) and (body.get("details") or {}).get("kind") == "namespaces":
            raise namespace_missing(obj["metadata"]["namespace"])  # the first write: nothing was written
        return status, body

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
            raise namespace_missing(namespace)
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
            if not self.served(obj["kind"]):
                raise ReconcileError("route.enabled is set but this cluster does not serve %s %s (not OpenShift): use "
                                     "ingress instead" % (obj["apiVersion"], obj["kind"]) if obj["kind"] == "Route"
                                     else "this cluster does not serve %s %s" % (obj["apiVersion"], obj["kind"]))
        if check_namespace and desired and not live:
            self.check_namespace(namespace)
        if not self.force_conflicts:
            for obj in desired:
                if key_of(obj) not in live:  # one a concurrent run made since our LIST joins the live objects
                    found = self._refuse_foreign(obj["kind"], namespace, obj["metadata"]["name"],
                                                 obj["metadata"]["labels"][_render.LABEL_INSTANCE])
                    if found is not None:
                        live[key_of(obj)] = found
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
            live = self.list_owned(namespace, name, want=set(o["kind"] for o in desired))
        check_immutable_selectors(desired, live)
        if preflight:
            # a missing namespace shows at the first write (nothing is written then), not through a GET of the
            # namespace, which a namespace-scoped identity may not do
            self.preflight(namespace, desired, live, check_namespace=False)
        desired = self._record_kinds(desired, live)
        objects, diffs = self.done, []
        for obj in desired:
            kind, obj_name = key_of(obj)
            before = live.get((kind, obj_name))
            status, after = self._apply(obj, before)
            if before is not None:
                after = self._remove_foreign(obj, after)
            s_before, s_after = strip(before), strip(after)
            if before is None:  # 200: it existed without our labels (taken over with force_conflicts)
                action = "created" if status == 201 else "adopted"
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

    def _refuse_foreign(self, kind, namespace, name, server):
        """An object we are about to create must not already exist as someone else's. One that carries this
        server's owner labels appeared after our LIST (a concurrent run created it): it is ours, and returned as
        the live object (the last writer wins, as with any two server-side applies of one manager)."""
        path = object_path(kind, namespace, name)
        status, body = self.api.request("GET", path)
        if status == 200:
            labels = (body.get("metadata") or {}).get("labels") or {}
            owner = _render.owner_labels(server)
            if all(labels.get(k) == v for k, v in owner.items()):
                body.setdefault("kind", kind)
                return body
            other = labels.get(_render.LABEL_INSTANCE) if labels.get(_render.LABEL_MANAGED_BY) == MANAGER else None
            raise ReconcileError("%s %s/%s already exists and is not managed by openvino.ovms for %s (%s); delete it, "
                                 "or set force_conflicts: true to adopt it" % (
                                     kind, namespace, name, server,
                                     "it belongs to the model server %s" % other if other else
                                     "it lacks the labels %s" % _render.owner_selector(server)))
        if status != 404:
            raise ApiError("GET", path, status, body)
        return None
