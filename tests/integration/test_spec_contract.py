"""The spec contract against the real API server:

- property: every spec the CRD allows (hypothesis, drawn from the reference field table) either renders into
  objects the API server accepts (server-side apply, strict field validation, dryRun=All), or is refused by a rule
  docs/validation.md lists (or, for the free-form Kubernetes fields, by the API server's dry run that runs before
  the first write);
- refused input, through the real module (ansible-playbook): zero requests of any kind in the API server's audit
  log; input refused by what only the cluster knows (no Route API, no such namespace, free-form fields the API
  server refuses): zero writes, nothing left behind.
"""
from __future__ import annotations

import collections
import copy
import json
import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st
from kubernetes import client

from ansible_collections.openvino.ovms.plugins.module_utils import _reconcile, _render, _spec
from ansible_runner import run_playbook
from conftest import remove_route_api, wait_for
from spec_strategies import bounded, crd_specs, rule_of

FREE_FORM = ("node_affinity", "pod_affinity", "pod_antiaffinity", "update_strategy")
WRITES = ("create", "update", "patch", "delete", "deletecollection")


@pytest.fixture(scope="module")
def contract_ns(core):
    name = "contract-%s" % uuid.uuid4().hex[:8]
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    yield name
    core.delete_namespace(name)


def dry_run(api, namespace, manifests):
    """[(kind, status, message)] of the server-side applies of manifests with dryRun=All."""
    out = []
    for m in manifests:
        status, body = api.request("PATCH", _reconcile.object_path(m["kind"], namespace, m["metadata"]["name"]),
                                   body=m, content_type="application/apply-patch+yaml",
                                   query=[("fieldManager", "openvino.ovms"), ("fieldValidation", "Strict"),
                                          ("dryRun", "All"), ("force", "true")])
        out.append((m["kind"], status, body.get("message") if isinstance(body, dict) else str(body)))
    return out


@pytest.mark.parametrize("spec", [
    {"models_repository": {"no_proxy": "\U00010000"}},
    {"deployment_parameters": {"pod_annotations": {"note": "served with care \U0001F600"}}},
    {"models_settings": {"model_name": "r\u00e9snet-\u6a21\u578b"}},
    {"models_repository": {"http_proxy": "a\x7fb\x85c\u2028d\ufffe"}},
], ids=["astral-plane", "emoji-annotation", "unicode-model-name", "yaml-unprintable"])
def test_unicode_beyond_the_basic_plane_reaches_the_api_server(api_client, contract_ns, spec):
    """Found by the property test: json.dumps escapes U+10000 and beyond as surrogate pairs, which the API server's
    YAML decoder refuses for server-side apply."""
    spec = dict(spec, models_settings=dict(spec.get("models_settings", {}), model_path="gs://b/m"))
    manifests = _render.manifests_for(name="uni", namespace=contract_ns, spec=spec)[0]
    answers = dry_run(_reconcile.Api(api_client), contract_ns, manifests)
    assert all(a[1] in (200, 201) for a in answers), answers
    # and the value arrives unchanged (a YAML line break would have been folded into a space)
    api = _reconcile.Api(api_client)
    dep = next(m for m in manifests if m["kind"] == "Deployment")
    status, body = api.request("PATCH", _reconcile.object_path("Deployment", contract_ns, dep["metadata"]["name"]),
                               body=dep, content_type="application/apply-patch+yaml",
                               query=[("fieldManager", "openvino.ovms"), ("dryRun", "All"), ("force", "true")])
    sent, stored = dep["spec"]["template"], body["spec"]["template"]
    assert stored["metadata"].get("annotations") == sent["metadata"].get("annotations")
    assert stored["spec"]["containers"][0].get("env") == sent["spec"]["containers"][0].get("env")
    assert stored["spec"]["containers"][0]["args"] == sent["spec"]["containers"][0]["args"]


# --- refused input through ansible: what the API server saw ------------------------------------------------------
MS = {"apiVersion": "intel.com/v1alpha1", "kind": "ModelServer"}


