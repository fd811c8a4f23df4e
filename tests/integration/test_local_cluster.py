"""The test cluster itself, exercised through the real API server: scheduling onto KWOK nodes, Ready pods,
Endpoints, the KWOK failure convention, extended resources, RBAC, and loopback-only networking."""

from __future__ import annotations

import ipaddress
import os
import time
from pathlib import Path

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

from localcluster import cluster as localcluster
from localcluster import versions

from conftest import wait_for

KWOK_NODES = {n["name"] for n in localcluster.NODES}
GPU_NODES = {n["name"] for n in localcluster.NODES if localcluster.GPU_RESOURCE in n["capacity"]}


def _container(resources=None):
    return client.V1Container(name="app", image="registry.invalid/app:1", ports=[client.V1ContainerPort(container_port=8080)],
                              resources=client.V1ResourceRequirements(limits=resources, requests=resources))


def _pod(name, labels=None, resources=None):
    return client.V1Pod(metadata=client.V1ObjectMeta(name=name, labels=labels or {"app": name}),
                        spec=client.V1PodSpec(containers=[_container(resources)]))


def _ready(pod) -> bool:
    return any(c.type == "Ready" and c.status == "True" for c in (pod.status.conditions or []))


def _deploy(api_client, namespace, name, replicas=2):
    apps = client.AppsV1Api(api_client)
    labels = {"app": name}
    apps.create_namespaced_deployment(namespace, client.V1Deployment(
        metadata=client.V1ObjectMeta(name=name),
        spec=client.V1DeploymentSpec(
            replicas=replicas, selector=client.V1LabelSelector(match_labels=labels),
            template=client.V1PodTemplateSpec(metadata=client.V1ObjectMeta(labels=labels),
                                              spec=client.V1PodSpec(containers=[_container()])))))
    return labels


def test_version_tells_the_truth(api_client, kwok_cluster):
    info = client.VersionApi(api_client).get_code()
    assert info.git_version == versions.KUBERNETES_VERSION
    assert info.minor == versions.KUBERNETES_VERSION.split(".")[1]


def test_nodes_are_kwok_nodes_with_capacity(core, kwok_cluster):
    nodes = {n.metadata.name: n for n in core.list_node().items}
    assert KWOK_NODES <= set(nodes)
    for name in KWOK_NODES:
        node = nodes[name]
        assert {"cpu", "memory", "pods"} <= set(node.status.allocatable)
        assert any(c.type == "Ready" and c.status == "True" for c in node.status.conditions)
    assert [n for n in KWOK_NODES if localcluster.GPU_RESOURCE in nodes[n].status.allocatable] == sorted(GPU_NODES)


def test_deployment_with_two_replicas_gets_two_ready_pods(api_client, core, namespace, kwok_cluster):
    labels = _deploy(api_client, namespace, "two")
    selector = ",".join(f"{k}={v}" for k, v in labels.items())
    pods = wait_for(lambda: (lambda ps: ps if len(ps) == 2 and all(map(_ready, ps)) else None)(
        core.list_namespaced_pod(namespace, label_selector=selector).items), 60, "2 Ready pods")
    assert {p.spec.node_name for p in pods} <= KWOK_NODES
    assert all(p.status.phase == "Running" for p in pods)
    assert all(ipaddress.ip_address(p.status.pod_ip) in ipaddress.ip_network(kwok_cluster.addresses.pod_network)
               for p in pods)
    dep = wait_for(lambda: (lambda d: d if (d.status.ready_replicas or 0) == 2 else None)(
        client.AppsV1Api(api_client).read_namespaced_deployment("two", namespace)), 60, "readyReplicas=2")
    assert dep.status.available_replicas == 2


