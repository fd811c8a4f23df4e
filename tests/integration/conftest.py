"""Session fixtures for tests against a real Kubernetes API server.

By default one local control plane (etcd, kube-apiserver, kube-controller-manager, kube-scheduler and
KWOK, see tools/localcluster) is started for the whole test run and stopped at its end. With
OVMS_TEST_CLUSTER=existing the tests use the cluster in $KUBECONFIG instead; tests that rely on KWOK's
simulated nodes are then skipped.
"""

from __future__ import annotations

import os
import time
import uuid
from pathlib import Path

import pytest
from kubernetes import client, config
from kubernetes.client.rest import ApiException

from localcluster import cluster as localcluster


def wait_for(predicate, timeout: float = 60.0, what: str = "condition", interval: float = 0.25):
    """Poll predicate until it returns a truthy value; fail the test naming `what` on timeout."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = predicate()
        except ApiException as exc:  # a transient 404 while an object is being created
            last = exc
        else:
            if last:
                return last
        time.sleep(interval)
    pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}; last value: {last!r}")


def remove_route_api(api_client):
    """Delete the Route CRD (installed by tests that need route.openshift.io) and wait until the API group is gone,
    so that the cluster is plain Kubernetes again for the tests after."""
    ext = client.ApiextensionsV1Api(api_client)
    try:
        ext.delete_custom_resource_definition("routes.route.openshift.io")
    except ApiException as exc:
        if exc.status != 404:
            raise
    wait_for(lambda: not any(g.name == "route.openshift.io"
                             for g in client.ApisApi(api_client).get_api_versions().groups), 60,
             "the Route API to be gone")


@pytest.fixture(scope="session")
def cluster_mode() -> str:
    mode = os.environ.get("OVMS_TEST_CLUSTER", "local")
    if mode not in ("local", "existing"):
        pytest.fail(f"OVMS_TEST_CLUSTER must be 'local' or 'existing', got {mode!r}")
    return mode


@pytest.fixture(scope="session")
def local_cluster(cluster_mode, tmp_path_factory):
    """The local control plane, or None when the tests run against an existing cluster."""
    if cluster_mode == "existing":
        yield None
        return
    run_dir = tmp_path_factory.mktemp("cluster")
    c = localcluster.up(run_dir)
    try:
        yield c
    finally:
        localcluster.down(run_dir)


@pytest.fixture(scope="session")
def kubeconfig(cluster_mode, local_cluster) -> Path:
    if local_cluster is not None:
        return local_cluster.kubeconfig
    path = os.environ.get("KUBECONFIG", "").split(os.pathsep)[0]
    if not path:
        pytest.fail("OVMS_TEST_CLUSTER=existing needs KUBECONFIG to name the cluster's kubeconfig")
    return Path(path)


@pytest.fixture
def kwok_cluster(local_cluster):
    """Skip a test that needs KWOK's simulated nodes when running against another cluster."""
    if local_cluster is None:
        pytest.skip("needs the local control plane with KWOK nodes (OVMS_TEST_CLUSTER=existing is set)")
    return local_cluster


@pytest.fixture(scope="session")
def api_client(kubeconfig) -> client.ApiClient:
    return config.new_client_from_config(config_file=str(kubeconfig))


@pytest.fixture(scope="session")
def core(api_client) -> client.CoreV1Api:
    return client.CoreV1Api(api_client)


@pytest.fixture
def namespace(core):
    """A fresh namespace whose default ServiceAccount exists (pods need it), deleted afterwards."""
    name = f"t-{uuid.uuid4().hex[:10]}"
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    wait_for(lambda: core.read_namespaced_service_account("default", name), 30,
             f"the default ServiceAccount in {name}")
    yield name
    core.delete_namespace(name)


@pytest.fixture(scope="session")
def pod_network(local_cluster):
    """The pod IP range inside a network namespace this test run creates, with the OVMS stand-in (a test double)
    answering for every pod. Skips (fail closed: nothing is sent to pod IPs) when it cannot be made."""
    from localcluster import podnet

    if local_cluster is None:
        pytest.skip("the OVMS stand-in needs the local control plane's pod network (OVMS_TEST_CLUSTER=existing)")
    try:
        podnet.up(local_cluster.run_dir)
    except podnet.PodnetUnavailable as exc:
        pytest.skip("cannot create the pod network namespace, so no test reaches a pod: %s" % exc)
    try:
        yield local_cluster.run_dir
    finally:
        podnet.down(local_cluster.run_dir)


@pytest.fixture
def standin(pod_network):
    """Set the stand-in's model behaviours: standin({"m": {"mode": "available"}}) (merged into the script)."""
    import json
    from localcluster import podnet

    def set_models(models):
        path = podnet.script_file(pod_network)
        script = json.loads(path.read_text() or "{}")
        script.update(models)
        podnet.write_script(pod_network, script)
    return set_models