def refused_invocations(ns, src_dir):
    """(label, module args, expected start of the message). Every one is refused before any request."""
    good = {"models_settings": {"model_path": "gs://b/m"}}

    def spec_args(**groups):
        args = {"name": "bad", "namespace": ns}
        args.update(copy.deepcopy(good))
        for k, v in groups.items():
            args[k] = dict(args.get(k) or {}, **v) if isinstance(v, dict) else v
        return args

    binary = src_dir / "binary.yaml"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\x00\xff\xfe")
    multi = src_dir / "multi.yaml"
    multi.write_text("\n---\n".join(json.dumps(dict(MS, metadata={"name": n, "namespace": ns}, spec=good))
                                    for n in ("a", "b")))
    string_spec = src_dir / "string-spec.yaml"
    string_spec.write_text(json.dumps(dict(MS, metadata={"name": "s", "namespace": ns}, spec="resnet")))
    return [
        # the five that used to leave a Deployment and a Service behind
        ("ingress path without /", spec_args(ingress={"enabled": True, "path": "v2"}), "spec.ingress.path:"),
        ("invalid ingress class", spec_args(ingress={"enabled": True, "class_name": "Not_A_Class"}),
         "spec.ingress.class_name:"),
        ("invalid annotation key", spec_args(ingress={"enabled": True, "annotations": {"bad key": "x"}}),
         "spec.ingress.annotations.bad key:"),
        ("max_replicas 2**31", spec_args(autoscaling={"enabled": True, "max_replicas": 2 ** 31,
                                                      "target_cpu_utilization": 50}), "spec.autoscaling.max_replicas:"),
        ("replicas 10**12", spec_args(deployment_parameters={"replicas": 10 ** 12}),
         "spec.deployment_parameters.replicas:"),
        ("startup_timeout_seconds 1e10", spec_args(deployment_parameters={"startup_timeout_seconds": 10 ** 10}),
         "spec.deployment_parameters.startup_timeout_seconds:"),
        ("requests above limits", spec_args(deployment_parameters={"resources": {
            "limits": {"memory": "1Gi"}, "requests": {"memory": "2Gi"}}}),
         "spec.deployment_parameters.resources.requests.memory:"),
        ("extended request without limit", spec_args(deployment_parameters={"resources": {
            "requests": {"xpu_device": "gpu.intel.com/i915"}}}), "spec.deployment_parameters.resources.limits"),
        ("image with spaces", spec_args(image_name="openvino/model server"), "spec.image_name:"),
        ("empty target_device", spec_args(models_settings={"target_device": ""}), "spec.models_settings.target_device:"),
        ("unparsable shape", spec_args(models_settings={"shape": "[1,3,224,224]"}), "spec.models_settings.shape:"),
        ("selector label in pod_labels", spec_args(deployment_parameters={"pod_labels": {
            "app.kubernetes.io/instance": "other"}}), "spec.deployment_parameters.pod_labels.app.kubernetes.io/instance:"),
        # names and namespaces, in every state and in fleet mode
        ("absent, namespace with ..", {"name": "x", "namespace": "ns/../kube-system", "state": "absent"},
         "metadata.namespace:"),
        ("absent, Bad_NS", {"name": "x", "namespace": "Bad_NS", "state": "absent"}, "metadata.namespace:"),
        ("rollback, bad name", {"name": "x/../y", "namespace": ns, "state": "rollback", "revision": 1},
         "metadata.name:"),
        ("fleet absent, namespace with ..", {"servers": [dict(MS, metadata={"name": "x", "namespace": "a/../b"})],
                                             "state": "absent"}, "servers[0].metadata.namespace:"),
        ("fleet, unicode name", {"servers": [dict(MS, metadata={"name": "résnet", "namespace": ns}, spec=good)]},
         "servers[0].metadata.name:"),
        # shapes of input
        ("definition: spec a string", {"definition": dict(MS, metadata={"name": "x", "namespace": ns},
                                                          spec="resnet")}, "spec:"),
        ("definition: metadata a list", {"definition": dict(MS, metadata=["x"], spec=good)}, "metadata:"),
        ("definition: group a list", {"definition": dict(MS, metadata={"name": "x", "namespace": ns},
                                                         spec={"models_settings": ["gs://b/m"]})},
         "spec.models_settings:"),
        ("definition: unknown kind", {"definition": dict(MS, kind="InferenceService", metadata={"name": "x"})},
         "definition.kind:"),
        ("fleet: spec a string", {"servers": [dict(MS, metadata={"name": "x", "namespace": ns}, spec="s")]},
         "servers[0].spec:"),
        ("absent, fleet: spec a string", {"servers": [dict(MS, metadata={"name": "x/y", "namespace": ns},
                                                           spec="s")], "state": "absent"},
         "servers[0].metadata.name:"),
        ("src: binary", {"src": str(binary)}, "src:"),
        ("src: two documents", {"src": str(multi)}, "src:"),
        ("src: spec a string", {"src": str(string_spec)}, "spec:"),
    ]


