# -*- coding: utf-8 -*-
# Copyright (c) openvino.ovms contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
#
# PRIVATE: this module_utils file is internal to the openvino.ovms collection.
"""Taking model servers over from the OpenVINO operator in place (see docs/migration.md).

The facts this follows are the operator's (reference/operator-behaviour.md, "How the operator runs"): while it runs
it re-adds its finalizer, its controller ownerReferences and missing objects, and it uninstalls the Helm release
when its ModelServer is deleted; OLM restores a manager scaled to 0 by hand. Hence the order, per server, once the
operator is stopped: finalizer off, ownerReferences off, ModelServer deleted orphaning its dependents, objects taken
over with server-side apply (the one reconcile path of the modelserver module) while the Deployment is paused (so
that the pods roll once, with maxUnavailable 0), then Helm's release records removed.

Every step looks at the cluster first and does only what is left: a run interrupted anywhere is finished by the next.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import os
import time

from ansible_collections.openvino.ovms.plugins.module_utils import _chart, _reconcile, _render, _secrets, _spec

GROUP, VERSION, PLURAL = "intel.com", "v1alpha1", "modelservers"
CRD_NAME = "%s.%s" % (PLURAL, GROUP)
# The operator's finalizer, and the older name it also honours.
FINALIZERS = ("helm.sdk.operatorframework.io/uninstall-release", "uninstall-helm-release")
OPERATOR_DEPLOYMENT = "openvino-operator-controller-manager"
OLM_API = "operators.coreos.com/v1alpha1"
CSV_KIND = "ClusterServiceVersion"
RELEASE_TYPE = "helm.sh/release.v1"
MIGRATE_MANAGER = _reconcile.MANAGER + "-migrate"
CREDENTIALS_VAR = "ovms_credentials"
# The Deployment's strategy while the objects are taken over: no pod goes before its replacement is ready.
MOVE_STRATEGY = {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}}

# What a server is, as the cluster shows it.
TO_MIGRATE = "to migrate"            # its ModelServer exists
DETACHED = "detached"                # ModelServer gone, objects still the operator's (an interrupted run)
TAKEN_OVER = "taken over"            # objects ours, Helm's release records still there (an interrupted run)
MIGRATED = "migrated"                # nothing left to do
MISSING = "missing"                  # in the vars file, but neither a ModelServer nor a Deployment exists
BLOCKED = "blocked"                  # its spec cannot be deployed by this collection (the reason says why)


class MigrationError(_reconcile.ReconcileError):
    pass


# --- paths ---------------------------------------------------------------------------------------------------
def modelserver_path(namespace=None, name=None):
    base = "/apis/%s/%s" % (GROUP, VERSION)
    if namespace is None:
        return "%s/%s" % (base, PLURAL)
    path = "%s/namespaces/%s/%s" % (base, namespace, PLURAL)
    return "%s/%s" % (path, name) if name else path


def _olm_path(namespace, plural, name=None):
    path = "/apis/%s/namespaces/%s/%s" % (OLM_API, namespace, plural)
    return "%s/%s" % (path, name) if name else path


def _get(api, path, missing_ok=True):
    status, body = api.request("GET", path)
    if status == 404 and missing_ok:
        return None
    if status != 200:
        raise _reconcile.ApiError("GET", path, status, body)
    return body


def _items(api, path, query=None):
    status, body = api.request("GET", path, query=query or [])
    if status == 404:
        return []
    if status != 200:
        raise _reconcile.ApiError("GET", path, status, body)
    return body.get("items") or []


def _patch(api, path, body, content_type="application/json-patch+json", check_mode=False):
    query = [("fieldManager", MIGRATE_MANAGER)]
    if check_mode:
        query.append(("dryRun", "All"))
    status, answer = api.request("PATCH", path, body=body, query=query, content_type=content_type)
    if status != 200:
        raise _reconcile.ApiError("PATCH", path, status, answer)
    return answer


def _delete(api, path, policy="Background", check_mode=False):
    query = [("propagationPolicy", policy)]
    if check_mode:
        query.append(("dryRun", "All"))
    status, body = api.request("DELETE", path, query=query)
    if status not in (200, 202, 404):
        raise _reconcile.ApiError("DELETE", path, status, body)
    return status != 404


def _wait(what, predicate, timeout, interval=0.2):
    """predicate() until it is truthy; MigrationError naming `what` after timeout seconds."""
    deadline = time.time() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.time() >= deadline:
            raise MigrationError("timed out after %d s waiting for %s" % (timeout, what))
        time.sleep(interval)
        interval = min(interval * 1.5, 2.0)


# --- reading the ModelServers --------------------------------------------------------------------------------
def list_modelservers(api, namespaces=None):
    """The ModelServer resources of the given namespaces (every namespace when none is given). [] when the CRD is
    not installed."""
    if not namespaces:
        status, body = api.request("GET", modelserver_path())
        if status == 403:
            raise MigrationError("this identity may not list ModelServers in every namespace: name the namespaces "
                                 "to migrate (%s)" % (body.get("message") if isinstance(body, dict) else body))
        if status == 404:
            return []
        if status != 200:
            raise _reconcile.ApiError("GET", modelserver_path(), status, body)
        return body.get("items") or []
    out = []
    for ns in namespaces:
        out.extend(_items(api, modelserver_path(ns)))
    return out


def _key(namespace, name):
    return "%s/%s" % (namespace, name)


def _reference(key, field):
    return "{{ %s['%s'].%s }}" % (CREDENTIALS_VAR, key, field)


def _difference(short, detail=None):
    text = dict((d[0], d[1]) for d in _chart.DIFFERENCES)[short]
    return {"difference": short, "what": detail or text}


def export(modelserver):
    """One ModelServer resource as this collection's input. Returns a dict: name, namespace, manifest (credentials
    replaced by references to ovms_credentials['<namespace>/<name>']), credentials ({field: value}), the resolved
    manifest (credentials in place), differences ([{difference, what}] that apply to it) and blocked (why this
    collection cannot deploy it, or None)."""
    meta = modelserver.get("metadata") or {}
    name, namespace = meta.get("name"), meta.get("namespace")
    spec = copy.deepcopy(modelserver.get("spec") or {})
    differences = []
    ms = spec.get("models_settings")
    if isinstance(ms, dict) and ms.get("single_model_mode") is False:
        path = ms.get("model_path")
        if isinstance(path, str) and "<" in path:
            # the CRD defaults model_path to its placeholder in every mode; multi-model mode never passes it
            del ms["model_path"]
            ms.pop("model_name", None)
            differences.append(_difference("placeholder model path",
                                           "models_settings.model_path %s (the CRD's default, unused in multi-model "
                                           "mode) and model_name are left out of the manifest" % path))
    resolved = {"apiVersion": _spec.API_VERSION, "kind": _spec.KIND,
                "metadata": {"name": name, "namespace": namespace}, "spec": spec}
    manifest = copy.deepcopy(resolved)
    credentials = {}
    rep = manifest["spec"].get("models_repository")
    if isinstance(rep, dict):
        for field in _secrets.CREDENTIAL_KEYS:
            if rep.get(field):
                credentials[field] = rep[field]
                rep[field] = _reference(_key(namespace, name), field)
    blocked = None
    try:
        normalized, _warnings = _spec.normalize(name, namespace, copy.deepcopy(spec))
    except _spec.SpecError as exc:
        blocked = str(exc)
    else:
        differences.extend(applicable_differences(spec, normalized))
    return {"name": name, "namespace": namespace, "manifest": manifest, "resolved": resolved,
            "credentials": credentials, "differences": differences, "blocked": blocked}


def applicable_differences(raw, spec):
    """The entries of _chart.DIFFERENCES that change what this server's pods get, compared with the operator."""
    out = []
    if not raw.get("image_name"):
        out.append(_difference("default image"))
    rep, mon = spec["models_repository"], spec["monitoring"]
    if rep["aws_access_key_id"]:
        out.append(_difference("credentials only in Secrets"))
    if rep["gcp_creds_secret_name"] and rep["gcp_creds_secret_name"] != "gcpcreds":
        out.append(_difference("gcp_creds_secret_name honoured"))
    out.append(_difference("startup probe"))
    if not _spec.supports_stateful(_spec.ovms_version(spec["image_name"], spec["ovms_version"])):
        out.append(_difference("flags removed in OVMS 2026.3",
                               "--sequence_cleaner_poll_wait_minutes is not passed (the image %s is OVMS %s, which "
                               "no longer knows it; the chart always passes it)" % (
                                   spec["image_name"], _spec.version_text(
                                       _spec.ovms_version(spec["image_name"], spec["ovms_version"])))))
    if mon["metrics_list"] and not mon["metrics_enable"]:
        out.append(_difference("metrics_list needs metrics_enable"))
    out.append(_difference("our labels besides the chart's"))
    out.append(_difference("arguments as --flag=value"))
    return out