def test_service_endpoints_list_the_pods(api_client, core, namespace, kwok_cluster):
    labels = _deploy(api_client, namespace, "web")
    core.create_namespaced_service(namespace, client.V1Service(
        metadata=client.V1ObjectMeta(name="web"),
        spec=client.V1ServiceSpec(selector=labels, ports=[client.V1ServicePort(name="http", port=80, target_port=8080)])))
    selector = "app=web"

    def ready_ips():
        pods = core.list_namespaced_pod(namespace, label_selector=selector).items
        return {p.status.pod_ip for p in pods} if len(pods) == 2 and all(map(_ready, pods)) else None
    pod_ips = wait_for(ready_ips, 60, "2 Ready pods behind the Service")

    def endpoint_ips():
        eps = core.read_namespaced_endpoints("web", namespace)
        ips = {a.ip for s in (eps.subsets or []) for a in (s.addresses or [])}
        return ips if ips == pod_ips else None
    wait_for(endpoint_ips, 60, "Endpoints listing both pods")

    discovery = client.DiscoveryV1Api(api_client)

    def slice_ips():
        slices = discovery.list_namespaced_endpoint_slice(
            namespace, label_selector="kubernetes.io/service-name=web").items
        ips = {a for s in slices for e in (s.endpoints or []) if e.conditions.ready for a in e.addresses}
        return ips if ips == pod_ips else None
    wait_for(slice_ips, 60, "EndpointSlices listing both pods as ready")


def test_pod_marked_notready_runs_but_never_becomes_ready(core, namespace, kwok_cluster):
    core.create_namespaced_pod(namespace, _pod("stuck", labels={localcluster.FAIL_LABEL: "notready"}))
    pod = wait_for(lambda: (lambda p: p if p.status.phase == "Running" else None)(
        core.read_namespaced_pod("stuck", namespace)), 60, "the pod to run")
    ready = next(c for c in pod.status.conditions if c.type == "Ready")
    assert (ready.status, ready.reason) == ("False", "ContainersNotReady")
    # the control plane keeps reconciling; give it a few more seconds and look again
    time.sleep(3)
    pod = core.read_namespaced_pod("stuck", namespace)
    assert not _ready(pod)
    assert pod.status.container_statuses[0].ready is False
    events = core.list_namespaced_event(namespace, field_selector="involvedObject.name=stuck").items
    assert any(e.type == "Warning" and e.reason == "Unhealthy" for e in events)


def test_pod_marked_crash_reports_a_terminated_container(core, namespace, kwok_cluster):
    core.create_namespaced_pod(namespace, _pod("crashy", labels={localcluster.FAIL_LABEL: "crash"}))

    def crashed():
        pod = core.read_namespaced_pod("crashy", namespace)
        statuses = pod.status.container_statuses or []
        return pod if statuses and statuses[0].last_state.terminated else None
    pod = wait_for(crashed, 60, "a terminated container status")
    status = pod.status.container_statuses[0]
    assert status.last_state.terminated.exit_code == 1
    assert status.last_state.terminated.reason == "Error"
    assert status.state.waiting.reason == "CrashLoopBackOff"
    assert status.restart_count >= 1
    assert not _ready(pod)


def test_gpu_pod_lands_on_the_node_offering_the_extended_resource(core, namespace, kwok_cluster):
    core.create_namespaced_pod(namespace, _pod("gpu", resources={localcluster.GPU_RESOURCE: "1"}))
    pod = wait_for(lambda: (lambda p: p if p.spec.node_name and _ready(p) else None)(
        core.read_namespaced_pod("gpu", namespace)), 60, "the GPU pod to be scheduled and Ready")
    assert pod.spec.node_name in GPU_NODES
    # more devices than any node has: the scheduler refuses, naming the resource
    core.create_namespaced_pod(namespace, _pod("too-many-gpus", resources={localcluster.GPU_RESOURCE: "3"}))

    def unschedulable():
        pod = core.read_namespaced_pod("too-many-gpus", namespace)
        cond = [c for c in (pod.status.conditions or []) if c.type == "PodScheduled" and c.status == "False"]
        return cond[0] if cond else None
    cond = wait_for(unschedulable, 60, "the scheduler to refuse the pod")
    assert cond.reason == "Unschedulable"
    assert f"Insufficient {localcluster.GPU_RESOURCE}" in cond.message