def _marker_events(local_cluster, api_client, offset):
    """Audit events after `offset`, up to a marker request of this test (so every earlier one is in the log)."""
    from test_modelserver_module import audit_events

    marker = "audit-marker-%s" % uuid.uuid4().hex[:8]
    client.CoreV1Api(api_client).list_namespaced_config_map("default", label_selector="marker=%s" % marker)
    events = wait_for(lambda: (lambda ev: ev if any(marker in e["requestURI"] for e in ev) else None)(
        audit_events(local_cluster, offset)), 30, "the marker request in the audit log")
    return [e for e in events[:next(i for i, e in enumerate(events) if marker in e["requestURI"])]]


def _tasks(cases):
    return [{"name": "case %d: %s" % (i, label), "openvino.ovms.modelserver": args, "ignore_errors": True}
            for i, (label, args, _) in enumerate(cases)]


def _play(tasks):
    import sys

    return [{"hosts": "localhost", "gather_facts": False, "vars": {"ansible_python_interpreter": sys.executable},
             "tasks": tasks}]


def test_refused_input_sends_no_request_at_all(api_client, namespace, kubeconfig, tmp_path, kwok_cluster, capsys):
    from test_modelserver_module import audit_offset

    cases = refused_invocations(namespace, tmp_path)
    offset = audit_offset(kwok_cluster)
    out, raw = run_playbook(_play(_tasks(cases)), kubeconfig, tmp_path)
    events = _marker_events(kwok_cluster, api_client, offset)
    results = [t["hosts"]["localhost"] for t in out["plays"][0]["tasks"]]
    assert len(results) == len(cases)
    tracebacks = 0
    for (label, _, expected), result in zip(cases, results):
        assert result.get("failed") is True, (label, result)
        # ansible-core 2.19 puts "exception: (traceback unavailable)" in every failed result; a real one has text
        tracebacks += "Traceback (most recent call last)" in json.dumps(result) or result.get("exception", "(traceback "
                                                                                               "unavailable)") != \
            "(traceback unavailable)"
        assert result["msg"].startswith(expected), (label, result["msg"])
    with capsys.disabled():
        print("\n[audit] %d refused invocations through ansible: %d API requests, %d tracebacks" % (
            len(cases), len(events), tracebacks))
    assert tracebacks == 0
    assert events == [], ["%s %s" % (e["verb"], e["requestURI"]) for e in events]


@pytest.fixture
def no_route_api(api_client):
    """The cluster without route.openshift.io (another test module may have installed the Route CRD: removed here,
    put back by route_api)."""
    remove_route_api(api_client)


