"""The pure parts of the migration from the operator: export of a ModelServer, the strategy during the move, the
vars file, the states a server can be in."""
import copy
import os
import stat

import pytest
import yaml

from ansible_collections.openvino.ovms.plugins.module_utils import _chart, _migrate


def cr(name="s3", ns="ovms", **spec):
    return {"apiVersion": "intel.com/v1alpha1", "kind": "ModelServer",
            "metadata": {"name": name, "namespace": ns, "uid": "u-1", "finalizers": [_migrate.FINALIZERS[0]]},
            "spec": spec, "status": {"conditions": []}}


S3 = {"image_name": "openvino/model_server:2025.4",
      "models_settings": {"model_name": "m", "model_path": "s3://b/m"},
      "models_repository": {"storage_type": "S3", "aws_access_key_id": "AKIA-1", "aws_secret_access_key": "SECRET-2"}}


def test_export_moves_credentials_out_of_the_manifest_into_references():
    entry = _migrate.export(cr(**copy.deepcopy(S3)))
    rep = entry["manifest"]["spec"]["models_repository"]
    assert rep["aws_secret_access_key"] == "{{ ovms_credentials['ovms/s3'].aws_secret_access_key }}"
    assert rep["aws_access_key_id"] == "{{ ovms_credentials['ovms/s3'].aws_access_key_id }}"
    assert entry["credentials"] == {"aws_access_key_id": "AKIA-1", "aws_secret_access_key": "SECRET-2"}
    assert entry["resolved"]["spec"]["models_repository"]["aws_secret_access_key"] == "SECRET-2"
    assert entry["manifest"]["metadata"] == {"name": "s3", "namespace": "ovms"}  # no uid, finalizers, status
    assert "status" not in entry["manifest"] and entry["blocked"] is None
    assert "credentials only in Secrets" in [d["difference"] for d in entry["differences"]]


def test_export_drops_the_crd_placeholder_in_multi_model_mode_and_reports_it():
    spec = {"models_settings": {"single_model_mode": False, "config_configmap_name": "cfg",
                                "model_path": "gs://<bucket_name>/<model_dir>", "model_name": "resnet"}}
    entry = _migrate.export(cr("multi", **spec))
    assert entry["blocked"] is None
    assert "model_path" not in entry["manifest"]["spec"]["models_settings"]
    assert entry["differences"][0]["difference"] == "placeholder model path"


def test_export_blocks_a_single_model_server_with_the_placeholder():
    entry = _migrate.export(cr("x", models_settings={"model_path": "gs://<bucket_name>/<model_dir>"}))
    assert entry["blocked"].startswith("spec.models_settings.model_path:")


def test_export_reports_the_removed_flag_for_images_without_a_version():
    entry = _migrate.export(cr("x", image_name="registry.connect.redhat.com/intel/openvino-model-server:latest",
                               models_settings={"model_path": "gs://b/m"}))
    assert "flags removed in OVMS 2026.3" in [d["difference"] for d in entry["differences"]]
    old = _migrate.export(cr("x", image_name="openvino/model_server:2025.4", models_settings={"model_path": "gs://b/m"}))
    assert "flags removed in OVMS 2026.3" not in [d["difference"] for d in old["differences"]]


def test_every_difference_named_exists_in_the_chart_table():
    names = set(d[0] for d in _chart.DIFFERENCES)
    entry = _migrate.export(cr(**copy.deepcopy(S3)))
    assert set(d["difference"] for d in entry["differences"]) <= names


@pytest.mark.parametrize("own, surge", [
    (None, 1), ({"type": "Recreate"}, 1), ({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "50%"}}, "50%"),
    ({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 0, "maxUnavailable": 1}}, 1)])
def test_the_move_never_takes_a_pod_away_before_its_replacement_is_ready(own, surge):
    manifest = {"apiVersion": "intel.com/v1alpha1", "kind": "ModelServer", "metadata": {"name": "a"},
                "spec": {"deployment_parameters": {"update_strategy": own} if own else {}}}
    original = copy.deepcopy(manifest)
    moved = _migrate.move_manifest(manifest)
    assert moved["spec"]["deployment_parameters"]["update_strategy"] == {
        "type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": surge}}
    assert manifest == original


def test_states():
    ours = {"metadata": {"labels": {"app.kubernetes.io/managed-by": "openvino.ovms"}}, "spec": {}}
    theirs = {"metadata": {"labels": {"heritage": "Helm"}}, "spec": {}}
    paused = {"metadata": ours["metadata"], "spec": {"paused": True}}
    dep = ("Deployment", "d")
    assert _migrate.state_of({"metadata": {}}, {dep: theirs}, [], "d") == _migrate.TO_MIGRATE
    assert _migrate.state_of(None, {dep: theirs}, [{}], "d") == _migrate.DETACHED
    assert _migrate.state_of(None, {dep: paused}, [{}], "d") == _migrate.DETACHED
    assert _migrate.state_of(None, {dep: ours}, [{}], "d") == _migrate.TAKEN_OVER
    assert _migrate.state_of(None, {dep: ours}, [], "d") == _migrate.MIGRATED
    assert _migrate.state_of(None, {}, [], "d") == _migrate.MISSING


