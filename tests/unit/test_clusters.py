"""Many clusters: the fleet drift summary (per cluster, per server, per object), and the playbooks' contract with an
inventory whose hosts are clusters (ovms_clusters, ovms_k8s_auth through module_defaults, per-host server lists)."""
import json
import os
import subprocess
import sys
from pathlib import Path

import yaml

from ansible_collections.kubernetes.core.plugins.module_utils.args_common import AUTH_ARG_SPEC
from ansible_collections.openvino.ovms.plugins.filter.drift_report import drift_fleet
from ansible_collections.openvino.ovms.plugins.module_utils import _drift, _render

import collection_path

ROOT = Path(__file__).resolve().parents[2]
PLAYBOOKS = ROOT / "playbooks"
EXAMPLE_INVENTORY = PLAYBOOKS / "inventory" / "clusters.example.yml"
CLUSTER_PLAYBOOKS = ("deploy.yml", "undeploy.yml", "drift.yml")


def checked(name, namespace, *actions, changes=None):
    objects = [{"kind": kind, "name": "%s-ovms" % name, "action": action} for kind, action in actions]
    if changes:
        objects[0]["changes"] = changes
    return {"name": name, "namespace": namespace, "objects": objects}


def two_clusters():
    edited = [{"path": "spec.template.spec.containers[0].args[5]", "before": "--log_level=TRACE",
               "after": "--log_level=INFO"}]
    east = _drift.report([checked("a", "ovms", ("Deployment", "unchanged"), ("Service", "unchanged")),
                          checked("b", "ovms", ("Deployment", "unchanged"), ("Service", "unchanged"))])
    west = _drift.report([checked("a", "ovms", ("Deployment", "updated"), ("Service", "unchanged"), changes=edited),
                          checked("b", "ovms", ("Deployment", "unchanged"), ("Service", "created"))])
    return _drift.fleet([("east", east), ("west", west)])


def test_fleet_summary_names_the_cluster_of_each_drifted_server():
    fleet = two_clusters()
    assert fleet["summary"] == ("drift over 2 clusters: 4 model servers, 2 drifted (west: 2); objects: "
                                "6 in sync, 1 drifted, 1 missing, 0 unexpected extra")
    assert (fleet["drifted_servers"], fleet["drifted_clusters"], fleet["errors"]) == (2, 1, [])
    assert [(c["cluster"], c["status"], c["servers"], c["drifted_servers"]) for c in fleet["clusters"]] == [
        ("east", "in sync", 2, 0), ("west", "DRIFT", 2, 2)]
    assert fleet["clusters"][1]["report"] == {"json": "clusters/west.json", "markdown": "clusters/west.md"}
    # per server and per object, each server naming its cluster: the same server name in two clusters stays apart
    assert [(s["cluster"], s["server"], s["in_sync"]) for s in fleet["servers"]] == [
        ("east", "ovms/a", True), ("east", "ovms/b", True), ("west", "ovms/a", False), ("west", "ovms/b", False)]
    west_a = fleet["servers"][2]["objects"][0]
    assert west_a["status"] == "drifted" and west_a["changes"][0]["before"] == "--log_level=TRACE"
    json.dumps(fleet)


def test_fleet_markdown_puts_each_drift_under_its_own_cluster():
    md = _drift.markdown(two_clusters())
    east, west = md.split("## Cluster east: in sync")[1].split("## Cluster west: DRIFT")
    assert "| east | in sync | 2 | 0 | 0 | 4 | 0 | 0 | 0 | [clusters/east.md](clusters/east.md) |" in md
    assert "| west | DRIFT | 2 | 2 | 0 | 2 | 1 | 1 | 0 | [clusters/west.md](clusters/west.md) |" in md
    assert "DRIFT" not in east and "--log_level" not in east and "### ovms/a: in sync" in east
    assert "### ovms/a: DRIFT" in west and "| spec.template.spec.containers[0].args[5] | `--log_level=TRACE` | " \
        "`--log_level=INFO` |" in west and "| Service b-ovms | missing |" in west


