"""Two clusters at once, through an inventory whose hosts are clusters (each with its own kubeconfig in ovms_k8s_auth):
deploy.yml deploys to both, drift.yml finds an edit made in one of them and reports it under that cluster only (its
own report and the fleet summary), undeploy.yml removes everything from both. Two real control planes (the second
started here), with Ansible's forks running both clusters at once."""
from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
import yaml
from kubernetes import client, config
from kubernetes.client.rest import ApiException

from ansible_runner import run_playbook
from conftest import wait_for
from localcluster import cluster as localcluster
from test_foreign_fields import kubectl

ROOT = Path(__file__).resolve().parents[2]
PLAYBOOKS = ROOT / "playbooks"


@pytest.fixture(scope="module")
def second_cluster(local_cluster, tmp_path_factory):
    """A second local control plane next to the session's (which stays the default cluster, K8S_AUTH_KUBECONFIG), in
    another address slot: its pods have addresses of their own, answered by a stand-in of its own."""
    from localcluster import podnet

    if local_cluster is None:
        pytest.skip("needs the local control plane (a second one is started next to it)")
    run_dir = tmp_path_factory.mktemp("cluster-west")
    c = localcluster.up(run_dir)
    try:
        try:
            podnet.up(c.run_dir, {"alpha": {"mode": "available"}, "beta": {"mode": "available"}})
        except podnet.PodnetUnavailable as exc:
            pytest.skip("cannot create the second cluster's pod network namespace: %s" % exc)
        yield c
    finally:
        localcluster.down(run_dir)


def results_by_host(out, name_part):
    """{host: result} of the first task whose name contains name_part."""
    for play in out["plays"]:
        for task in play["tasks"]:
            if name_part in task["task"]["name"]:
                return task["hosts"]
    raise AssertionError("no task named like %r ran" % name_part)


def failures(out):
    return [(host, t["task"]["name"], r.get("msg")) for p in out["plays"] for t in p["tasks"]
            for host, r in t["hosts"].items() if r.get("failed") and not r.get("ignore_errors")]


def server(name, namespace):
    return {"apiVersion": "intel.com/v1alpha1", "kind": "ModelServer", "metadata": {"name": name, "namespace": namespace},
            "spec": {"models_settings": {"model_name": name, "model_path": "gs://bucket/%s" % name}}}


def test_deploy_drift_undeploy_over_two_clusters(local_cluster, second_cluster, kubeconfig, tmp_path, standin):
    east_kc, west_kc = Path(kubeconfig), second_cluster.kubeconfig
    apis = {"east": config.new_client_from_config(config_file=str(east_kc)),
            "west": config.new_client_from_config(config_file=str(west_kc))}
    namespace = "mc-%s" % uuid.uuid4().hex[:8]
    servers = [server("alpha", namespace), server("beta", namespace)]
    inventory = tmp_path / "clusters.yml"
    # The session's cluster is also the environment's default (K8S_AUTH_KUBECONFIG): west must reach its own cluster
    # through its host variables alone. The servers are a group variable: every cluster gets the same list.
    inventory.write_text(yaml.safe_dump({"all": {"children": {"clusters": {
        "vars": {"ovms_modelservers": servers, "ovms_namespaces": [namespace]},
        "hosts": {"east": {"ovms_k8s_auth": {"kubeconfig": str(east_kc)}},
                  "west": {"ovms_k8s_auth": {"kubeconfig": str(west_kc), "context": "ovms-local"}}}}}}}))
    cli = ["-i", str(inventory), "-e", "ovms_clusters=clusters", "--forks", "2"]

    # deploy: both clusters, each server applied, its rollout waited for (KWOK makes the pods Ready) and its model
    # verified through each cluster's own service proxy, answered by each cluster's own stand-in
    standin({"alpha": {"mode": "available"}, "beta": {"mode": "available"}})
    out, _ = run_playbook(None, east_kc, tmp_path, path=PLAYBOOKS / "deploy.yml",
                          extra_vars={"modelserver_wait_timeout": 120}, extra_args=cli)
    assert not failures(out), failures(out)
    reports = results_by_host(out, "Report the fleet")
    for host in ("east", "west"):
        assert reports[host]["msg"] == ["2/2 ready, 0 failed",
                                        "%s/alpha: ready; models AVAILABLE: alpha" % namespace,
                                        "%s/beta: ready; models AVAILABLE: beta" % namespace], (host, reports[host]["msg"])
    assert sorted(out["stats"]) == ["east", "west"], "the play ran on the clusters only, not on localhost"
    for name, api in apis.items():
        apps = client.AppsV1Api(api)
        deployments = {d.metadata.name: d for d in apps.list_namespaced_deployment(namespace).items}
        assert sorted(deployments) == ["alpha-ovms", "beta-ovms"], name
        assert all(d.status.ready_replicas == 1 for d in deployments.values()), name
    # each cluster is its own API server: the same names, different objects
    uids = [client.AppsV1Api(api).read_namespaced_deployment("alpha-ovms", namespace).metadata.uid
            for api in apis.values()]
    assert uids[0] != uids[1]

    # an edit in west only, made by another client (kubectl set env: a field only kubectl-set owns)
    kubectl(west_kc, "-n", namespace, "set", "env", "deployment/beta-ovms", "EDITED_IN_WEST=1")
    reports = tmp_path / "reports"
    out, _ = run_playbook(None, east_kc, tmp_path, path=PLAYBOOKS / "drift.yml",
                          extra_vars={"drift_report_path": str(reports), "fail_on_drift": True}, extra_args=cli)
    failed = failures(out)
    assert [(host, task) for host, task, _ in failed] == [
        ("west", "Fail when something could not be checked, or on drift with fail_on_drift")], failed
    assert failed[0][2].startswith("drift: 2 model servers, 1 drifted; ")

    east = json.loads((reports / "clusters" / "east.json").read_text())
    west = json.loads((reports / "clusters" / "west.json").read_text())
    assert (east["drifted_servers"], east["errors"]) == (0, []) and len(east["servers"]) == 2
    assert [s["server"] for s in west["servers"] if not s["in_sync"]] == ["%s/beta" % namespace]
    [edited] = [o for s in west["servers"] for o in s["objects"] if o["status"] != "in sync"]
    assert (edited["kind"], edited["status"]) == ("Deployment", "drifted")
    assert any("EDITED_IN_WEST" in json.dumps(c) for c in edited["changes"])

    summary = json.loads((reports / "drift.json").read_text())
    assert summary["summary"].startswith("drift over 2 clusters: 4 model servers, 1 drifted (west: 1); ")
    assert [(c["cluster"], c["status"]) for c in summary["clusters"]] == [("east", "in sync"), ("west", "DRIFT")]
    assert [(s["cluster"], s["server"]) for s in summary["servers"] if not s["in_sync"]] == [
        ("west", "%s/beta" % namespace)]
    md = (reports / "drift.md").read_text()
    east_md, west_md = md.split("## Cluster east: in sync")[1].split("## Cluster west: DRIFT")
    assert "EDITED_IN_WEST" not in east_md and "DRIFT" not in east_md
    assert "### %s/beta: DRIFT" % namespace in west_md and "EDITED_IN_WEST" in west_md
    assert "EDITED_IN_WEST" in (reports / "clusters" / "west.md").read_text()
    assert "EDITED_IN_WEST" not in (reports / "clusters" / "east.md").read_text()
    # check mode changed nothing: the edit is still there
    dep = client.AppsV1Api(apis["west"]).read_namespaced_deployment("beta-ovms", namespace)
    assert "EDITED_IN_WEST" in [e.name for e in dep.spec.template.spec.containers[0].env or []]

    # undeploy: everything the collection made, from both clusters
    out, _ = run_playbook(None, east_kc, tmp_path, path=PLAYBOOKS / "undeploy.yml", extra_args=cli)
    assert not failures(out), failures(out)
    deleted = results_by_host(out, "Delete each model server")
    assert sorted(deleted) == ["east", "west"] and all(r["changed"] for r in deleted.values())
    for name, api in apis.items():
        wait_for(lambda api=api: not client.AppsV1Api(api).list_namespaced_deployment(namespace).items, 60,
                 "the deployments in %s to be gone" % name)
        left = [s.metadata.name for s in client.CoreV1Api(api).list_namespaced_service(namespace).items]
        assert left == [], (name, left)
    for api in apis.values():
        try:
            client.CoreV1Api(api).delete_namespace(namespace)
        except ApiException as exc:
            if exc.status != 404:
                raise


