"""Unit tests of the local cluster tool's pure parts (no processes started)."""

from __future__ import annotations

import ipaddress
import json

import pytest
import yaml
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from localcluster import build, cluster, pki, slots, versions


def test_staging_version_follows_the_kubernetes_release():
    assert versions.staging_version("v1.35.4") == "v0.35.4"
    with pytest.raises(ValueError, match="unexpected Kubernetes version"):
        versions.staging_version("v2.0.0")


def test_every_cluster_address_is_inside_the_test_network():
    net = ipaddress.ip_network(cluster.NETWORK)
    pods = ipaddress.ip_network(cluster.POD_NETWORK)
    assert pods.subnet_of(net)
    assert ipaddress.ip_network(cluster.SERVICE_CIDR).subnet_of(net)
    assert ipaddress.ip_network(cluster.KWOK_FALLBACK_CIDR).subnet_of(pods)
    assert ipaddress.ip_address(cluster.SERVICE_IP) in ipaddress.ip_network(cluster.SERVICE_CIDR)
    cidrs = [ipaddress.ip_network(n["pod_cidr"]) for n in cluster.NODES]
    assert all(c.subnet_of(pods) for c in cidrs)
    assert not any(a.overlaps(b) for i, a in enumerate(cidrs) for b in cidrs[i + 1:])
    assert all(ipaddress.ip_address(n["ip"]) in net for n in cluster.NODES)


def test_node_manifest_offers_capacity_and_gpu_on_one_node():
    manifests = [cluster.node_manifest(n) for n in cluster.NODES]
    assert len(manifests) >= 2
    for m in manifests:
        assert m["metadata"]["labels"][cluster.NODE_LABEL[0]] == cluster.NODE_LABEL[1]
        assert {"cpu", "memory", "pods"} <= set(m["status"]["capacity"])
        assert m["status"]["capacity"] == m["status"]["allocatable"]
    with_gpu = [m["metadata"]["name"] for m in manifests if cluster.GPU_RESOURCE in m["status"]["capacity"]]
    assert with_gpu == ["kwok-node-1"]


def test_kubeconfig_is_valid_yaml_pointing_at_loopback(tmp_path):
    doc = yaml.safe_load(cluster.kubeconfig_text("https://127.0.0.1:6443", tmp_path / "ca.crt",
                                                 tmp_path / "a.crt", tmp_path / "a.key", "admin"))
    assert doc["current-context"] == "ovms-local"
    assert doc["clusters"][0]["cluster"]["server"] == "https://127.0.0.1:6443"
    assert doc["users"][0]["user"]["client-key"] == str(tmp_path / "a.key")


def test_pki_issues_server_and_client_certificates(tmp_path):
    paths = pki.generate(tmp_path / "pki", cluster.SERVICE_IP)
    ca = x509.load_pem_x509_certificate(paths["ca.crt"].read_bytes())
    server = x509.load_pem_x509_certificate(paths["apiserver.crt"].read_bytes())
    assert server.issuer == ca.subject
    sans = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert ipaddress.ip_address("127.0.0.1") in sans.get_values_for_type(x509.IPAddress)
    assert "kubernetes.default.svc" in sans.get_values_for_type(x509.DNSName)
    eku = server.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert ExtendedKeyUsageOID.SERVER_AUTH in eku
    admin = x509.load_pem_x509_certificate(paths["admin.crt"].read_bytes())
    orgs = [a.value for a in admin.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)]
    assert orgs == ["system:masters"]
    assert ExtendedKeyUsageOID.CLIENT_AUTH in admin.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    kcm = x509.load_pem_x509_certificate(paths["kube-controller-manager.crt"].read_bytes())
    assert kcm.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "system:kube-controller-manager"
    assert oct(paths["sa.key"].stat().st_mode & 0o777) == "0o600"


def test_bin_dir_must_hold_every_binary(tmp_path):
    (tmp_path / "etcd").write_text("#!/bin/sh\n")
    (tmp_path / "etcd").chmod(0o755)
    with pytest.raises(build.BuildError, match="kube-apiserver is missing or not executable"):
        build.ensure_binaries(tmp_path)


