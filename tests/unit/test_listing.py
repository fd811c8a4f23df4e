"""Which kinds a run lists (only those the server owns or is given, never one the cluster does not serve), the kinds
record on the Deployment, the 403 hint, and the shipped RBAC files."""
from pathlib import Path

import pytest
import yaml

from ansible_collections.openvino.ovms.plugins.module_utils import _reconcile, _render

ROOT = Path(__file__).resolve().parents[2]
NS = "ovms"


class FakeApi:
    """Answers GETs of collections from `objects` ({plural: [items]}) and discovery from `openshift`; records calls."""

    def __init__(self, objects=None, openshift=False, forbidden=()):
        self.objects = objects or {}
        self.openshift = openshift
        self.forbidden = forbidden
        self.calls = []

    def request(self, method, path, body=None, query=None, content_type=None, retry_statuses=True):
        self.calls.append((method, path))
        plural = path.rsplit("/", 1)[-1]
        if plural in self.forbidden:
            return 403, {"message": '%s is forbidden: User "u" cannot list resource "%s"' % (plural, plural)}
        if path == "/apis/route.openshift.io/v1":
            return (200, {"resources": []}) if self.openshift else (404, {})
        if method == "GET" and "/namespaces/%s/" % NS in path:
            return 200, {"items": self.objects.get(plural, [])}
        raise AssertionError("unexpected request %s %s" % (method, path))

    def lists(self):
        return [p.rsplit("/", 1)[-1] for m, p in self.calls if m == "GET" and "/namespaces/" in p]


def deployment(name="resnet", kinds=None):
    meta = {"name": name + "-ovms", "namespace": NS, "labels": _render.owner_labels(name)}
    if kinds is not None:
        meta["annotations"] = {_reconcile.KINDS_ANNOTATION: _reconcile.annotation_of_kinds(kinds)}
    return {"metadata": meta, "spec": {}}


def test_group_kinds_are_written_as_kep_3659_does_and_read_back():
    kinds = {"Deployment", "Service", "Secret", "HorizontalPodAutoscaler", "Route"}
    value = _reconcile.annotation_of_kinds(kinds)
    assert value == "Deployment.apps,HorizontalPodAutoscaler.autoscaling,Route.route.openshift.io,Secret,Service"
    assert _reconcile.kinds_of_annotation(value) == kinds
    assert _reconcile.kinds_of_annotation("Service,Widget.example.com") == {"Service"}


def test_a_recorded_server_lists_only_its_kinds():
    api = FakeApi({"deployments": [deployment(kinds={"Deployment", "Service"})]})
    live = _reconcile.Reconciler(api).list_owned(NS, "resnet", want={"Deployment", "Service"})
    assert api.lists() == ["deployments", "services"]
    assert list(live) == [("Deployment", "resnet-ovms")]


def test_kinds_being_applied_now_are_listed_too():
    api = FakeApi({"deployments": [deployment(kinds={"Deployment", "Service"})]})
    _reconcile.Reconciler(api).list_owned(NS, "resnet", want={"Deployment", "Service", "PodDisruptionBudget"})
    assert api.lists() == ["deployments", "services", "poddisruptionbudgets"]


def test_an_unknown_server_lists_every_served_kind_and_asks_discovery_about_routes():
    api = FakeApi()
    _reconcile.Reconciler(api).list_owned(NS, "ghost")
    assert api.lists() == ["deployments", "secrets", "configmaps", "persistentvolumeclaims", "services",
                           "horizontalpodautoscalers", "poddisruptionbudgets", "ingresses"]
    assert ("GET", "/apis/route.openshift.io/v1") in api.calls


def test_a_deployment_without_the_record_falls_back_to_every_kind():
    api = FakeApi({"deployments": [deployment()]}, openshift=True)
    _reconcile.Reconciler(api).list_owned(NS, "resnet", want={"Deployment", "Service"})
    assert "routes" in api.lists() and "secrets" in api.lists()