def test_a_cluster_without_a_report_is_not_checked_never_clean():
    east = _drift.report([checked("a", "ovms", ("Deployment", "unchanged"))])
    fleet = _drift.fleet([("east", east), ("west", None)])
    assert fleet["summary"].startswith("drift over 2 clusters: 1 model servers, 0 drifted, NOT CHECKED in west ")
    assert fleet["errors"] == [{"cluster": "west", "server": "every declared server", "error": _drift.NO_REPORT}]
    assert fleet["clusters"][1]["status"] == "NOT CHECKED" and fleet["clusters"][1]["report"] is None
    assert "| west | NOT CHECKED | 0 | 0 | 1 | 0 | 0 | 0 | 0 | none |" in _drift.markdown(fleet)


def test_one_cluster_summary_keeps_the_single_report_keys():
    """drift.json of a run on one cluster (localhost) is the fleet summary: every key a single report had is there,
    with the same values."""
    single = _drift.report([checked("a", "ovms", ("Deployment", "updated"))])
    fleet = _drift.fleet([("localhost", single)])
    for key in ("drifted_servers", "errors", "counts"):
        assert fleet[key] == single[key]
    assert [dict((k, v) for k, v in s.items() if k != "cluster") for s in fleet["servers"]] == single["servers"]


def test_a_failed_namespace_search_is_reported_as_not_checked():
    scans = [{"item": "ovms", "modelservers": []}, {"item": "ml", "failed": True, "msg": "namespaces \"ml\" is forbidden"}]
    rep = _drift.report([checked("a", "ovms", ("Deployment", "unchanged"))], scans)
    assert rep["errors"] == [{"server": "namespace ml (search for undeclared model servers)",
                              "error": "namespaces \"ml\" is forbidden"}]
    assert "1 NOT CHECKED" in rep["summary"]


def test_drift_fleet_filter_reads_each_hosts_fact():
    east = _drift.report([checked("a", "ovms", ("Deployment", "unchanged"))])
    fleet = drift_fleet(["east", "gone"], {"east": {"drift_report": east}, "gone": {"other": 1}})
    assert [c["status"] for c in fleet["clusters"]] == ["in sync", "NOT CHECKED"]


# --- the playbooks and an inventory of clusters ------------------------------------------------------------------
def plays(name):
    return yaml.safe_load((PLAYBOOKS / name).read_text())


def test_each_playbook_runs_on_the_chosen_clusters_with_their_own_connection():
    for name in CLUSTER_PLAYBOOKS:
        [play] = plays(name)
        assert play["hosts"] == "{{ ovms_clusters | default('localhost') }}", name
        # one action group: openvino.ovms's extends kubernetes.core.k8s's (meta/runtime.yml), so it reaches both
        assert play["module_defaults"] == {"group/openvino.ovms.ovms": "{{ ovms_k8s_auth | default({}) }}"}, name
    runtime = yaml.safe_load((ROOT / "meta" / "runtime.yml").read_text())
    assert {"metadata": {"extend_group": ["kubernetes.core.k8s"]}} in runtime["action_groups"]["ovms"]


def test_no_play_variable_hides_a_clusters_own():
    """Play vars (and vars_files) win over inventory variables: a variable a cluster host may set must not be
    defined at play level, or every cluster would silently get the play's value."""
    per_cluster = {"ovms_k8s_auth", "ovms_modelservers", "ovms_namespaces", "ovms_create_namespaces", "fail_on_drift",
                   "drift_report_path", "drift_ignore_differences"}
    for name in CLUSTER_PLAYBOOKS:
        [play] = plays(name)
        defined = set(play.get("vars") or {})
        for f in play.get("vars_files") or []:
            defined |= set(yaml.safe_load((PLAYBOOKS / f).read_text()))
        assert not defined & per_cluster, "%s defines at play level: %s" % (name, sorted(defined & per_cluster))


def test_ovms_k8s_auth_accepts_exactly_kubernetes_cores_connection_options():
    spec = yaml.safe_load((PLAYBOOKS / "vars" / "servers.yml").read_text())["ovms_playbook_inputs"]["ovms_k8s_auth"]
    options = spec["options"]
    assert set(options) == set(AUTH_ARG_SPEC)
    for name, theirs in AUTH_ARG_SPEC.items():
        assert options[name].get("type", "str") == theirs.get("type", "str"), name
        assert options[name].get("aliases", []) == theirs.get("aliases", []), name
        assert bool(options[name].get("no_log")) == bool(theirs.get("no_log")) or name == "kubeconfig", name