def resolve_references(manifest, credentials):
    """A manifest of the vars file with its credential references replaced by the values (for a plan)."""
    out = copy.deepcopy(manifest)
    meta = out.get("metadata") or {}
    values = (credentials or {}).get(_key(meta.get("namespace"), meta.get("name"))) or {}
    rep = (out.get("spec") or {}).get("models_repository")
    if isinstance(rep, dict):
        for field in _secrets.CREDENTIAL_KEYS:
            if isinstance(rep.get(field), str) and rep[field].startswith("{{"):
                if field not in values:
                    return None
                rep[field] = values[field]
    return out


def move_manifest(manifest):
    """The manifest as applied while the objects are taken over: RollingUpdate with maxUnavailable 0 (the user's
    maxSurge when it is a RollingUpdate with one, else 1), whatever the server's own strategy is."""
    out = copy.deepcopy(manifest)
    if not isinstance(out.get("spec"), dict):
        out["spec"] = {}
    spec = out["spec"]
    dp = spec.get("deployment_parameters")
    if not isinstance(dp, dict):
        dp = spec["deployment_parameters"] = {}
    strategy = copy.deepcopy(MOVE_STRATEGY)
    own = dp.get("update_strategy") or {}
    surge = ((own.get("rollingUpdate") or {}).get("maxSurge") if isinstance(own, dict) and
             own.get("type", "RollingUpdate") == "RollingUpdate" else None)
    if surge not in (None, 0, "0", "0%"):
        strategy["rollingUpdate"]["maxSurge"] = surge
    dp["update_strategy"] = strategy
    return out