def test_refused_by_the_cluster_writes_nothing(api_client, core, namespace, kubeconfig, tmp_path, kwok_cluster,
                                               no_route_api, capsys):
    from test_modelserver_module import audit_offset

    good = {"models_settings": {"model_path": "gs://b/m"}}
    routes_served = False  # no_route_api
    cases = [
        ("namespace does not exist", dict(good, name="nons", namespace="no-such-ns-%s" % uuid.uuid4().hex[:6]),
         "metadata.namespace: the namespace no-such-ns-"),
        ("fleet: namespace does not exist", {"servers": [dict(MS, metadata={"name": "f", "namespace": "gone-ns"},
                                                              spec=good)]}, "metadata.namespace: the namespace gone-ns"),
        ("affinity the API server refuses", dict(good, name="aff", namespace=namespace, deployment_parameters={
            "node_affinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": "zone-a"}}}),
         "PATCH (dry run, nothing was written)"),
        ("update strategy with an unknown field", dict(good, name="strat", namespace=namespace, deployment_parameters={
            "update_strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "surge": 2}}}),
         "PATCH (dry run, nothing was written)"),
    ]
    if not routes_served:
        cases.append(("Route without the Route API", dict(good, name="rt", namespace=namespace,
                                                           route={"enabled": True}), "route.enabled is set"))
    offset = audit_offset(kwok_cluster)
    out, _ = run_playbook(_play(_tasks(cases)), kubeconfig, tmp_path)
    events = _marker_events(kwok_cluster, api_client, offset)
    for (label, _, expected), task in zip(cases, out["plays"][0]["tasks"]):
        result = task["hosts"]["localhost"]
        assert result.get("failed") is True and expected in result["msg"], (label, result)
        assert "Traceback (most recent call last)" not in json.dumps(result), (label, result)
    # a write request the API server refused wrote nothing: a missing namespace shows at the first apply (404), not
    # through a GET of the namespace, which a namespace-scoped identity may not do (and would see refused: a 403)
    writes = [e for e in events if e["verb"] in WRITES and "dryRun=All" not in e["requestURI"]
              and (e.get("responseStatus") or {}).get("code", 0) < 400]
    left = client.AppsV1Api(api_client).list_namespaced_deployment(namespace).items + \
        core.list_namespaced_service(namespace).items + core.list_namespaced_secret(
            namespace, label_selector="app.kubernetes.io/managed-by=openvino.ovms").items
    with capsys.disabled():
        print("\n[audit] %d inputs refused by the cluster's checks: %d API requests (%s), %d writes; Route case %s" % (
            len(cases), len(events), ", ".join(sorted(set(e["verb"] for e in events))), len(writes),
            "skipped (this cluster serves Routes)" if routes_served else "included"))
    assert writes == [], ["%s %s" % (e["verb"], e["requestURI"]) for e in writes]
    assert [o.metadata.name for o in left] == []


def test_crd_specs_are_accepted_by_the_api_server_or_refused_by_a_documented_rule(api_client, contract_ns,
                                                                                     route_api, capsys):
    api = _reconcile.Api(api_client)
    stats, rules = collections.Counter(), collections.Counter()

    @bounded(250)
    @given(crd_specs(), st.sampled_from(["resnet", "vision-ovms", "m"]))
    def prop(spec, name):
        stats["tried"] += 1
        try:
            manifests = _render.manifests_for(name=name, namespace=contract_ns, spec=copy.deepcopy(spec))[0]
        except _spec.SpecError as exc:
            rule = rule_of(exc)
            assert rule, "refused by no rule docs/validation.md lists: %s\nspec: %r" % (exc, spec)
            rules[rule] += 1
            return
        stats["rendered"] += 1
        answers = dry_run(api, contract_ns, manifests)
        refused = [a for a in answers if a[1] not in (200, 201)]
        if not refused:
            stats["accepted"] += 1
            return
        free_form = [k for k in FREE_FORM if (spec.get("deployment_parameters") or {}).get(k)]
        assert free_form and [a[0] for a in refused] == ["Deployment"], (
            "the API server refused what the spec's rules let through: %s\nspec: %r" % (refused, spec))
        rules["free-form (the API server's dry run before the first write)"] += 1

    prop()
    with capsys.disabled():
        print("\n[hypothesis] specs the CRD allows, against the API server: %d tried, %d rendered, %d accepted by the "
              "API server (strict field validation, dry run); refused per rule: %s" % (
                  stats["tried"], stats["rendered"], stats["accepted"],
                  ", ".join("%s %d" % kv for kv in rules.most_common())))
    assert stats["accepted"] > stats["tried"] // 10, (stats, rules)


@pytest.fixture(scope="module")
def route_api(api_client):
    """This cluster serving route.openshift.io/v1 for this module's tests (the Route CRD; removed afterwards)."""
    from test_rendered_objects_accepted import install_route_api

    install_route_api(api_client)
    yield True
    remove_route_api(api_client)