def test_service_account_without_rights_is_refused_until_a_role_allows_it(api_client, core, namespace, kubeconfig):
    core.create_namespaced_service_account(namespace, client.V1ServiceAccount(metadata=client.V1ObjectMeta(name="robot")))
    token = core.create_namespaced_service_account_token("robot", namespace, client.AuthenticationV1TokenRequest(
        spec=client.V1TokenRequestSpec(audiences=[], expiration_seconds=600))).status.token
    cfg = client.Configuration()
    cfg.host = api_client.configuration.host
    cfg.ssl_ca_cert = api_client.configuration.ssl_ca_cert
    cfg.api_key = {"authorization": token}
    cfg.api_key_prefix = {"authorization": "Bearer"}
    robot = client.CoreV1Api(client.ApiClient(cfg))

    with pytest.raises(ApiException) as refused:
        robot.list_namespaced_pod(namespace)
    assert refused.value.status == 403
    assert f"system:serviceaccount:{namespace}:robot" in refused.value.body

    rbac = client.RbacAuthorizationV1Api(api_client)
    rbac.create_namespaced_role(namespace, client.V1Role(
        metadata=client.V1ObjectMeta(name="pod-reader"),
        rules=[client.V1PolicyRule(api_groups=[""], resources=["pods"], verbs=["get", "list"])]))
    rbac.create_namespaced_role_binding(namespace, client.V1RoleBinding(
        metadata=client.V1ObjectMeta(name="robot-reads-pods"),
        role_ref=client.V1RoleRef(api_group="rbac.authorization.k8s.io", kind="Role", name="pod-reader"),
        subjects=[client.RbacV1Subject(kind="ServiceAccount", name="robot", namespace=namespace)]))

    def allowed():
        try:
            return robot.list_namespaced_pod(namespace) is not None
        except ApiException as exc:
            if exc.status != 403:
                raise
            return False
    wait_for(allowed, 30, "the RoleBinding to take effect")
    # the Role grants pods only
    with pytest.raises(ApiException) as still_refused:
        robot.list_namespaced_service(namespace)
    assert still_refused.value.status == 403


def _sockets_of(pid: int) -> set[int]:
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(int(target[8:-1]))
    return inodes


def _tcp_table():
    """(local address, remote address, state) of every TCP socket, by inode, from /proc/net/tcp{,6}."""
    table = {}
    for path, width in (("/proc/net/tcp", 4), ("/proc/net/tcp6", 16)):
        try:
            lines = Path(path).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            table[int(fields[9])] = (_addr(fields[1], width), _addr(fields[2], width), fields[3])
    return table


def _addr(hexaddr: str, width: int) -> str:
    ip_hex, _port = hexaddr.split(":")
    raw = bytes.fromhex(ip_hex)
    if width == 4:
        return str(ipaddress.IPv4Address(raw[::-1]))
    words = b"".join(raw[i:i + 4][::-1] for i in range(0, 16, 4))
    addr = ipaddress.IPv6Address(words)
    return str(addr.ipv4_mapped or addr)


def test_components_listen_and_talk_on_loopback_only(kwok_cluster):
    table = _tcp_table()
    seen = 0
    for component, pid in kwok_cluster.pids.items():
        for inode in _sockets_of(pid):
            if inode not in table:
                continue  # a unix socket
            local, remote, state = table[inode]
            seen += 1
            assert ipaddress.ip_address(local).is_loopback, f"{component} has a socket on {local}"
            if state != "0A":  # not LISTEN: the peer must be loopback too
                assert ipaddress.ip_address(remote).is_loopback, f"{component} talks to {remote}"
    assert seen >= len(kwok_cluster.pids), "expected every component to hold at least one TCP socket"