# --- what the operator made ----------------------------------------------------------------------------------
def object_names(name, raw_spec):
    """(fullname, [Secret names]) of the objects the operator's chart makes for this spec."""
    full = _chart.fullname(name, raw_spec.get("fullnameOverride"), raw_spec.get("nameOverride"))
    return full, [_render.aws_secret_name(full), _render.azure_secret_name(full)]


def operator_objects(api, namespace, name, raw_spec):
    """{(kind, name): object} of what exists under the chart's names for this server (ours or the operator's)."""
    full, secrets = object_names(name, raw_spec)
    live = {}
    for kind, obj_name in [("Deployment", full), ("Service", full)] + [("Secret", s) for s in secrets]:
        obj = _get(api, _reconcile.object_path(kind, namespace, obj_name))
        if obj is not None:
            obj.setdefault("kind", kind)
            obj.setdefault("apiVersion", _reconcile._KIND_INFO[kind][0])
            live[(kind, obj_name)] = obj
    return live


def release_secrets(api, namespace, name):
    """Helm's release records of this server: Secrets sh.helm.release.v1.<name>.v<N> of type helm.sh/release.v1."""
    prefix = "sh.helm.release.v1.%s.v" % name
    items = _items(api, "/api/v1/namespaces/%s/secrets" % namespace, [("fieldSelector", "type=%s" % RELEASE_TYPE)])
    return sorted((i for i in items if i["metadata"]["name"].startswith(prefix) and
                   i["metadata"]["name"][len(prefix):].isdigit()), key=lambda i: int(i["metadata"]["name"][len(prefix):]))


def is_ours(obj):
    return ((obj or {}).get("metadata", {}).get("labels") or {}).get(_render.LABEL_MANAGED_BY) == _reconcile.MANAGER


def state_of(modelserver, live, releases, deployment_name):
    deployment = live.get(("Deployment", deployment_name))
    if modelserver is not None:
        return TO_MIGRATE
    if deployment is None:
        return MISSING
    if not is_ours(deployment) or deployment["spec"].get("paused"):
        return DETACHED
    return TAKEN_OVER if releases else MIGRATED


# --- the plan ------------------------------------------------------------------------------------------------
def _dry_run_create(api, obj):
    """What the API server makes of obj when created (dryRun=All, under a generated name: nothing is written)."""
    body = copy.deepcopy(obj)
    kind, name = body["kind"], body["metadata"].pop("name")
    body["metadata"]["generateName"] = name[:40] + "-"
    ns = body["metadata"]["namespace"]
    path = _reconcile.collection_path(_reconcile._KIND_INFO[kind][0], _reconcile._KIND_INFO[kind][1], ns)
    status, answer = api.request("POST", path, body=body, query=[("dryRun", "All"), ("fieldManager", _reconcile.MANAGER)])
    if status not in (200, 201):
        raise _reconcile.ApiError("POST (dry run, nothing was written)", path, status, answer)
    answer["metadata"]["name"] = name
    answer["metadata"].pop("generateName", None)
    return answer


def _keep_allocations(live, made):
    """A Service keeps its cluster IP and node ports when taken over: copy them, so that they show no change."""
    if made.get("kind") != "Service":
        return made
    for field in ("clusterIP", "clusterIPs"):
        if field in live.get("spec", {}):
            made["spec"][field] = live["spec"][field]
    ports = dict((p.get("name"), p) for p in live.get("spec", {}).get("ports") or [])
    for port in made["spec"].get("ports") or []:
        if port.get("name") in ports and "nodePort" in ports[port["name"]] and "nodePort" in port:
            port["nodePort"] = ports[port["name"]]["nodePort"]
    return made


def plan_objects(api, desired, live):
    """[{kind, name, action, changes}] of what taking over does to each object, field by field (compared with the
    live object as the API server would make ours: a dry-run create), and whether the pods roll."""
    out, rolls = [], False
    for obj in desired:
        key = _reconcile.key_of(obj)
        before = live.get(key)
        made = _dry_run_create(api, obj)
        if before is None:
            out.append({"kind": key[0], "name": key[1], "action": "create"})
            continue
        made = _keep_allocations(before, made)
        s_before, s_after = _reconcile.strip(before), _reconcile.strip(made)
        if key[0] == "Secret":
            changes = _reconcile.secret_changes(s_before, s_after)
        else:
            changes = _reconcile.field_changes(s_before, s_after)
        if key[0] == "Deployment" and any(p.startswith("spec.template.") for p, _b, _a in changes):
            rolls = True
        out.append({"kind": key[0], "name": key[1], "action": "take over" if not is_ours(before) else "update",
                    "changes": [{"path": p, "before": b, "after": a} for p, b, a in changes]})
    return out, rolls