def test_routes_are_looked_up_only_when_wanted_or_recorded():
    api = FakeApi({"deployments": [deployment(kinds={"Deployment", "Service", "Route"})]})
    _reconcile.Reconciler(api).list_owned(NS, "resnet", want={"Deployment", "Service"})
    assert "routes" not in api.lists(), "this cluster does not serve Routes"
    assert ("GET", "/apis/route.openshift.io/v1") in api.calls
    api = FakeApi({"deployments": [deployment(kinds={"Deployment", "Service"})]})
    _reconcile.Reconciler(api).list_owned(NS, "resnet", want={"Deployment", "Service"})
    assert ("GET", "/apis/route.openshift.io/v1") not in api.calls


def test_fleet_listing_is_complete_only_when_every_server_has_a_record():
    api = FakeApi({"deployments": [deployment("a", {"Deployment", "Service"}),
                                   deployment("b", {"Deployment", "Service", "Secret"})]})
    _reconcile.Reconciler(api).list_owned(NS, want={"Deployment", "Service"}, servers=["a", "b"])
    assert api.lists() == ["deployments", "secrets", "services"]
    api = FakeApi({"deployments": [deployment("a", {"Deployment", "Service"})]})
    _reconcile.Reconciler(api).list_owned(NS, want={"Deployment", "Service"}, servers=["a", "new"])
    assert len(api.lists()) == 8


def test_the_record_keeps_kinds_about_to_be_pruned():
    desired = [{"kind": "Deployment", "metadata": {"name": "resnet-ovms", "namespace": NS}},
               {"kind": "Service", "metadata": {"name": "resnet-ovms", "namespace": NS}}]
    live = {("Secret", "resnet-ovms-aws-secret"): {}}
    out = _reconcile.Reconciler(FakeApi())._record_kinds(desired, live)
    assert out[0]["metadata"]["annotations"][_reconcile.KINDS_ANNOTATION] == "Deployment.apps,Secret,Service"
    assert "annotations" not in desired[0]["metadata"], "the caller's manifests are not changed"
    assert _reconcile.strip(out[0]) == _reconcile.strip(desired[0]), "bookkeeping is not a change"


def test_a_wanted_route_on_a_cluster_without_routes_is_refused_before_any_write():
    api = FakeApi()
    desired = [{"kind": "Route", "apiVersion": "route.openshift.io/v1",
                "metadata": {"name": "resnet-ovms", "namespace": NS}}]
    with pytest.raises(_reconcile.ReconcileError, match="does not serve route.openshift.io/v1"):
        _reconcile.Reconciler(api).reconcile("resnet", NS, desired)
    assert "routes" not in api.lists()
    assert all(m == "GET" for m, _ in api.calls)


def test_forbidden_names_the_permission_and_the_shipped_role():
    api = FakeApi(forbidden=("deployments",))
    with pytest.raises(_reconcile.ApiError) as err:
        _reconcile.Reconciler(api).list_owned(NS, "resnet")
    assert 'cannot list resource "deployments"' in str(err.value)
    assert "rbac/role.yaml" in str(err.value)


def load(name):
    """The objects of an rbac/ file (a single object, or a List of them)."""
    docs = list(yaml.safe_load_all((ROOT / "rbac" / name).read_text()))
    return [i for d in docs for i in (d["items"] if d["kind"] == "List" else [d])]


def test_the_cluster_role_for_many_namespaces_has_exactly_the_roles_rules():
    role = next(d for d in load("role.yaml") if d["kind"] == "Role")
    cluster_role = next(d for d in load("clusterrole.yaml") if d["metadata"]["name"] == "openvino-ovms")
    assert cluster_role["kind"] == "ClusterRole"
    assert cluster_role["rules"] == role["rules"]


def test_the_role_covers_every_managed_kind_and_nothing_cluster_wide():
    role = next(d for d in load("role.yaml") if d["kind"] == "Role")
    granted = set((g, r, v) for rule in role["rules"] for g in rule["apiGroups"] for r in rule["resources"]
                  for v in rule["verbs"])
    for kind, api_version, plural in _render.KINDS:
        group = api_version.split("/")[0] if "/" in api_version else ""
        for verb in ("get", "list", "create", "patch", "delete"):
            assert (group, plural, verb) in granted, (kind, verb)
    assert not any("*" in rule["verbs"] or "*" in rule["resources"] for rule in role["rules"])
    assert "namespaces" not in set(r for rule in role["rules"] for r in rule["resources"])
    binding = next(d for d in load("binding.yaml") if d["kind"] == "RoleBinding")
    assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "openvino-ovms"}
