# -*- coding: utf-8 -*-
# Copyright (c) openvino.ovms contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
#
# PRIVATE: this module_utils file is internal to the openvino.ovms collection.
"""What the modelserver module does, apart from Ansible's plumbing: input -> spec -> manifests -> plan."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.openvino.ovms.plugins.module_utils import _reconcile, _render, _spec, _status

COLLECTION_VERSION = "0.1.0"
USER_AGENT = "openvino.ovms/%s" % COLLECTION_VERSION


def load_src(path):
    """The one ModelServer document of a YAML file."""
    import yaml

    try:
        with open(path) as handle:
            docs = [d for d in yaml.safe_load_all(handle) if d]
    except (IOError, OSError) as exc:
        raise _spec.SpecError("src", "cannot read %s: %s" % (path, exc))
    except yaml.YAMLError as exc:
        raise _spec.SpecError("src", "%s is not valid YAML: %s" % (path, exc))
    found = [d for d in docs if isinstance(d, dict) and d.get("kind") == _spec.KIND]
    if len(found) != 1:
        raise _spec.SpecError("src", "expected exactly one %s document in %s, found %d" % (_spec.KIND, path, len(found)))
    return found[0]


def spec_from_options(params):
    """The spec groups given as module options (None where not given)."""
    return dict((k, params.get(k)) for k in _spec.FIELDS if params.get(k) is not None)


def resolve(params):
    """(name, namespace, raw spec) from the module's options, whichever input form was used."""
    options = spec_from_options(params)
    definition = params.get("definition")
    if params.get("src"):
        definition = load_src(params["src"])
    if definition is not None and options:
        raise _spec.SpecError(sorted(options)[0], "give the spec either as options or in definition/src, not both")
    if definition is not None:
        return _spec.from_manifest(definition, params.get("namespace"))
    return _render.resolve_input(params.get("name"), params.get("namespace"), options)


def run(params, api_client, check_mode=False, want_diff=False):
    """Do what the module is asked. Raises SpecError (bad input, before any request) or ReconcileError."""
    name, namespace, raw = resolve(params)
    warnings = []
    state = params.get("state", "present")
    if hasattr(api_client, "user_agent"):
        api_client.user_agent = USER_AGENT
    if state == "rollback" and params.get("revision"):
        api = _reconcile.Api(api_client)
        restored = _status.rollback(api, namespace, name, params["revision"], check_mode=check_mode)
        result = {"changed": True, "rolled_back": restored, "service": None, "warnings": [], "name": name,
                  "namespace": namespace,
                  "objects": [{"kind": "Deployment", "name": _spec.object_name(name), "namespace": namespace,
                               "action": "rolled back"}],
                  "api_requests": api.summary()}
        if want_diff:
            result["diff"] = []
        return result
    if state in ("absent", "rollback"):  # rolling back a first deployment removes it
        _spec.check_name("metadata.name", name)
        desired, info = [], None
    else:
        spec, warnings = _spec.normalize(name, namespace, raw)
        desired = _render.render(name, namespace, spec)
        info = _render.service_info(name, namespace, spec)
    api = _reconcile.Api(api_client)
    rec = _reconcile.Reconciler(api, check_mode=check_mode, force_conflicts=params.get("force_conflicts", False),
                                want_diff=want_diff)
    result = rec.reconcile(name, namespace, desired, prune=params.get("prune", True) or not desired)
    if state == "rollback":
        result["rolled_back"] = "the model server did not exist before: deleted every object it owned (%s)" % (
            ", ".join("%s %s" % (o["kind"], o["name"]) for o in result["objects"]) or "none")
    result["service"] = info
    result["name"], result["namespace"] = name, namespace
    result["warnings"] = warnings + rec.warnings
    result["api_requests"] = api.summary()
    if not want_diff:
        result.pop("diff")
    return result