def removals(modelserver, live, releases, namespace, name):
    """What migrating removes from the cluster (as lines)."""
    out = []
    if modelserver is not None:
        fins = [f for f in modelserver["metadata"].get("finalizers") or [] if f in FINALIZERS]
        if fins:
            out.append("finalizer %s of ModelServer %s/%s" % (", ".join(fins), namespace, name))
        uid = modelserver["metadata"].get("uid")
        owned = ["%s %s" % (k, n) for (k, n), o in sorted(live.items()) if _owner_refs(o, uid)]
        owned += ["Secret %s" % r["metadata"]["name"] for r in releases if _owner_refs(r, uid)]
        if owned:
            out.append("ownerReferences to the ModelServer on %s" % ", ".join(owned))
        out.append("ModelServer %s/%s (deleted with propagationPolicy Orphan: its objects stay)" % (namespace, name))
    if releases:
        out.append("Helm's release records: %s" % ", ".join("Secret %s" % r["metadata"]["name"] for r in releases))
    return out


def _owner_refs(obj, uid):
    return [r for r in obj["metadata"].get("ownerReferences") or [] if uid and r.get("uid") == uid]


def autoscalers_of(api, namespace, name):
    """HorizontalPodAutoscalers pointing at the ModelServer's scale subresource (they stop working when it goes)."""
    items = _items(api, "/apis/autoscaling/v2/namespaces/%s/horizontalpodautoscalers" % namespace)
    return [i["metadata"]["name"] for i in items
            if (i.get("spec") or {}).get("scaleTargetRef", {}).get("kind") == _spec.KIND and
            i["spec"]["scaleTargetRef"].get("name") == name]


def plan_server(api, entry, modelserver):
    """The plan of one server: state, objects (field by field), pods_roll, remove, warnings."""
    name, namespace = entry["name"], entry["namespace"]
    raw = (entry.get("resolved") or entry["manifest"]).get("spec") or {}
    full, _secret_names = object_names(name, raw)
    live = operator_objects(api, namespace, name, raw)
    releases = release_secrets(api, namespace, name)
    state = state_of(modelserver, live, releases, full)
    plan = {"name": name, "namespace": namespace, "state": state, "deployment": full, "objects": [],
            "pods_roll": False, "remove": [], "warnings": [], "differences": entry.get("differences") or []}
    if entry.get("blocked") and state in (TO_MIGRATE, DETACHED):
        plan["state"] = BLOCKED
        plan["blocked"] = entry["blocked"]
        return plan
    if state in (TO_MIGRATE, DETACHED):
        if entry.get("resolved") is None:
            plan["warnings"].append("its credentials are not readable in the credentials file: the plan shows no "
                                    "field-by-field diff")
        else:
            desired = _render.manifests_for(definition=entry["resolved"])[0]
            plan["objects"], plan["pods_roll"] = plan_objects(api, desired, live)
        if not (live.get(("Deployment", full))):
            plan["warnings"].append("the operator made no Deployment %s/%s: it will be created, not taken over"
                                    % (namespace, full))
        hpas = autoscalers_of(api, namespace, name) if modelserver is not None else []
        if hpas:
            plan["warnings"].append("HorizontalPodAutoscaler %s scales the ModelServer, which goes: point it at "
                                    "Deployment %s (or use spec.autoscaling)" % (", ".join(hpas), full))
    if state in (TO_MIGRATE, DETACHED, TAKEN_OVER):
        plan["remove"] = removals(modelserver, live, releases, namespace, name)
    return plan


# --- the vars file -------------------------------------------------------------------------------------------
HEADER = """# ModelServer manifests taken over from the OpenVINO operator by openvino.ovms (playbooks/migrate.yml).
# Deploy them with:   ansible-playbook openvino.ovms.deploy -e @%(vars)s -e @%(creds)s
# Credentials are references to %(var)s, kept in %(creds)s: encrypt that file with ansible-vault
# before committing it. Deliberate differences from the operator, per server, are listed in comments.
"""


def _read_yaml(path, what):
    import yaml

    if not path or not os.path.exists(path):
        return None
    with open(path, "rb") as handle:
        data = handle.read()
    if data.startswith(b"$ANSIBLE_VAULT"):
        return "vault"
    try:
        return yaml.safe_load(data.decode("utf-8")) or {}
    except (ValueError, yaml.YAMLError) as exc:
        raise MigrationError("%s %s is not readable YAML: %s" % (what, path, exc))


def read_vars(path):
    """{key: manifest} of the vars file written by an earlier run (empty when there is none)."""
    data = _read_yaml(path, "the vars file")
    if data is None:
        return {}
    if data == "vault" or not isinstance(data, dict) or not isinstance(data.get("ovms_modelservers"), list):
        raise MigrationError("the vars file %s does not hold ovms_modelservers (a list of ModelServer manifests); "
                             "name another file, or move it away" % path)
    out = {}
    for m in data["ovms_modelservers"]:
        meta = (m or {}).get("metadata") or {}
        out[_key(meta.get("namespace"), meta.get("name"))] = m
    return out