def test_a_cluster_that_cannot_be_reached_is_not_checked_and_the_others_are(local_cluster, kubeconfig, tmp_path):
    """A cluster whose API server does not answer: its servers are NOT CHECKED in its report and in the summary;
    the other cluster is still checked and reported clean."""
    namespace = "mc-%s" % uuid.uuid4().hex[:8]
    servers = [server("gamma", namespace)]
    inventory = tmp_path / "clusters.yml"
    down = localcluster.free_port()  # nothing listens there
    inventory.write_text(yaml.safe_dump({"all": {"children": {"clusters": {
        "vars": {"ovms_modelservers": servers},
        "hosts": {"up": {"ovms_k8s_auth": {"kubeconfig": str(kubeconfig)}},
                  "gone": {"ovms_k8s_auth": {"host": "https://127.0.0.1:%d" % down, "api_key": "none",
                                             "validate_certs": False}}}}}}}))
    cli = ["-i", str(inventory), "-e", "ovms_clusters=clusters", "--forks", "2"]
    out, _ = run_playbook(None, kubeconfig, tmp_path, path=PLAYBOOKS / "deploy.yml",
                          extra_vars={"modelserver_verify": False, "modelserver_wait_timeout": 120},
                          extra_args=cli + ["--limit", "up"])
    assert not failures(out), failures(out)
    reports = tmp_path / "reports"
    out, _ = run_playbook(None, kubeconfig, tmp_path, path=PLAYBOOKS / "drift.yml",
                          extra_vars={"drift_report_path": str(reports)}, extra_args=cli)
    failed = failures(out)  # the fleet check's own failure (ignored, reported) and the final one
    assert {h for h, _, _ in failed} == {"gone"}, failed
    assert ("gone", "Fail when something could not be checked, or on drift with fail_on_drift") in [
        (h, t) for h, t, _ in failed], failed
    summary = json.loads((reports / "drift.json").read_text())
    # in inventory order (yaml.safe_dump sorted the hosts: gone, up)
    assert [(c["cluster"], c["status"]) for c in summary["clusters"]] == [("gone", "NOT CHECKED"), ("up", "in sync")]
    assert "NOT CHECKED in gone" in summary["summary"]
    assert [e["cluster"] for e in summary["errors"]] == ["gone"]
    assert "did not answer" in summary["errors"][0]["error"]
    gone = json.loads((reports / "clusters" / "gone.json").read_text())
    assert gone["servers"] == [] and gone["errors"]
    client.CoreV1Api(config.new_client_from_config(config_file=str(kubeconfig))).delete_namespace(namespace)
