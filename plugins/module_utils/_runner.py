# -*- coding: utf-8 -*-
# Copyright (c) openvino.ovms contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
#
# PRIVATE: this module_utils file is internal to the openvino.ovms collection.
"""What the modelserver module does, apart from Ansible's plumbing: input -> spec -> manifests -> plan."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.openvino.ovms.plugins.module_utils import _client, _reconcile, _render, _spec, _status, _version

USER_AGENT = _version.user_agent()  # openvino.ovms/<galaxy.yml's version>, see _version.py


def load_src(path):
    """The one ModelServer document of a YAML file."""
    import yaml

    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except (IOError, OSError) as exc:
        raise _spec.SpecError("src", "cannot read %s: %s" % (path, exc))
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _spec.SpecError("src", "%s is not a UTF-8 text file (byte %d): expected a YAML ModelServer manifest"
                              % (path, exc.start))
    try:
        docs = [d for d in yaml.safe_load_all(text) if d is not None]
    except yaml.YAMLError as exc:
        raise _spec.SpecError("src", "%s is not valid YAML: %s" % (path, exc))
    except (ValueError, RecursionError) as exc:  # PyYAML's own limits (e.g. nesting), not YAMLError
        raise _spec.SpecError("src", "%s cannot be read as YAML: %s" % (path, str(exc)[:200]))
    found = [d for d in docs if isinstance(d, dict) and d.get("kind") == _spec.KIND]
    if len(found) != 1:
        kinds = ", ".join(sorted(set(str(d.get("kind")) if isinstance(d, dict) else type(d).__name__ for d in docs)))
        raise _spec.SpecError("src", "expected exactly one %s document in %s, found %d (documents: %s)"
                              % (_spec.KIND, path, len(found), kinds or "none"))
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


def _reconciler(api, params, check_mode, want_diff):
    """The Reconciler for the module's options (single and fleet mode alike)."""
    return _reconcile.Reconciler(api, check_mode=check_mode, force_conflicts=params.get("force_conflicts", False),
                                 want_diff=want_diff, ignore=params.get("ignore_differences"))


def _connect(api_client):
    """The API client; `api_client` may be a function making it, called only once the input is valid (making a
    client already asks the API server for its version and API groups)."""
    if callable(api_client):
        api_client = api_client()
    if hasattr(api_client, "user_agent"):
        api_client.user_agent = USER_AGENT
    return api_client


def run(params, api_client, check_mode=False, want_diff=False):
    """Do what the module is asked. Raises SpecError (bad input, before any request) or ReconcileError.
    api_client: a kubernetes ApiClient, or a function returning one (called after validation)."""
    name, namespace, raw = resolve(params)
    _spec.check_identity(name, namespace)  # every state: they end up in request paths and label selectors
    warnings = []
    state = params.get("state", "present")
    if state == "rollback" and params.get("revision"):
        api_client = _connect(api_client)
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
        desired, info = [], None
    else:
        spec, warnings = _spec.normalize(name, namespace, raw)
        desired = _render.render(name, namespace, spec)
        info = _render.service_info(name, namespace, spec)
    rec = _reconciler(_reconcile.Api(_connect(api_client)), params, check_mode, want_diff)
    result = rec.reconcile(name, namespace, desired, prune=params.get("prune", True) or not desired)
    if state == "rollback":
        result["rolled_back"] = "the model server did not exist before: deleted every object it owned (%s)" % (
            ", ".join("%s %s" % (o["kind"], o["name"]) for o in result["objects"]) or "none")
    result["service"] = info
    result["name"], result["namespace"] = name, namespace
    result["warnings"] = warnings + rec.warnings
    result["api_requests"] = rec.api.summary()
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
                plans.append((name, namespace, [], None, []))  # from_manifest checked name and namespace
                continue
            spec, warnings = _spec.normalize(name, namespace, raw)
        except _spec.SpecError as exc:
            raise _spec.SpecError("servers[%d].%s" % (i, exc.path), exc.message)
        plans.append((name, namespace, _render.render(name, namespace, spec), _render.service_info(name, namespace, spec),
                      ["%s/%s: %s" % (namespace, name, w) for w in warnings]))
    return plans