NOTE_PREFIX = "#   differs from the operator: "


def read_notes(path):
    """{key: [comment line]} of the differences written above each server in an earlier vars file (kept for servers
    whose resource is gone now, so that a later run writes the same file)."""
    notes, key = {}, None
    if not path or not os.path.exists(path):
        return notes
    with open(path, "rb") as handle:
        for line in handle.read().decode("utf-8", "replace").splitlines():
            if line.startswith(NOTE_PREFIX) and key:
                notes.setdefault(key, []).append(line + "\n")
            elif line.startswith("# ") and "/" in line and " " not in line[2:].strip():
                key = line[2:].strip()
            elif not line.startswith("#"):
                key = None if line.startswith("ovms_modelservers") else key
    return notes


def read_credentials(path):
    """{key: {field: value}} of the credentials file; None when it is encrypted (ansible-vault)."""
    data = _read_yaml(path, "the credentials file")
    if data is None:
        return {}
    if data == "vault":
        return None
    return dict(data.get(CREDENTIALS_VAR) or {})


def _dump(data):
    import yaml

    return yaml.safe_dump(data, default_flow_style=False, sort_keys=False, allow_unicode=True, width=120)


def _write(path, text, mode):
    """Write text to path (atomically, with mode) unless it already holds exactly that. True when written."""
    if os.path.exists(path):
        with open(path, "rb") as handle:
            if handle.read() == text.encode("utf-8"):
                return False
    tmp = "%s.tmp-%d" % (path, os.getpid())
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as handle:
        handle.write(text.encode("utf-8"))
    os.chmod(tmp, mode)
    os.rename(tmp, path)
    return True


def write_files(vars_path, creds_path, manifests, credentials, differences, notes=None):
    """Write the vars file (ovms_modelservers, sorted by namespace/name; each server's differences as comments) and
    the credentials file (mode 0600). Returns the paths written (a file already holding the same is not)."""
    lines = [HEADER % {"vars": os.path.basename(vars_path), "creds": os.path.basename(creds_path),
                       "var": CREDENTIALS_VAR}, "ovms_modelservers:\n"]
    for key in sorted(manifests):
        lines.append("# %s\n" % key)
        if key in differences:
            for d in differences[key]:
                lines.append("%s%s: %s\n" % (NOTE_PREFIX, d["difference"], d["what"]))
        else:
            lines.extend((notes or {}).get(key) or [])
        body = _dump([manifests[key]])
        lines.append(body)
    written = []
    if _write(vars_path, "".join(lines), 0o644):
        written.append(vars_path)
    if credentials:
        text = "# Credentials of the ModelServers in %s. Encrypt this file: ansible-vault encrypt %s\n%s" % (
            os.path.basename(vars_path), os.path.basename(creds_path),
            _dump({CREDENTIALS_VAR: dict((k, credentials[k]) for k in sorted(credentials))}))
        if _write(creds_path, text, 0o600):
            written.append(creds_path)
    return written


def credentials_path(vars_path):
    root, ext = os.path.splitext(vars_path)
    return "%s-credentials%s" % (root, ext or ".yml")


def plan(api, namespaces, vars_path, creds_path, write=True):
    """Read the ModelServers, merge them into the vars file of earlier runs, write it, and plan every server of it.
    Returns {servers: [plan], pending: [{name, namespace, index, state}], written: [paths], ...}."""
    found = list_modelservers(api, namespaces)
    earlier = read_vars(vars_path)
    credentials = read_credentials(creds_path)
    manifests = dict(earlier)
    exported, differences, new_credentials = {}, {}, {}
    for cr in found:
        entry = export(cr)
        key = _key(entry["namespace"], entry["name"])
        exported[key] = entry
        manifests[key] = entry["manifest"]
        differences[key] = entry["differences"]
        if entry["credentials"]:
            new_credentials[key] = entry["credentials"]
    if new_credentials:
        if credentials is None:
            raise MigrationError("the credentials file %s is encrypted (ansible-vault) and the ModelServers %s hold "
                                 "credentials to add to it: decrypt it for this run, or name another vars file"
                                 % (creds_path, ", ".join(sorted(new_credentials))))
        credentials.update(new_credentials)
    written = write_files(vars_path, creds_path, manifests, credentials or {}, differences,
                          read_notes(vars_path)) if write else []
    by_key = dict((_key(cr["metadata"]["namespace"], cr["metadata"]["name"]), cr) for cr in found)
    wanted = set(namespaces or [])
    servers, pending = [], []
    for index, key in enumerate(sorted(manifests)):
        namespace, name = key.split("/", 1)
        if wanted and namespace not in wanted:
            continue
        entry = exported.get(key)
        if entry is None:  # from the vars file of an earlier run: its ModelServer is gone
            manifest = manifests[key]
            resolved = resolve_references(manifest, credentials)
            entry = {"name": name, "namespace": namespace, "manifest": manifest, "resolved": resolved,
                     "differences": [], "blocked": None}
        server = plan_server(api, entry, by_key.get(key))
        servers.append(server)
        if server["state"] in (TO_MIGRATE, DETACHED, TAKEN_OVER):
            pending.append({"name": name, "namespace": namespace, "index": index, "state": server["state"]})
    return {"servers": servers, "pending": pending, "written": written, "vars_file": vars_path,
            "credentials_file": creds_path if (credentials or new_credentials) else None,
            "blocked": ["%s/%s: %s" % (s["namespace"], s["name"], s["blocked"]) for s in servers
                        if s["state"] == BLOCKED],
            # for the module's masking only (popped before anything is returned)
            "credential_values": sorted(set(v for c in (credentials or {}).values() for v in c.values()
                                            if isinstance(v, str) and v))}