def test_bin_dir_with_every_binary_builds_nothing(tmp_path, monkeypatch):
    for names in (v[1] for v in build.COMPONENTS.values()):
        for name in names:
            (tmp_path / name).write_text("#!/bin/sh\n")
            (tmp_path / name).chmod(0o755)
    monkeypatch.setattr(build, "_require_go", lambda: pytest.fail("must not build"))
    paths = build.ensure_binaries(tmp_path)
    assert paths["kube-apiserver"] == tmp_path / "kube-apiserver"
    assert set(paths) == {n for v in build.COMPONENTS.values() for n in v[1]}


def test_cache_root_honours_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("OVMS_CACHE_DIR", str(tmp_path / "c"))
    assert build.cache_root() == tmp_path / "c"
    monkeypatch.delenv("OVMS_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "x"))
    assert build.cache_root() == tmp_path / "x" / "openvino-ovms"


def test_kwok_stages_cover_the_failure_convention():
    stages = {d["metadata"]["name"]: d for d in yaml.safe_load_all(cluster.KWOK_STAGES.read_text())}
    assert stages["ovms-pod-fail-notready"]["spec"]["selector"]["matchLabels"] == {cluster.FAIL_LABEL: "notready"}
    assert stages["ovms-pod-fail-crash"]["spec"]["selector"]["matchLabels"] == {cluster.FAIL_LABEL: "crash"}
    ready_keys = [e["key"] for e in stages["ovms-pod-ready"]["spec"]["selector"]["matchExpressions"]]
    assert f'.metadata.labels["{cluster.FAIL_LABEL}"]' in ready_keys


def test_ovms_standin_answers_like_ovms():
    from localcluster import ovms_standin as s

    assert s.model_status({"mode": "available"}, 0, 1) == ("AVAILABLE", "OK")
    assert s.model_status({"mode": "delay", "seconds": 5}, 100, 104) == ("LOADING", "OK")
    assert s.model_status({"mode": "delay", "seconds": 5}, 100, 105) == ("AVAILABLE", "OK")
    assert s.model_status({"mode": "delay", "seconds": 5, "since": 200}, 100, 204) == ("LOADING", "OK")
    assert s.model_status({"mode": "load_error"}, 0, 9) == ("LOADING", "UNKNOWN")
    assert s.model_status({"mode": "never"}, 0, 1e9) == ("LOADING", "OK")
    with pytest.raises(ValueError, match="unknown stand-in mode 'sometimes'"):
        s.model_status({"mode": "sometimes"}, 0, 1)
    # a delay counts from the first request about the model (per script version), not from any wall clock
    script = {"lazy": {"mode": "delay", "seconds": 3}}
    assert s.config_answer(script, 7.0, 1000.0)["lazy"]["model_version_status"][0]["state"] == "LOADING"
    assert s.config_answer(script, 7.0, 1002.9)["lazy"]["model_version_status"][0]["state"] == "LOADING"
    assert s.config_answer(script, 7.0, 1003.0)["lazy"]["model_version_status"][0]["state"] == "AVAILABLE"
    assert s.config_answer(script, 8.0, 5000.0)["lazy"]["model_version_status"][0]["state"] == "LOADING"  # new script
    answer = s.config_answer({"resnet": {"mode": "load_error"}}, 0, 1)
    assert answer == {"resnet": {"model_version_status": [
        {"version": "1", "state": "LOADING", "status": {"error_code": "UNKNOWN", "error_message": "UNKNOWN"}}]}}


def test_slot_zero_has_the_first_versions_addresses():
    zero = slots.Slot(0)
    assert zero.pod_network == cluster.POD_NETWORK
    assert zero.kwok_fallback_cidr == cluster.KWOK_FALLBACK_CIDR
    assert zero.nodes(cluster.NODES) == cluster.NODES


def test_slots_never_share_an_address_and_stay_in_the_test_network():
    net, services = ipaddress.ip_network(cluster.NETWORK), ipaddress.ip_network(cluster.SERVICE_CIDR)
    ranges, links = [], []
    for index in range(slots.MAX_SLOT + 1):
        slot = slots.Slot(index)
        pods = ipaddress.ip_network(slot.pod_network)
        assert pods.subnet_of(net) and not pods.overlaps(services), slot
        assert ipaddress.ip_network(slot.kwok_fallback_cidr).subnet_of(pods)
        assert ipaddress.ip_address(slot.probe_ip) in pods
        for node in slot.nodes(cluster.NODES):
            assert ipaddress.ip_network(node["pod_cidr"]).subnet_of(pods)
            assert ipaddress.ip_address(node["ip"]) in pods and node["ip"] != slot.probe_ip
        link = ipaddress.ip_network(slot.link_net[0] + "/30", strict=False)
        assert ipaddress.ip_address(slot.link_net[1]) in link and link.subnet_of(net)
        ranges.append(pods)
        links.append(link)
    everything = ranges + links
    assert not any(a.overlaps(b) for i, a in enumerate(everything) for b in everything[i + 1:])
    with pytest.raises(ValueError, match="outside"):
        slots.Slot(slots.MAX_SLOT + 1).pod_network


def test_slot_claims_are_per_run_dir_reused_and_released(tmp_path, monkeypatch):
    monkeypatch.setenv("OVMS_CACHE_DIR", str(tmp_path / "cache"))
    first = slots.claim(tmp_path / "a")
    second = slots.claim(tmp_path / "b")
    assert (first.index, second.index) == (0, 1)
    assert slots.claim(tmp_path / "a") == first, "a run dir keeps its slot"
    assert slots.claim(tmp_path / "c", routed=lambda s: s.index == 2).index == 3, "a routed slot is skipped"
    slots.release(tmp_path / "a")
    assert slots.claim(tmp_path / "d").index == 0, "a released slot is free again"


def test_a_claim_whose_process_and_cluster_are_gone_is_taken_over(tmp_path, monkeypatch):
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path

    monkeypatch.setenv("OVMS_CACHE_DIR", str(tmp_path / "cache"))
    # a claim made by a process that has exited, for a run dir whose cluster never started
    tools = str(Path(__file__).resolve().parents[2] / "tools")
    code = "import sys; from localcluster import slots; slots.claim(sys.argv[1])"
    subprocess.run([sys.executable, "-c", code, str(tmp_path / "gone")], check=True,
                   env=dict(os.environ, PYTHONPATH=tools))
    claim_file = tmp_path / "cache" / "slots" / "0.json"
    assert json.loads(claim_file.read_text())["run_dir"] == str((tmp_path / "gone").resolve())
    assert slots.claim(tmp_path / "new").index == 0
    # a claim by a live process (this one) is respected
    assert slots.claim(tmp_path / "other").index == 1
@pytest.fixture
def standin_http(tmp_path):
    """The stand-in (a TEST DOUBLE of OVMS) on 127.0.0.1, answering from a script this test writes."""
    import threading
    from http.server import ThreadingHTTPServer

    from localcluster import ovms_standin as s

    script = tmp_path / "script.json"
    script.write_text("{}")
    handler = type("H", (s.Handler,), {"script_path": str(script)})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()

    def call(method, path, body=None, content_type="application/json", models=None):
        import http.client

        if models is not None:
            script.write_text(json.dumps(models))
        conn = http.client.HTTPConnection("127.0.0.1", server.server_address[1], timeout=10)
        data = json.dumps(body).encode() if body is not None else None
        conn.request(method, path, body=data, headers={"Content-Type": content_type} if content_type else {})
        resp = conn.getresponse()
        out = resp.status, json.loads(resp.read() or b"null")
        conn.close()
        return out
    yield call
    server.shutdown()
    server.server_close()


def test_standin_generative_servables_answer_as_ovms(standin_http):
    models = {"OpenVINO/Qwen3-8B-int4-ov": {"task": "text_generation"}, "bge": {"task": "embeddings"},
              "rr": {"task": "rerank"}, "late": {"task": "rerank", "mode": "never"},
              "gone": {"task": "embeddings", "mode": "load_error", "error_message": "Failed to read graph"}}
    config = standin_http("GET", "/v1/config", models=models)[1]
    assert config["OpenVINO/Qwen3-8B-int4-ov"]["model_version_status"][0]["state"] == "AVAILABLE"
    assert config["gone"]["model_version_status"][0] == {
        "version": "1", "state": "LOADING", "status": {"error_code": "UNKNOWN", "error_message": "Failed to read graph"}}
    # %2F-encoded names are the servable; a raw "/" in the name matches no route
    assert standin_http("GET", "/v2/models/OpenVINO%2FQwen3-8B-int4-ov/ready")[0] == 200
    assert standin_http("GET", "/v2/models/OpenVINO/Qwen3-8B-int4-ov/ready")[0] == 404
    assert standin_http("GET", "/v2/models/late/ready")[0] == 404        # not loaded yet: 404, like unknown
    assert standin_http("GET", "/v2/models/nosuch/ready")[0] == 404
    chat = {"model": "OpenVINO/Qwen3-8B-int4-ov", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 1}
    status, answer = standin_http("POST", "/v3/chat/completions", chat)
    assert status == 200 and answer["object"] == "chat.completion" and answer["usage"]["completion_tokens"] == 1
    assert answer["choices"][0]["message"]["role"] == "assistant" and answer["choices"][0]["finish_reason"] == "length"
    assert standin_http("POST", "/v3/v1/chat/completions", chat)[0] == 200               # the deprecated alias
    assert standin_http("POST", "/v3/chat/completions", chat, content_type="text/plain")[0] == 400
    status, answer = standin_http("POST", "/v3/embeddings", {"model": "bge", "input": ["hi"]})
    assert status == 200 and answer["data"][0]["object"] == "embedding" and answer["data"][0]["index"] == 0
    status, answer = standin_http("POST", "/v3/rerank", {"model": "rr", "query": "hi", "documents": ["a", "b"]})
    assert status == 200 and sorted(r["index"] for r in answer["results"]) == [0, 1]
    assert all(0 <= r["relevance_score"] <= 1 for r in answer["results"])
    assert standin_http("POST", "/v3/rerank", {"model": "nosuch", "query": "q", "documents": []})[0] == 404
    assert standin_http("POST", "/v3/rerank", {"model": "late", "query": "q", "documents": ["a"]})[0] == 503
    assert standin_http("POST", "/v3/embeddings", {"model": "rr", "input": ["hi"]})[0] == 400   # not its task
    assert standin_http("POST", "/v3/rerank", {"model": "rr", "query": "hi"}) == (
        400, {"error": "documents field is missing in JSON body"})
    # the failing test's option: HTTP 200 with a body of the wrong shape
    models["bge"]["answer"] = "wrong_shape"
    status, answer = standin_http("POST", "/v3/embeddings", {"model": "bge", "input": ["hi"]}, models=models)
    assert status == 200 and answer["data"][0]["embedding"] == "AAAA"


def test_standin_kserve_inference_checks_the_request_against_the_metadata(standin_http):
    models = {"resnet": {}, "tiny": {"inputs": [{"name": "x", "datatype": "INT64", "shape": [2, -1]}],
                                     "outputs": [{"name": "y", "datatype": "FP32", "shape": [2]}]}}
    meta = standin_http("GET", "/v2/models/tiny", models=models)[1]
    assert meta["inputs"] == [{"name": "x", "datatype": "INT64", "shape": [2, -1]}]
    ok = {"inputs": [{"name": "x", "datatype": "INT64", "shape": [2, 3], "data": [0] * 6}]}
    status, answer = standin_http("POST", "/v2/models/tiny/infer", ok)
    assert status == 200 and answer["outputs"] == [{"name": "y", "datatype": "FP32", "shape": [2], "data": [0.0, 0.0]}]
    assert standin_http("POST", "/v2/models/tiny/versions/1/infer", ok)[0] == 200
    bad = [dict(ok["inputs"][0], name="z"), dict(ok["inputs"][0], datatype="FP32"), dict(ok["inputs"][0], shape=[3, 2]),
           dict(ok["inputs"][0], data=[0] * 5)]
    for tensor in bad:
        assert standin_http("POST", "/v2/models/tiny/infer", {"inputs": [tensor]})[0] == 400, tensor
    assert standin_http("POST", "/v2/models/nosuch/infer", ok)[0] == 404
    status, answer = standin_http("POST", "/v2/models/resnet/infer", {"inputs": [
        {"name": "input", "datatype": "FP32", "shape": [1, 3, 224, 224], "data": [0] * 150528}]})
    assert status == 200 and answer["outputs"][0]["shape"] == [1, 1000] and len(answer["outputs"][0]["data"]) == 1000
