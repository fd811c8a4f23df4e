"""The pure parts of reconcile: what is compared, what a diff shows, how conflicts are read."""
from ansible_collections.openvino.ovms.plugins.module_utils import _reconcile


def test_strip_drops_server_kept_metadata_and_status():
    live = {"kind": "Deployment", "metadata": {
        "name": "x", "resourceVersion": "1", "uid": "u", "generation": 3, "creationTimestamp": "t",
        "managedFields": [{}], "annotations": {"deployment.kubernetes.io/revision": "2"}, "labels": {"a": "b"}},
        "spec": {"replicas": 1}, "status": {"readyReplicas": 1}}
    assert _reconcile.strip(live) == {"kind": "Deployment", "metadata": {"name": "x", "labels": {"a": "b"}},
                                      "spec": {"replicas": 1}}
    assert "status" in live, "strip must not modify its input"


def test_mask_hides_secret_values_but_not_keys():
    secret = {"kind": "Secret", "data": {"secret_access_key": "c2VjcmV0"}}
    assert _reconcile.mask(secret) == {"kind": "Secret", "data": {"secret_access_key": _reconcile.MASK}}
    assert _reconcile.mask({"kind": "ConfigMap", "data": {"a": "b"}}) == {"kind": "ConfigMap", "data": {"a": "b"}}
    diff = _reconcile.diff_entry("Secret", "ns", "s", secret, dict(secret, data={"secret_access_key": "bmV3"}))
    assert "c2VjcmV0" not in str(diff) and "bmV3" not in str(diff)


def test_field_changes_match_named_list_items():
    before = {"spec": {"containers": [{"name": "ovms", "args": ["--a=1"]}], "replicas": 1}}
    after = {"spec": {"containers": [{"name": "ovms", "args": ["--a=2"]}], "replicas": 1}}
    assert _reconcile.field_changes(before, after) == [("spec.containers[name=ovms].args", ["--a=1"], ["--a=2"])]
    assert _reconcile.secret_changes({"data": {"k": "YQ=="}}, {"data": {"k": "Yg=="}}) == [
        ("data.k", _reconcile.MASK, _reconcile.MASK)]


def test_conflicts_are_read_from_the_status_causes():
    error = _reconcile.ApiError("PATCH", "/x", 409, {"message": "Apply failed", "details": {"causes": [
        {"type": "FieldManagerConflict", "message": 'conflict with "gitops" using apps/v1', "field": ".spec.replicas"}]}})
    assert _reconcile.conflicts_of(error) == [("gitops", ".spec.replicas")]
    assert "HTTP 409: Apply failed" in str(error)


def test_paths_of_core_and_group_kinds():
    assert _reconcile.object_path("Service", "ns", "s") == "/api/v1/namespaces/ns/services/s"
    assert _reconcile.object_path("Deployment", "ns", "d") == "/apis/apps/v1/namespaces/ns/deployments/d"
    assert _reconcile.object_path("Route", "ns", "r") == "/apis/route.openshift.io/v1/namespaces/ns/routes/r"