# --- stopping the operator -----------------------------------------------------------------------------------
def find_operator(api, namespace=None, name=OPERATOR_DEPLOYMENT):
    """The operator's manager Deployment, or None."""
    if namespace:
        return _get(api, _reconcile.object_path("Deployment", namespace, name))
    items = _items(api, "/apis/apps/v1/deployments", [("fieldSelector", "metadata.name=%s" % name)])
    if len(items) > 1:
        raise MigrationError("found %d Deployments named %s (in %s): name the operator's namespace" % (
            len(items), name, ", ".join(i["metadata"]["namespace"] for i in items)))
    return items[0] if items else None


def _csv_of(deployment):
    for ref in deployment["metadata"].get("ownerReferences") or []:
        if ref.get("kind") == CSV_KIND and (ref.get("apiVersion") or "").startswith("operators.coreos.com/"):
            return ref["name"]
    return None


def _manager_pods(api, namespace, selector):
    text = ",".join("%s=%s" % kv for kv in sorted((selector or {}).items()))
    return _items(api, "/api/v1/namespaces/%s/pods" % namespace, [("labelSelector", text)]) if text else []


def stop_operator(api, namespace=None, name=OPERATOR_DEPLOYMENT, check_mode=False, timeout=300):
    """Stop the operator for good, and wait until none of its pods is left. Installed by OLM (its Deployment is owned
    by a ClusterServiceVersion): delete the Subscriptions that installed that CSV, then the CSV (OLM would undo a
    scale to 0, and re-install a CSV whose Subscription is still there). Installed plainly: scale to 0.
    Returns {found, how, namespace, name, actions, changed}."""
    dep = find_operator(api, namespace, name)
    result = {"found": dep is not None, "how": None, "namespace": namespace, "name": name, "actions": [],
              "changed": False}
    if dep is None:
        result["actions"].append("no operator Deployment %s found%s: nothing to stop" % (
            name, " in %s" % namespace if namespace else ""))
        return result
    ns = dep["metadata"]["namespace"]
    result["namespace"] = ns
    selector = (dep["spec"].get("selector") or {}).get("matchLabels") or {}
    csv = _csv_of(dep)
    if csv:
        result["how"] = "OLM (ClusterServiceVersion %s)" % csv
        subs = [s for s in _items(api, _olm_path(ns, "subscriptions"))
                if csv in ((s.get("status") or {}).get("installedCSV"), (s.get("status") or {}).get("currentCSV"))]
        for sub in subs:
            _delete(api, _olm_path(ns, "subscriptions", sub["metadata"]["name"]), check_mode=check_mode)
            result["actions"].append("deleted Subscription %s/%s" % (ns, sub["metadata"]["name"]))
        if _get(api, _olm_path(ns, "clusterserviceversions", csv)) is not None:
            _delete(api, _olm_path(ns, "clusterserviceversions", csv), check_mode=check_mode)
            result["actions"].append("deleted ClusterServiceVersion %s/%s (OLM's garbage collection removes the "
                                     "operator's Deployment)" % (ns, csv))
    else:
        result["how"] = "Deployment %s/%s (no OLM)" % (ns, name)
        if dep["spec"].get("replicas", 1) != 0:
            _patch(api, _reconcile.object_path("Deployment", ns, name), {"spec": {"replicas": 0}},
                   content_type="application/merge-patch+json", check_mode=check_mode)
            result["actions"].append("scaled Deployment %s/%s to 0" % (ns, name))
    result["changed"] = bool(result["actions"])
    if not check_mode:
        _wait("the operator's pods in %s to be gone" % ns,
              lambda: not _manager_pods(api, ns, selector), timeout)
    if not result["actions"]:
        result["actions"].append("the operator is already stopped (%s)" % result["how"])
    return result