def test_down_stops_exactly_the_processes_up_started(kwok_cluster, tmp_path):
    second = localcluster.up(tmp_path / "second", quiet=True)
    pids = dict(second.pids)
    assert set(pids.values()).isdisjoint(kwok_cluster.pids.values())
    stopped = localcluster.down(tmp_path / "second")
    assert len(stopped) == len(pids)
    for pid in pids.values():
        assert not Path(f"/proc/{pid}").exists() or "Z" in Path(f"/proc/{pid}/stat").read_text().split(")")[1].split()[0]
    assert kwok_cluster.running(), "stopping one cluster must not touch another"
    assert (tmp_path / "second" / "logs" / "kube-apiserver.log").stat().st_size > 0


def test_ready_delay_annotation_delays_readiness(core, namespace, kwok_cluster):
    pod = _pod("late")
    pod.metadata.annotations = {localcluster.READY_DELAY_ANNOTATION: "3s"}
    core.create_namespaced_pod(namespace, pod)
    scheduled = wait_for(lambda: (lambda p: p if p.spec.node_name else None)(core.read_namespaced_pod("late", namespace)),
                         30, "the pod to be scheduled")
    assert not _ready(core.read_namespaced_pod("late", namespace)), "Ready before its delay"
    ready = wait_for(lambda: (lambda p: p if _ready(p) else None)(core.read_namespaced_pod("late", namespace)), 30,
                     "the delayed pod to become Ready")
    assert ready.status.phase == "Running" and scheduled.metadata.name == "late"


def test_two_clusters_at_once_each_reach_their_own_standin(api_client, core, namespace, kwok_cluster, pod_network,
                                                           tmp_path):
    """A second cluster takes another address slot: its pods get IPs from another range, its pod network namespace
    and stand-in are its own, and the API server's pod proxy of each cluster reaches its own stand-in."""
    import json

    from kubernetes import config
    from localcluster import podnet

    podnet.write_script(pod_network, {"first-model": {"mode": "available"}})
    second = localcluster.up(tmp_path / "second", quiet=True)
    try:
        assert second.slot != kwok_cluster.slot
        podnet.up(second.run_dir, {"second-model": {"mode": "available"}})
        second_api = config.new_client_from_config(config_file=str(second.kubeconfig))
        second_core = client.CoreV1Api(second_api)
        second_core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=namespace)))
        wait_for(lambda: second_core.read_namespaced_service_account("default", namespace), 60,
                 "the default ServiceAccount of the second cluster")
        seen, pods = {}, {}
        for name, c_api, c_core, c in (("first", api_client, core, kwok_cluster), ("second", second_api, second_core, second)):
            labels = _deploy(c_api, namespace, name, replicas=1)
            selector = ",".join(f"{k}={v}" for k, v in labels.items())
            pod = wait_for(lambda: next((p for p in c_core.list_namespaced_pod(namespace, label_selector=selector).items
                                         if _ready(p) and p.status.pod_ip), None), 60, f"a Ready pod in the {name} cluster")
            assert ipaddress.ip_address(pod.status.pod_ip) in ipaddress.ip_network(c.addresses.pod_network)
            data = c_core.connect_get_namespaced_pod_proxy_with_path(
                f"{pod.metadata.name}:{podnet.REST_PORT}", namespace, "v1/config", _preload_content=False).data
            seen[name] = sorted(json.loads(data))
            pods[name] = pod.metadata.name
        assert seen == {"first": ["first-model"], "second": ["second-model"]}
        assert not ipaddress.ip_network(kwok_cluster.addresses.pod_network).overlaps(
            ipaddress.ip_network(second.addresses.pod_network))
    finally:
        localcluster.down(second.run_dir)
    assert kwok_cluster.running()
    # the first cluster's stand-in still answers after the second one's network is gone
    data = core.connect_get_namespaced_pod_proxy_with_path(f"{pods['first']}:{podnet.REST_PORT}", namespace, "v1/config",
                                                           _preload_content=False).data
    assert sorted(json.loads(data)) == ["first-model"]