def test_example_inventory_gives_every_cluster_a_connection_and_servers():
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(collection_path.ensure()), ANSIBLE_NOCOLOR="1")
    run = subprocess.run([str(Path(sys.executable).parent / "ansible-inventory"), "-i", str(EXAMPLE_INVENTORY),
                          "--list", "--export"], env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    inventory = json.loads(run.stdout)
    hostvars = inventory["_meta"]["hostvars"]
    groups = {g: inventory[g].get("vars", {}) for g in inventory if g != "_meta"}
    assert sorted(hostvars) == ["prod-eu", "prod-us", "staging-eu"]
    for host, hv in hostvars.items():
        merged = dict(groups.get("production", {}) if host.startswith("prod") else {}, **hv)
        assert set(merged["ovms_k8s_auth"]) <= set(AUTH_ARG_SPEC), host
        assert merged["ovms_modelservers"], host
        assert "ansible_connection" not in merged and "ansible_host" not in merged, host


def test_example_inventory_servers_are_valid_and_render():
    data = yaml.safe_load(EXAMPLE_INVENTORY.read_text())["all"]["children"]
    servers = data["production"]["vars"]["ovms_modelservers"] + data["staging"]["hosts"]["staging-eu"]["ovms_modelservers"]
    for ms in servers:
        kinds = [m["kind"] for m in _render.manifests_for(definition=ms)[0]]
        assert "Deployment" in kinds and "Service" in kinds


def test_every_task_of_deploy_reaches_its_hosts_own_cluster(tmp_path):
    """No cluster needed: a kubeconfig without contexts, each host naming a context of its own. Each host's
    kubernetes.core.k8s task (namespaces) and the role's module task fail naming that host's context - neither the
    environment's kubeconfig nor another host's. (The role's own modelserver_kubeconfig/_context must add to the
    play's module_defaults, not remove them: an option passed as omit drops its module_defaults value.)"""
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text("apiVersion: v1\nkind: Config\nclusters: []\nusers: []\ncontexts: []\n")
    server = {"apiVersion": "intel.com/v1alpha1", "kind": "ModelServer", "metadata": {"name": "a", "namespace": "n"},
              "spec": {"models_settings": {"model_name": "a", "model_path": "gs://b/a"}}}
    inventory = tmp_path / "clusters.yml"
    inventory.write_text(yaml.safe_dump({"all": {"children": {"clusters": {
        "vars": {"ovms_modelservers": [server]},
        "hosts": dict((h, {"ovms_k8s_auth": {"kubeconfig": str(kubeconfig), "context": "ctx-of-%s" % h}})
                      for h in ("c1", "c2"))}}}}))
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(collection_path.ensure()), ANSIBLE_NOCOLOR="1",
               ANSIBLE_STDOUT_CALLBACK="ansible.posix.json", K8S_AUTH_KUBECONFIG=str(tmp_path / "not-this-one"))
    for create_namespaces, task in (("true", "Create the namespaces"), ("false", "Apply the model server")):
        run = subprocess.run([str(Path(sys.executable).parent / "ansible-playbook"), "-i", str(inventory),
                              str(PLAYBOOKS / "deploy.yml"), "-e", "ovms_clusters=clusters",
                              "-e", "ovms_create_namespaces=%s" % create_namespaces],
                             env=env, capture_output=True, text=True, timeout=300)
        out = json.loads(run.stdout)
        [hosts] = [t["hosts"] for p in out["plays"] for t in p["tasks"] if task in t["task"]["name"]]
        assert sorted(hosts) == ["c1", "c2"]
        for host, result in hosts.items():
            text = json.dumps(result)
            assert result["failed"] and "ctx-of-%s" % host in text, (task, host, text[:500])
            assert "not-this-one" not in text and "ctx-of-%s" % ({"c1": "c2", "c2": "c1"}[host]) not in text