def remove_operator(api, namespace=None, name=OPERATOR_DEPLOYMENT, remove_crd=False, check_mode=False):
    """Remove the operator's Deployment (and, with remove_crd, the ModelServer CRD) once no ModelServer is left."""
    left = list_modelservers(api)
    if left:
        raise MigrationError("not removing the operator: %d ModelServer resources are left (%s)" % (
            len(left), ", ".join(_key(m["metadata"]["namespace"], m["metadata"]["name"]) for m in left)))
    actions = []
    dep = find_operator(api, namespace, name)
    if dep is not None:
        path = _reconcile.object_path("Deployment", dep["metadata"]["namespace"], name)
        if _delete(api, path, check_mode=check_mode):
            actions.append("deleted Deployment %s/%s" % (dep["metadata"]["namespace"], name))
    if remove_crd:
        path = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/%s" % CRD_NAME
        if _delete(api, path, check_mode=check_mode):
            actions.append("deleted CustomResourceDefinition %s" % CRD_NAME)
    return {"changed": bool(actions), "actions": actions}


# --- one server ----------------------------------------------------------------------------------------------
def detach(api, namespace, name, check_mode=False, timeout=120):
    """Take the ModelServer's hold off its objects: its finalizer, the ownerReferences to it, then the resource
    itself (deleted with propagationPolicy Orphan, waited for until gone). Returns the actions taken."""
    path = modelserver_path(namespace, name)
    actions = []
    cr = _get(api, path)
    if cr is None:
        return actions
    uid = cr["metadata"]["uid"]
    fins = cr["metadata"].get("finalizers") or []
    keep = [f for f in fins if f not in FINALIZERS]
    if keep != fins:
        # the test makes the patch fail (and the step stop) if the operator changed the list since we read it
        _patch(api, path, [{"op": "test", "path": "/metadata/finalizers", "value": fins},
                           {"op": "replace", "path": "/metadata/finalizers", "value": keep}], check_mode=check_mode)
        actions.append("removed finalizer %s from ModelServer %s/%s" % (
            ", ".join(f for f in fins if f in FINALIZERS), namespace, name))
    for kind in ("Deployment", "Service", "Secret"):
        api_version, plural = _reconcile._KIND_INFO[kind]
        for obj in _items(api, _reconcile.collection_path(api_version, plural, namespace)):
            refs = obj["metadata"].get("ownerReferences") or []
            rest = [r for r in refs if r.get("uid") != uid]
            if rest == refs:
                continue
            obj_path = _reconcile.object_path(kind, namespace, obj["metadata"]["name"])
            ops = [{"op": "test", "path": "/metadata/ownerReferences", "value": refs}]
            ops.append({"op": "replace", "path": "/metadata/ownerReferences", "value": rest} if rest else
                       {"op": "remove", "path": "/metadata/ownerReferences"})
            _patch(api, obj_path, ops, check_mode=check_mode)
            actions.append("removed the ownerReference to the ModelServer from %s %s" % (kind, obj["metadata"]["name"]))
    if not cr["metadata"].get("deletionTimestamp"):
        _delete(api, path, policy="Orphan", check_mode=check_mode)
        actions.append("deleted ModelServer %s/%s (propagationPolicy Orphan)" % (namespace, name))
    if not check_mode:
        def gone():
            now = _get(api, path)
            if now is not None and now["metadata"].get("uid") != uid:
                raise MigrationError("ModelServer %s/%s was re-created while being migrated: is the operator (or a "
                                     "GitOps tool) still applying it?" % (namespace, name))
            return now is None
        _wait("ModelServer %s/%s to be gone (finalizers left: %s)" % (namespace, name, ", ".join(keep) or "none"),
              gone, timeout)
    return actions


def pre_clean(api, namespace, desired, live, check_mode=False):
    """Before the objects are applied: pause the Deployment (the pods then roll once, after everything is applied)
    and remove the fields the operator's Helm wrote that this collection does not render (so that, for example, an
    env value does not stay beside our valueFrom). Returns the actions taken."""
    actions = []
    for obj in desired:
        key = _reconcile.key_of(obj)
        before = live.get(key)
        if before is None or is_ours(before):
            continue  # nothing there, or already taken over (a paused one is resumed by resume())
        # down to the fields inside list items: an env item we declare with valueFrom must lose Helm's value
        found = [f for f in _reconcile.foreign_fields(before, obj, leaves=True)
                 if not f["manager"].startswith(_reconcile.MANAGER)]
        ops = _reconcile.removal_patch(before, found)
        if key[0] == "Deployment" and not before["spec"].get("paused"):
            ops.insert(0, {"op": "add", "path": "/spec/paused", "value": True})
            actions.append("paused Deployment %s" % key[1])
        if not ops:
            continue
        _patch(api, _reconcile.object_path(key[0], namespace, key[1]), ops, check_mode=check_mode)
        if found:
            actions.append("%s %s: removed what the operator set and this collection does not: %s" % (
                key[0], key[1], ", ".join(sorted(set(f["path"] for f in found)))))
    return actions


def resume(api, namespace, deployment, check_mode=False):
    obj = _get(api, _reconcile.object_path("Deployment", namespace, deployment))
    if obj is None or not obj["spec"].get("paused"):
        return []
    _patch(api, _reconcile.object_path("Deployment", namespace, deployment), {"spec": {"paused": None}},
           content_type="application/merge-patch+json", check_mode=check_mode)
    return ["resumed Deployment %s (its pods roll now, maxUnavailable 0)" % deployment]