def run_fleet(params, api_client, check_mode=False, want_diff=False):
    """Many model servers in one call: one LIST per kind (that they own or are given) and namespace for all of them,
    then their applies (or dry runs) concurrently. Returns {"changed", "results": [per server], "warnings", "api_requests"}."""
    from concurrent.futures import ThreadPoolExecutor

    plans = _plan_fleet(params)
    try:
        api = _reconcile.Api(_connect(api_client))
    except _client.Unreachable as exc:  # the API server is gone from the start: every server is reported
        return _fleet_result([_not_attempted(p, exc) for p in plans], None)
    lister = _reconcile.Reconciler(api)
    live_by_namespace, listing_failed = {}, {}
    for ns in sorted(set(p[1] for p in plans)):
        # the Deployments of the namespace, then only the kinds its servers record or are given now
        in_ns = [p for p in plans if p[1] == ns]
        try:
            live_by_namespace[ns] = lister.list_owned(ns, want=set(o["kind"] for p in in_ns for o in p[2]),
                                                      servers=[p[0] for p in in_ns])
        except _reconcile.ReconcileError as exc:  # (a 403, the API server gone): its servers are reported as not
            # attempted, the other namespaces are still done
            listing_failed[ns] = exc
            continue
        # a missing namespace shows at each of its servers' first write (nothing is written for them), as in single
        # mode: not through a GET of the namespace, which a namespace-scoped identity may not do (deploy.yml runs the
        # fleet path as such an identity with ovms_create_namespaces: false)

    def reconciler():
        rec = _reconciler(api, params, check_mode, want_diff)
        rec._served = lister._served
        return rec

    def live_of(name, namespace):
        return dict((k, v) for k, v in live_by_namespace[namespace].items()
                    if v["metadata"].get("labels", {}).get(_render.LABEL_INSTANCE) == name)

    def check(plan):
        name, namespace, desired = plan[:3]
        if namespace in listing_failed:
            return None
        try:
            reconciler().preflight(namespace, desired, live_of(name, namespace), check_namespace=False)
        except _reconcile.TransientError:
            return None  # the API server went away: reported per server as not attempted
        except _reconcile.ReconcileError as exc:
            return "%s/%s: %s" % (namespace, name, exc)
        return None

    def one(plan):
        name, namespace, desired, info, warnings = plan
        if namespace in listing_failed:
            return _not_attempted(plan, listing_failed[namespace])
        if api.gone:
            return _not_attempted(plan, "the Kubernetes API server is gone (%s)" % api.gone)
        rec = reconciler()
        live = live_of(name, namespace)
        try:
            result = rec.reconcile(name, namespace, desired, prune=params.get("prune", True) or not desired, live=live,
                                   preflight=False)
        except _reconcile.ReconcileError as exc:
            return {"name": name, "namespace": namespace, "failed": True, "outcome": "failed", "msg": str(exc),
                    "objects": rec.done, "changed": any(o["action"] != "unchanged" for o in rec.done),
                    "warnings": warnings + rec.warnings}
        outcome = "checked" if check_mode else "applied"
        result.update(name=name, namespace=namespace, service=info, warnings=warnings + rec.warnings, outcome=outcome)
        if not want_diff:
            result.pop("diff")
        return result

    with ThreadPoolExecutor(max_workers=max(1, params.get("parallel") or 8)) as pool:
        # Every server's cluster-dependent checks before any server's first write: a refused fleet writes nothing.
        refused = [r for r in pool.map(check, plans) if r]
        if refused:
            raise _reconcile.ReconcileError("nothing was changed: %d of %d model servers cannot be applied: %s"
                                            % (len(refused), len(plans), "; ".join(refused)))
        results = list(pool.map(one, plans))
    return _fleet_result(results, api)


def _not_attempted(plan, why):
    """A fleet server's result when no request was sent for it."""
    name, namespace, warnings = plan[0], plan[1], plan[4]
    return {"name": name, "namespace": namespace, "failed": True, "outcome": "not attempted", "objects": [],
            "changed": False, "msg": "not attempted: %s" % why, "warnings": warnings}


def _fleet_result(results, api):
    warnings = [w for r in results for w in r.pop("warnings")]
    return {"changed": any(r["changed"] for r in results), "results": results, "warnings": warnings,
            "failed_servers": ["%s/%s" % (r["namespace"], r["name"]) for r in results if r.get("failed")],
            "api_requests": api.summary() if api else {"total": 0, "writes": 0, "by_verb": {}, "retries": 0}}