def test_vars_file_round_trip_keeps_servers_of_earlier_runs(tmp_path):
    vars_path = str(tmp_path / "migrated.yml")
    creds_path = _migrate.credentials_path(vars_path)
    assert creds_path.endswith("migrated-credentials.yml")
    one = _migrate.export(cr("a", **copy.deepcopy(S3)))
    two = _migrate.export(cr("b", models_settings={"model_path": "gs://b/m"}))
    manifests = {"ovms/a": one["manifest"], "ovms/b": two["manifest"]}
    written = _migrate.write_files(vars_path, creds_path, manifests, {"ovms/a": one["credentials"]},
                                   {"ovms/a": one["differences"]})
    assert written == [vars_path, creds_path]
    assert stat.S_IMODE(os.stat(creds_path).st_mode) == 0o600
    text = open(vars_path).read()
    assert "SECRET-2" not in text and "AKIA-1" not in text
    assert "#   differs from the operator: credentials only in Secrets" in text
    assert [m["metadata"]["name"] for m in yaml.safe_load(text)["ovms_modelservers"]] == ["a", "b"]
    assert _migrate.read_vars(vars_path) == manifests
    credentials = _migrate.read_credentials(creds_path)
    assert credentials == {"ovms/a": {"aws_access_key_id": "AKIA-1", "aws_secret_access_key": "SECRET-2"}}
    resolved = _migrate.resolve_references(manifests["ovms/a"], credentials)
    assert resolved["spec"]["models_repository"]["aws_secret_access_key"] == "SECRET-2"
    assert _migrate.resolve_references(manifests["ovms/a"], {}) is None
    # the same content again: nothing written
    assert _migrate.write_files(vars_path, creds_path, manifests, credentials, {"ovms/a": one["differences"]}) == []
    # a later run whose resources are gone keeps the notes of the earlier one: the same file, not written
    notes = _migrate.read_notes(vars_path)
    assert notes["ovms/a"][0].startswith("#   differs from the operator: ") and "ovms/b" not in notes
    assert _migrate.write_files(vars_path, creds_path, manifests, credentials, {}, notes) == []


def test_an_encrypted_credentials_file_is_not_read(tmp_path):
    path = tmp_path / "c.yml"
    path.write_text("$ANSIBLE_VAULT;1.1;AES256\n6162\n")
    assert _migrate.read_credentials(str(path)) is None
    with pytest.raises(_migrate.MigrationError):
        _migrate.read_vars(str(path))


def test_summary_lines_say_what_happens_per_server():
    result = {"servers": [
        {"name": "a", "namespace": "n", "state": "to migrate", "objects": [
            {"kind": "Deployment", "name": "a-ovms", "action": "take over", "changes": [{"path": "x"}]}],
         "pods_roll": True, "remove": ["ModelServer n/a"], "differences": [{"difference": "startup probe"}],
         "warnings": []},
        {"name": "b", "namespace": "n", "state": "migrated", "objects": [], "pods_roll": False, "remove": [],
         "differences": [], "warnings": []},
        {"name": "c", "namespace": "n", "state": "blocked", "blocked": "spec.x: bad"}]}
    lines = _migrate.summary_lines(result)
    assert lines[0] == ("n/a: to migrate: takes over Deployment a-ovms (1 fields change); pods roll (maxUnavailable 0); "
                        "removes ModelServer n/a; differs from the operator in: startup probe")
    assert lines[1] == "n/b: migrated: nothing to do"
    assert lines[2] == "n/c: blocked: spec.x: bad"


def test_leaf_foreign_fields_find_helms_env_value_inside_an_item_we_declare():
    """Helm owns the env item AWS_ACCESS_KEY_ID with a plain value; ours has valueFrom: the value must go (both
    together are refused by the API server), the item stays; an item we do not declare goes whole."""
    from ansible_collections.openvino.ovms.plugins.module_utils import _reconcile

    env = [{"name": "AWS_ACCESS_KEY_ID", "value": "AKIA"}, {"name": "OLD", "value": "x"}]
    live = {"metadata": {"managedFields": [{"manager": "helm", "operation": "Update", "fieldsV1": {
        "f:spec": {"f:env": {'k:{"name":"AWS_ACCESS_KEY_ID"}': {".": {}, "f:name": {}, "f:value": {}},
                             'k:{"name":"OLD"}': {".": {}, "f:name": {}, "f:value": {}}}}}}]}, "spec": {"env": env}}
    desired = {"spec": {"env": [{"name": "AWS_ACCESS_KEY_ID", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}}]}}
    assert [f["path"] for f in _reconcile.foreign_fields(live, desired)] == ["spec.env[name=OLD]"]
    found = _reconcile.foreign_fields(live, desired, leaves=True)
    assert [f["path"] for f in found] == ["spec.env[name=AWS_ACCESS_KEY_ID].value", "spec.env[name=OLD]"]
    assert _reconcile.removal_patch(live, found) == [
        {"op": "test", "path": "/spec/env/1", "value": {"name": "OLD", "value": "x"}},
        {"op": "remove", "path": "/spec/env/1"},
        {"op": "test", "path": "/spec/env/0/value", "value": "AKIA"}, {"op": "remove", "path": "/spec/env/0/value"}]