HELM_MANAGER = "helm"  # the field manager of the operator's Helm (operation Update)
OWNED_KINDS = ("Deployment", "Service", "Secret", "ConfigMap")


def disown_helm(api, namespace, name, check_mode=False):
    """Drop Helm's managedFields entries from the server's objects, once they are ours. Helm created them with
    Update requests, so it owns every field it sent, the API server's defaults included (progressDeadlineSeconds,
    sessionAffinity, ...); left in place, the next apply would report those as fields another manager added, and
    remove them. Without the entry, the defaults are owned by nobody and stay. One test-then-replace patch per
    object."""
    actions = []
    for kind in OWNED_KINDS:
        for obj in _items(api, _reconcile.kind_path(kind, namespace), [("labelSelector", _render.owner_selector(name))]):
            entries = obj["metadata"].get("managedFields") or []
            keep = [e for e in entries if e.get("manager") != HELM_MANAGER]
            if len(keep) == len(entries) or not keep:
                continue  # nothing of Helm's, or nothing else (an empty list would not change managedFields)
            _patch(api, _reconcile.object_path(kind, namespace, obj["metadata"]["name"]),
                   [{"op": "test", "path": "/metadata/managedFields", "value": entries},
                    {"op": "replace", "path": "/metadata/managedFields", "value": keep}], check_mode=check_mode)
            actions.append("%s %s: dropped Helm's field ownership" % (kind, obj["metadata"]["name"]))
    return actions


def finish(api, namespace, name, deployment, check_mode=False):
    """Remove Helm's release records of a server whose objects are ours and whose Deployment is not paused."""
    dep = _get(api, _reconcile.object_path("Deployment", namespace, deployment))
    if dep is None or not is_ours(dep) or dep["spec"].get("paused"):
        raise MigrationError("Deployment %s/%s is not taken over yet (%s): not removing Helm's release records" % (
            namespace, deployment, "missing" if dep is None else "paused" if is_ours(dep) else "not ours"))
    if _get(api, modelserver_path(namespace, name)) is not None:
        raise MigrationError("ModelServer %s/%s still exists: not removing Helm's release records" % (namespace, name))
    actions = disown_helm(api, namespace, name, check_mode=check_mode)
    for secret in release_secrets(api, namespace, name):
        if _delete(api, _reconcile.object_path("Secret", namespace, secret["metadata"]["name"]), check_mode=check_mode):
            actions.append("deleted Helm's release record Secret %s" % secret["metadata"]["name"])
    return actions


def take_over(api, definition, check_mode=False, timeout=120, want_diff=False):
    """Detach one server from the operator and take its objects over in place: detach(), pre_clean() (the Deployment
    paused), the modelserver module's reconcile (server-side apply with force, as for any adoption) of the manifest
    with the strategy of move_manifest(), then the Deployment resumed: its pods roll once, none goes before its
    replacement is ready. Returns {changed, actions, objects, diff, warnings}."""
    name, namespace, raw = _spec.from_manifest(definition)
    desired = _render.manifests_for(definition=move_manifest(definition))[0]  # refused input: before any request
    full = object_names(name, raw)[0]
    actions = detach(api, namespace, name, check_mode=check_mode, timeout=timeout)
    live = operator_objects(api, namespace, name, raw)
    actions += pre_clean(api, namespace, desired, live, check_mode=check_mode)
    rec = _reconcile.Reconciler(api, check_mode=check_mode, force_conflicts=True, want_diff=want_diff)
    result = rec.reconcile(name, namespace, desired, prune=True)
    actions += resume(api, namespace, full, check_mode=check_mode)
    return {"changed": bool(actions) or result["changed"], "actions": actions, "objects": result["objects"],
            "diff": result["diff"], "warnings": rec.warnings, "name": name, "namespace": namespace,
            "deployment": full}


def summary_lines(result):
    """One line per server of a plan, as the playbook prints them."""
    lines = []
    for s in result["servers"]:
        head = "%s/%s: %s" % (s["namespace"], s["name"], s["state"])
        if s["state"] == BLOCKED:
            lines.append("%s: %s" % (head, s["blocked"]))
            continue
        if s["state"] in (MIGRATED, MISSING):
            lines.append(head + (": nothing to do" if s["state"] == MIGRATED else
                                 ": neither its ModelServer nor its Deployment exists"))
            continue
        parts = []
        if s["objects"]:
            parts.append("takes over " + ", ".join("%s %s (%d fields change)" % (
                o["kind"], o["name"], len(o.get("changes") or [])) if o["action"] != "create" else
                "creates %s %s" % (o["kind"], o["name"]) for o in s["objects"]))
            parts.append("pods roll (maxUnavailable 0)" if s["pods_roll"] else "pods do not roll")
        if s["remove"]:
            parts.append("removes " + "; ".join(s["remove"]))
        if s["differences"]:
            parts.append("differs from the operator in: " + ", ".join(d["difference"] for d in s["differences"]))
        parts += ["warning: " + w for w in s["warnings"]]
        lines.append("%s: %s" % (head, "; ".join(parts)))
    return lines