def _plan_fleet(params):
    """Validate and render every server of a fleet before any request: [(name, namespace, desired, info, warnings)]."""
    plans, seen = [], set()
    for i, manifest in enumerate(params["servers"]):
        try:
            name, namespace, raw = _spec.from_manifest(manifest, params.get("namespace"))
            if (namespace, name) in seen:
                raise _spec.SpecError("metadata.name", "%s/%s is listed twice" % (namespace, name))
            seen.add((namespace, name))
            if params.get("state", "present") == "absent":
                _spec.check_name("metadata.name", name)
                plans.append((name, namespace, [], None, []))
                continue
            spec, warnings = _spec.normalize(name, namespace, raw)
        except _spec.SpecError as exc:
            raise _spec.SpecError("servers[%d].%s" % (i, exc.path), str(exc).split(": ", 1)[1])
        plans.append((name, namespace, _render.render(name, namespace, spec), _render.service_info(name, namespace, spec),
                      ["%s/%s: %s" % (namespace, name, w) for w in warnings]))
    return plans


def run_fleet(params, api_client, check_mode=False, want_diff=False):
    """Many model servers in one call: one LIST per kind (that they own or are given) and namespace for all of them, then their applies (or
    dry runs) concurrently. Returns {"changed", "results": [per server], "warnings", "api_requests"}."""
    from concurrent.futures import ThreadPoolExecutor

    plans = _plan_fleet(params)
    if hasattr(api_client, "user_agent"):
        api_client.user_agent = USER_AGENT
    api = _reconcile.Api(api_client)
    lister = _reconcile.Reconciler(api)
    live_by_namespace, listing_failed = {}, {}
    for ns in sorted(set(p[1] for p in plans)):
        # the Deployments of the namespace, then only the kinds its servers record or are given now
        in_ns = [p for p in plans if p[1] == ns]
        try:
            live_by_namespace[ns] = lister.list_owned(ns, want=set(o["kind"] for p in in_ns for o in p[2]),
                                                      servers=[p[0] for p in in_ns])
        except _reconcile.ReconcileError as exc:  # its servers are reported, the other namespaces still done
            listing_failed[ns] = exc

    def one(plan):
        name, namespace, desired, info, warnings = plan
        rec = _reconcile.Reconciler(api, check_mode=check_mode, force_conflicts=params.get("force_conflicts", False),
                                    want_diff=want_diff)
        rec._served = lister._served
        failed = {"name": name, "namespace": namespace, "failed": True, "objects": [], "changed": False,
                  "warnings": warnings}
        if namespace in listing_failed:
            return dict(failed, outcome="not attempted", msg="not attempted: %s" % listing_failed[namespace])
        if api.gone:
            return dict(failed, outcome="not attempted", msg="not attempted: the Kubernetes API server is gone (%s)"
                        % api.gone)
        live = dict((k, v) for k, v in live_by_namespace[namespace].items()
                    if v["metadata"].get("labels", {}).get(_render.LABEL_INSTANCE) == name)
        try:
            result = rec.reconcile(name, namespace, desired, prune=params.get("prune", True) or not desired, live=live)
        except _reconcile.ReconcileError as exc:
            return dict(failed, outcome="failed", msg=str(exc), objects=rec.done,
                        changed=any(o["action"] != "unchanged" for o in rec.done), warnings=warnings + rec.warnings)
        outcome = "checked" if check_mode else "applied"
        result.update(name=name, namespace=namespace, service=info, warnings=warnings + rec.warnings, outcome=outcome)
        if not want_diff:
            result.pop("diff")
        return result

    with ThreadPoolExecutor(max_workers=max(1, params.get("parallel") or 8)) as pool:
        results = list(pool.map(one, plans))
    warnings = [w for r in results for w in r.pop("warnings")]
    return {"changed": any(r["changed"] for r in results), "results": results, "warnings": warnings,
            "failed_servers": ["%s/%s" % (r["namespace"], r["name"]) for r in results if r.get("failed")],
            "api_requests": api.summary()}
