"""playbooks/migrate.yml against the real API server, with the operator played honestly (operator_emulation.py):
three servers (single-model, multi-model with the user's ConfigMap, S3 with credentials and a Recreate strategy)
made by the emulated operator, then migrated while

- a watch on each Service's EndpointSlices records the number of ready endpoints after every change (the test
  fails on any moment with none, once there was one),
- a thread keeps asking /v2/models/<name>/ready of each server through the API server's service proxy (answered by
  the OVMS stand-in; a Service without ready endpoint answers 503),
- a watch on the pods records which pods come and go.

Once with a plainly installed operator (check mode first, then the run, then a second run with nothing to do), once
with an OLM-installed one (the run killed in the middle of the second server, then finished by a re-run).
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
import uuid
from pathlib import Path

import pytest
import yaml
from kubernetes import client, watch
from kubernetes.client.rest import ApiException

import operator_emulation as emu
from ansible_runner import ROOT, playbook_command, run_playbook, task_results
from conftest import wait_for

PLAYBOOK = ROOT / "playbooks" / "migrate.yml"
KEY_ID, SECRET_KEY = "AKIA-MIGRATE-KEY-ID-4e1d", "s3-SECRET-migrate-value-9b7c"
MODELS = {"resnet": {"mode": "available"}, "face": {"mode": "available"}, "text": {"mode": "available"},
          "s3model": {"mode": "available"}}


def servers(ns):
    """The three ModelServers as a user wrote them for the operator (the API server adds the CRD's defaults)."""
    ms = {"apiVersion": "intel.com/v1alpha1", "kind": "ModelServer"}
    return [
        dict(ms, metadata={"name": "resnet", "namespace": ns}, spec={
            # no image_name: the CRD's default (registry.connect.redhat.com/...:latest)
            "deployment_parameters": {"replicas": 2},
            "models_settings": {"model_name": "resnet", "model_path": "gs://ovms-public-eu/resnet50-binary"}}),
        dict(ms, metadata={"name": "vision-ovms", "namespace": ns}, spec={
            "image_name": "openvino/model_server:2025.4",
            "models_settings": {"single_model_mode": False, "config_configmap_name": "vision-config",
                                "config_path": "/config/config.json"},
            "server_settings": {"file_system_poll_wait_seconds": 1, "log_level": "INFO"}}),
        dict(ms, metadata={"name": "s3-model", "namespace": ns}, spec={
            "image_name": "openvino/model_server:2026.3",
            "deployment_parameters": {"replicas": 1, "update_strategy": {"type": "Recreate"}},
            "models_settings": {"model_name": "s3model", "model_path": "s3://models/s3model"},
            "models_repository": {"storage_type": "S3", "aws_access_key_id": KEY_ID,
                                  "aws_secret_access_key": SECRET_KEY, "aws_region": "eu-west-1",
                                  "s3_compat_api_endpoint": "http://minio.storage:9000"}}),
    ]


SERVICES = {"resnet": ("resnet-ovms", "resnet"), "vision-ovms": ("vision-ovms", "face"),
            "s3-model": ("s3-model-ovms", "s3model")}


@pytest.fixture(scope="module")
def crds(api_client):
    emu.install_crds(api_client, [emu.modelserver_crd()] + emu.olm_crds())
    yield


class Monitor:
    """Endpoints, requests and pods of the servers of one namespace, recorded from the moment it starts."""

    def __init__(self, api_client, ns):
        self.api_client, self.ns = api_client, ns
        self.core = client.CoreV1Api(api_client)
        self.discovery = client.DiscoveryV1Api(api_client)
        self.stop_event = threading.Event()
        self.timeline = {s: [] for s in SERVICES}      # (time, ready endpoints, pod names)
        self.requests = {s: [] for s in SERVICES}      # (time, HTTP status)
        self.pods = []                                  # (time, event, pod name, app label)
        self.watches, self.threads = [], []

    def _ready(self, slices):
        ready = set()
        for endpoints in slices.values():
            for ep in endpoints:
                if ep.conditions is None or ep.conditions.ready is not False:
                    ready.add(ep.target_ref.name if ep.target_ref else ",".join(ep.addresses))
        return ready

    def _watch_endpoints(self, server, service):
        slices = {}
        w = watch.Watch()
        self.watches.append(w)
        for event in w.stream(self.discovery.list_namespaced_endpoint_slice, self.ns,
                              label_selector="kubernetes.io/service-name=%s" % service, timeout_seconds=900):
            obj = event["object"]
            if event["type"] == "DELETED":
                slices.pop(obj.metadata.name, None)
            else:
                slices[obj.metadata.name] = obj.endpoints or []
            ready = self._ready(slices)
            self.timeline[server].append((time.time(), len(ready), sorted(ready)))
            if self.stop_event.is_set():
                break

    def _watch_pods(self):
        w = watch.Watch()
        self.watches.append(w)
        for event in w.stream(self.core.list_namespaced_pod, self.ns, timeout_seconds=900):
            pod = event["object"]
            ready = any(c.type == "Ready" and c.status == "True" for c in (pod.status.conditions or []))
            self.pods.append((time.time(), event["type"], pod.metadata.name, (pod.metadata.labels or {}).get("app"),
                              ready, bool(pod.metadata.deletion_timestamp)))
            if self.stop_event.is_set():
                break

    def _ask(self):
        while not self.stop_event.is_set():
            for server, (service, model) in SERVICES.items():
                try:
                    self.core.connect_get_namespaced_service_proxy_with_path(
                        "%s:rest" % service, self.ns, "v2/models/%s/ready" % model)
                    status = 200
                except ApiException as exc:
                    status = exc.status
                self.requests[server].append((time.time(), status))
            self.stop_event.wait(0.02)

    def start(self):
        targets = [(self._watch_endpoints, (s, svc)) for s, (svc, _m) in SERVICES.items()]
        targets += [(self._watch_pods, ()), (self._ask, ())]
        for target, args in targets:
            t = threading.Thread(target=target, args=args, daemon=True)
            t.start()
            self.threads.append(t)
        # every server has a ready endpoint before the migration starts
        wait_for(lambda: all(tl and tl[-1][1] > 0 for tl in self.timeline.values()), 60, "ready endpoints")
        wait_for(lambda: all(r and r[-1][1] == 200 for r in self.requests.values()), 60, "answers through the proxy")
        self.started = time.time()

    def stop(self):
        self.stop_event.set()
        for w in self.watches:
            w.stop()
        self.stopped = time.time()

    def gaps(self, server):
        """[(start, end)] of the moments without a ready endpoint, after the first one was there."""
        out, since, seen = [], None, False
        for t, n, _names in self.timeline[server]:
            if n > 0:
                seen = True
                if since is not None:
                    out.append((since, t))
                    since = None
            elif seen and since is None:
                since = t
        if since is not None:
            out.append((since, self.stopped))
        return out

    def failed_requests(self, server):
        return [(t, s) for t, s in self.requests[server] if t >= self.started and s != 200]

    def report(self, server):
        """What the test saw for one server, in time order from the start of the migration."""
        service, model = SERVICES[server]
        events = [(t, "ready endpoints: %d (%s)" % (n, " ".join(names))) for t, n, names in self.timeline[server]]
        events += [(t, "pod %s %s%s%s" % (kind, name, ", ready" if ready else "", ", terminating" if deleting else ""))
                   for t, kind, name, label, ready, deleting in self.pods if label == service]
        lines = ["%s (Service %s):" % (server, service)]
        last = self.started
        for t, what in sorted(events):
            if t < self.started:
                continue
            asked = [s for r, s in self.requests[server] if last <= r < t]
            if asked:
                lines.append("            %d requests to /v2/models/%s/ready through the service proxy: %s" % (
                    len(asked), model, ", ".join("%d x %s" % (asked.count(c), c) for c in sorted(set(asked)))))
            lines.append("  %+7.2f s  %s" % (t - self.started, what))
            last = t
        asked = [s for r, s in self.requests[server] if last <= r]
        lines.append("            %d requests to /v2/models/%s/ready until the end: %s" % (
            len(asked), model, ", ".join("%d x %s" % (asked.count(c), c) for c in sorted(set(asked)))))
        return "\n".join(lines)


def make_world(api_client, olm):
    """A namespace for the servers, one for the operator, the operator's manager (plain or OLM-owned), the user's
    ConfigMap, the three ModelServers - installed by the running emulated operator."""
    core, apps, custom = client.CoreV1Api(api_client), client.AppsV1Api(api_client), client.CustomObjectsApi(api_client)
    tag = uuid.uuid4().hex[:6]
    ns, op_ns = "mig-%s" % tag, "operators-%s" % tag
    for name in (ns, op_ns):
        core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
        wait_for(lambda: core.read_namespaced_service_account("default", name), 30, "the default ServiceAccount")
    operator = emu.EmulatedOperator(api_client, op_ns, [ns], olm=olm)
    if olm:
        made = custom.create_namespaced_custom_object("operators.coreos.com", "v1alpha1", op_ns,
                                                      "clusterserviceversions", emu.csv("openvino-operator.v1.2.0"))
        sub = custom.create_namespaced_custom_object("operators.coreos.com", "v1alpha1", op_ns, "subscriptions",
                                                     emu.subscription("ovms-operator", "openvino-operator.v1.2.0"))
        custom.patch_namespaced_custom_object_status("operators.coreos.com", "v1alpha1", op_ns, "subscriptions",
                                                     sub["metadata"]["name"], {"status": {
                                                         "installedCSV": "openvino-operator.v1.2.0",
                                                         "currentCSV": "openvino-operator.v1.2.0",
                                                         "state": "AtLatestKnown"}})
        apps.create_namespaced_deployment(op_ns, operator.manager_deployment(made["metadata"]["uid"],
                                                                             "openvino-operator.v1.2.0"))
    else:
        apps.create_namespaced_deployment(op_ns, operator.manager_deployment())
    wait_for(lambda: core.list_namespaced_pod(op_ns, label_selector="control-plane=controller-manager").items, 60,
             "the operator's pod")
    core.create_namespaced_config_map(ns, {"metadata": {"name": "vision-config"}, "data": {"config.json": json.dumps(
        {"model_config_list": [{"config": {"name": "face", "base_path": "/models/face"}},
                               {"config": {"name": "text", "base_path": "/models/text"}}]})}})
    operator.start()
    for cr in servers(ns):
        custom.create_namespaced_custom_object("intel.com", "v1alpha1", ns, "modelservers", cr)
    # installed: every release record there and every ModelServer carries the finalizer
    wait_for(lambda: len([s for s in core.list_namespaced_secret(ns).items if s.type == "helm.sh/release.v1"]) == 3 and
             all(emu.FINALIZER in (m["metadata"].get("finalizers") or []) for m in custom.list_namespaced_custom_object(
                 "intel.com", "v1alpha1", ns, "modelservers")["items"]), 60, "the operator to install the releases")
    wait_for(lambda: all(apps.read_namespaced_deployment(s[0], ns).status.ready_replicas ==
                         apps.read_namespaced_deployment(s[0], ns).spec.replicas for s in SERVICES.values()), 60,
             "the operator-made pods to be ready")
    return ns, op_ns, operator


def snapshot(api_client, ns):
    """uid of every object taken over, by (kind, name)."""
    core, apps = client.CoreV1Api(api_client), client.AppsV1Api(api_client)
    out = {}
    for server, (full, _m) in SERVICES.items():
        out[("Deployment", full)] = apps.read_namespaced_deployment(full, ns)
        out[("Service", full)] = core.read_namespaced_service(full, ns)
    out[("Secret", "s3-model-ovms-aws-secret")] = core.read_namespaced_secret("s3-model-ovms-aws-secret", ns)
    return out


def migrate(kubeconfig, tmp_path, ns, op_ns, check=False, **extra):
    extra_vars = {"ovms_migrate_namespaces": [ns], "ovms_migrate_vars_file": str(tmp_path / "ovms-migrated.yml"),
                  "ovms_migrate_operator_namespace": op_ns, "ovms_migrate_wait_timeout": 120}
    extra_vars.update(extra)
    out, raw = run_playbook(None, kubeconfig, tmp_path, path=PLAYBOOK, check=check, extra_vars=extra_vars)
    return out, raw


def failures(out):
    return [(t["task"]["name"], t["hosts"]["localhost"].get("msg")) for p in out["plays"] for t in p["tasks"]
            if t["hosts"]["localhost"].get("failed") and not t["hosts"]["localhost"].get("ignore_errors")]


def assert_migrated(api_client, ns, before, monitor, operator):
    core, apps, custom = client.CoreV1Api(api_client), client.AppsV1Api(api_client), client.CustomObjectsApi(api_client)
    assert custom.list_namespaced_custom_object("intel.com", "v1alpha1", ns, "modelservers")["items"] == []
    assert [s.metadata.name for s in core.list_namespaced_secret(ns).items if s.type == "helm.sh/release.v1"] == []
    after = snapshot(api_client, ns)
    for key, obj in after.items():
        assert obj.metadata.uid == before[key].metadata.uid, "%s %s was re-created, not taken over" % key
        assert obj.metadata.labels["app.kubernetes.io/managed-by"] == "openvino.ovms", key
        assert not obj.metadata.owner_references, (key, obj.metadata.owner_references)
        assert emu.CHART_LABEL not in obj.metadata.labels, key
    for server, (full, _m) in SERVICES.items():
        dep = after[("Deployment", full)]
        assert not dep.spec.paused
        assert dep.status.ready_replicas == dep.spec.replicas and dep.status.updated_replicas == dep.spec.replicas
        assert monitor.gaps(server) == [], (server, monitor.report(server))
        assert monitor.failed_requests(server) == [], (server, monitor.report(server))
        assert len(monitor.requests[server]) > 0
    # the S3 server: the key ID only through the Secret now; its own strategy (Recreate) back after the move
    s3 = after[("Deployment", "s3-model-ovms")]
    env = {e.name: e for e in s3.spec.template.spec.containers[0].env}
    assert env["AWS_ACCESS_KEY_ID"].value is None and env["AWS_ACCESS_KEY_ID"].value_from.secret_key_ref.key == \
        "access_key_id"
    assert s3.spec.strategy.type == "Recreate"
    assert operator.errors == []
    assert not [w for _t, w in operator.log if w.startswith(("uninstalled", "re-added", "re-created"))], operator.log


def test_plain_operator_check_mode_then_migration_then_nothing_to_do(api_client, crds, kubeconfig, tmp_path,
                                                                      standin, capsys):
    standin(MODELS)
    ns, op_ns, operator = make_world(api_client, olm=False)
    core, apps, custom = client.CoreV1Api(api_client), client.AppsV1Api(api_client), client.CustomObjectsApi(api_client)
    try:
        # --- check mode: the plan, and nothing changes in the cluster
        before = snapshot(api_client, ns)
        log_len = len(operator.log)
        out, raw = migrate(kubeconfig, tmp_path, ns, op_ns, check=True)
        assert failures(out) == []
        plan = task_results(out, "plan every server")[0]
        by_name = {s["name"]: s for s in plan["servers"]}
        assert sorted(by_name) == ["resnet", "s3-model", "vision-ovms"]
        for name, s in by_name.items():
            assert s["state"] == "to migrate" and s["pods_roll"] is True, s
            actions = {(o["kind"], o["name"]): o["action"] for o in s["objects"]}
            assert actions[("Deployment", SERVICES[name][0])] == "take over"
            assert actions[("Service", SERVICES[name][0])] == "take over"
            dep = next(o for o in s["objects"] if o["kind"] == "Deployment")
            paths = [c["path"] for c in dep["changes"]]
            assert "spec.template.spec.containers[name=ovms].args" in paths
            assert "metadata.labels.%s" % emu.CHART_LABEL in paths  # the operator's label goes
            assert any(p.startswith("metadata.ownerReferences") for p in paths)
            assert any(r.startswith("finalizer %s" % emu.FINALIZER) for r in s["remove"])
            assert any("propagationPolicy Orphan" in r for r in s["remove"])
            assert any("sh.helm.release.v1.%s.v1" % name in r for r in s["remove"])
        assert [d["difference"] for d in by_name["vision-ovms"]["differences"]][0] == "placeholder model path"
        assert "flags removed in OVMS 2026.3" in [d["difference"] for d in by_name["resnet"]["differences"]]
        assert "credentials only in Secrets" in [d["difference"] for d in by_name["s3-model"]["differences"]]
        s3_secret = next(o for o in by_name["s3-model"]["objects"] if o["kind"] == "Secret")
        assert {"path": "data.access_key_id", "before": None, "after": "********"} in s3_secret["changes"]
        assert KEY_ID not in raw and SECRET_KEY not in raw
        # nothing changed: the operator runs, the resources and their finalizers are there
        assert apps.read_namespaced_deployment(emu.MANAGER_NAME, op_ns).spec.replicas == 1
        assert len(custom.list_namespaced_custom_object("intel.com", "v1alpha1", ns, "modelservers")["items"]) == 3
        assert snapshot(api_client, ns)[("Deployment", "resnet-ovms")].metadata.resource_version == \
            before[("Deployment", "resnet-ovms")].metadata.resource_version
        operator.wait_passes()
        assert operator.log[log_len:] == []
        # the vars file: ready for a repository (no credential in it), the credentials apart (0600)
        vars_text = (tmp_path / "ovms-migrated.yml").read_text()
        creds = tmp_path / "ovms-migrated-credentials.yml"
        assert KEY_ID not in vars_text and SECRET_KEY not in vars_text
        assert oct(creds.stat().st_mode & 0o777) == "0o600"
        assert yaml.safe_load(creds.read_text())["ovms_credentials"]["%s/s3-model" % ns] == {
            "aws_access_key_id": KEY_ID, "aws_secret_access_key": SECRET_KEY}

        # --- the migration
        monitor = Monitor(api_client, ns)
        monitor.start()
        out, raw = migrate(kubeconfig, tmp_path, ns, op_ns)
        monitor.stop()
        assert failures(out) == [], failures(out)
        assert KEY_ID not in raw and SECRET_KEY not in raw
        assert apps.read_namespaced_deployment(emu.MANAGER_NAME, op_ns).spec.replicas == 0
        assert core.list_namespaced_pod(op_ns).items == []
        assert_migrated(api_client, ns, before, monitor, operator)
        with capsys.disabled():
            print("\n[migrate] plain operator: 3 servers migrated; seconds without a ready endpoint: %s" % {
                s: sum(b - a for a, b in monitor.gaps(s)) for s in SERVICES})
            print("[migrate] what the test saw for one server:\n" + monitor.report("s3-model"))
            print("[migrate] the emulated operator's log:\n  " + "\n  ".join(
                "%s" % w for _t, w in operator.log))

        # --- a second run: nothing to do
        out, raw = migrate(kubeconfig, tmp_path, ns, op_ns)
        assert failures(out) == []
        plan = task_results(out, "plan every server")[0]
        assert plan["pending"] == [] and plan["changed"] is False and plan["written"] == []
        assert sorted(s["state"] for s in plan["servers"]) == ["migrated"] * 3
        assert not [t for p in out["plays"] for t in p["tasks"] if t["hosts"]["localhost"].get("changed")]
        assert "nothing to do" in task_results(out, "Report")[0]["msg"]

        # --- the vars file deploys exactly what runs now (check mode: nothing would change)
        play = [{"hosts": "localhost", "gather_facts": False, "tasks": [
            {"name": "load", "ansible.builtin.include_vars": str(tmp_path / "ovms-migrated-credentials.yml")},
            {"name": "load servers", "ansible.builtin.include_vars": str(tmp_path / "ovms-migrated.yml")},
            {"name": "apply", "openvino.ovms.modelserver": {"servers": "{{ ovms_modelservers }}"}}]}]
        out, raw = run_playbook(play, kubeconfig, tmp_path, check=True)
        applied = task_results(out, "apply")[0]
        assert not applied.get("failed"), applied.get("msg")
        assert applied["changed"] is False, [r["objects"] for r in applied["results"]]
        assert not [w for w in applied["warnings"] if "would remove fields" in w], applied["warnings"]
    finally:
        operator.stop()
        core.delete_namespace(ns)
        core.delete_namespace(op_ns)


def test_olm_operator_interrupted_after_the_first_server_then_finished(api_client, crds, kubeconfig, tmp_path,
                                                                        standin, capsys):
    standin(MODELS)
    ns, op_ns, operator = make_world(api_client, olm=True)
    core, apps, custom = client.CoreV1Api(api_client), client.AppsV1Api(api_client), client.CustomObjectsApi(api_client)
    try:
        before = snapshot(api_client, ns)
        monitor = Monitor(api_client, ns)
        monitor.start()
        # killed once the second server's ModelServer is gone (the first server done, the second half-way)
        cmd, env = playbook_command(None, kubeconfig, tmp_path, path=PLAYBOOK, extra_vars={
            "ovms_migrate_namespaces": [ns], "ovms_migrate_vars_file": str(tmp_path / "ovms-migrated.yml"),
            "ovms_migrate_operator_namespace": op_ns, "ovms_migrate_wait_timeout": 120})
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)

        def second_gone():
            try:
                custom.get_namespaced_custom_object("intel.com", "v1alpha1", ns, "modelservers", "s3-model")
                return proc.poll() is not None
            except ApiException as exc:
                return exc.status == 404
        wait_for(second_gone, 240, "the second ModelServer to be deleted", interval=0.02)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        assert proc.returncode == -signal.SIGKILL, "the run ended by itself before it was killed"
        killed_at = time.time()
        first_done = not [s for s in core.list_namespaced_secret(ns).items
                          if s.metadata.name.startswith("sh.helm.release.v1.resnet.")]
        s3_dep = apps.read_namespaced_deployment("s3-model-ovms", ns)
        state_at_kill = "resnet done: %s; s3-model Deployment: ours %s, paused %s" % (
            first_done, (s3_dep.metadata.labels or {}).get("app.kubernetes.io/managed-by") == "openvino.ovms",
            bool(s3_dep.spec.paused))
        assert first_done
        # OLM did not bring the operator back: its Subscription and CSV are gone, and so is its manager
        assert custom.list_namespaced_custom_object("operators.coreos.com", "v1alpha1", op_ns, "subscriptions")[
            "items"] == []
        wait_for(lambda: custom.list_namespaced_custom_object("operators.coreos.com", "v1alpha1", op_ns,
                                                              "clusterserviceversions")["items"] == [], 30, "no CSV")
        wait_for(lambda: apps.list_namespaced_deployment(op_ns).items == [], 60, "the manager Deployment to be gone")

        out, raw = migrate(kubeconfig, tmp_path, ns, op_ns)
        monitor.stop()
        assert failures(out) == [], failures(out)
        plan = task_results(out, "plan every server")[0]
        states = {s["name"]: s["state"] for s in plan["servers"]}
        assert states["resnet"] == "migrated" and states["vision-ovms"] == "to migrate"
        assert states["s3-model"] in ("detached", "taken over"), states
        assert_migrated(api_client, ns, before, monitor, operator)
        assert not [w for _t, w in operator.log if w.startswith("OLM ")], operator.log
        again, _raw = migrate(kubeconfig, tmp_path, ns, op_ns, ovms_migrate_remove_operator=True)
        assert failures(again) == []
        assert task_results(again, "plan every server")[0]["pending"] == []
        with capsys.disabled():
            print("\n[migrate] OLM operator, run killed at +%.1f s (%s), re-run: states %s; seconds without a ready "
                  "endpoint: %s" % (killed_at - monitor.started, state_at_kill, states,
                                    {s: sum(b - a for a, b in monitor.gaps(s)) for s in SERVICES}))
            print("[migrate] what the test saw for one server:\n" + monitor.report("s3-model"))
    finally:
        operator.stop()
        core.delete_namespace(ns)
        core.delete_namespace(op_ns)
