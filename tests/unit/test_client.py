"""The request layer (_client.send under _reconcile.Api) over a real HTTP socket on 127.0.0.1: what it sends
(URL, query, headers, body), retries of transient faults driven by the number of requests the test server has seen
(never by the clock), and the errors it gives when retries run out. The behaviour against the real API server,
restarted mid-run, is in tests/integration/test_faults.py."""
from __future__ import annotations

import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from kubernetes import client

from ansible_collections.openvino.ovms.plugins.module_utils import _client, _reconcile


class Script:
    """What the server answers to its n-th request: a list of (status | "drop"), the last one repeated."""

    def __init__(self, answers):
        self.answers = answers
        self.seen = []
        self.lock = threading.Lock()

    def next(self, request):
        with self.lock:
            self.seen.append(request)
            return self.answers[min(len(self.seen), len(self.answers)) - 1]


@pytest.fixture
def server():
    servers = []

    def start(answers):
        script = Script(answers)

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _answer(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                answer = script.next({"method": self.command, "path": self.path, "headers": dict((k.lower(), v) for k, v in self.headers.items()),
                                      "body": body})
                if answer == "drop":  # the connection breaks before any answer, as when the API server dies
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                data = json.dumps({"kind": "Status", "code": answer, "message": "answer %d" % len(script.seen)}).encode()
                self.send_response(answer)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                if answer == 429:
                    self.send_header("Retry-After", "0")
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_PATCH = do_DELETE = _answer

        httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        servers.append(httpd)
        configuration = client.Configuration()
        configuration.host = "http://127.0.0.1:%d/prefix" % httpd.server_address[1]
        configuration.api_key = {"authorization": "Bearer t0ken"}
        api_client = client.ApiClient(configuration)
        api_client.user_agent = "openvino.ovms/test"
        api_client.set_default_header("Impersonate-User", "alice")
        return script, api_client

    yield start
    for httpd in servers:
        httpd.shutdown()
        httpd.server_close()


def test_sends_url_query_headers_and_body(server):
    script, api_client = server([200])
    api = _reconcile.Api(api_client)
    status, payload = api.request("PATCH", "/apis/apps/v1/namespaces/ns/deployments/d", body={"a": 1},
                                  query=[("fieldManager", "openvino.ovms"), ("dryRun", "All")],
                                  content_type="application/apply-patch+yaml")
    assert status == 200 and payload["message"] == "answer 1"
    sent = script.seen[0]
    assert sent["path"] == "/prefix/apis/apps/v1/namespaces/ns/deployments/d?fieldManager=openvino.ovms&dryRun=All"
    assert sent["headers"]["authorization"] == "Bearer t0ken"
    assert sent["headers"]["user-agent"] == "openvino.ovms/test"
    assert sent["headers"]["impersonate-user"] == "alice"
    assert sent["headers"]["content-type"] == "application/apply-patch+yaml; charset=utf-8"
    assert json.loads(sent["body"]) == {"a": 1}
    assert api.summary() == {"total": 1, "writes": 1, "by_verb": {"PATCH": 1}, "retries": 0}


@pytest.mark.parametrize("answers", [[503, 503, 200], [429, 200], ["drop", 200], [500, 200], ["drop", 502, 200]])
def test_transient_faults_are_retried(server, answers):
    script, api_client = server(answers)
    api = _reconcile.Api(api_client, retry_timeout=60)
    status, payload = api.request("GET", "/api/v1/namespaces/ns/services")
    assert status == 200 and len(script.seen) == len(answers)
    assert api.retries == len(answers) - 1 and api.counts == {"GET": len(answers)}


def test_a_500_is_retried_twice_only(server):
    script, api_client = server([500])
    api = _reconcile.Api(api_client, retry_timeout=60)
    status, payload = api.request("GET", "/api/v1/namespaces/ns/services")
    assert status == 500 and len(script.seen) == 1 + _reconcile.MAX_500_RETRIES


def test_errors_that_are_answers_are_not_retried(server):
    script, api_client = server([409, 200])
    api = _reconcile.Api(api_client, retry_timeout=60)
    assert api.request("PATCH", "/x", body={})[0] == 409 and len(script.seen) == 1


def test_proxy_requests_retry_connection_errors_only(server):
    script, api_client = server([503, 200])
    api = _reconcile.Api(api_client, retry_timeout=60)
    assert api.request("GET", "/proxy", retry_statuses=False)[0] == 503 and len(script.seen) == 1


def test_unreachable_server_ends_in_a_transient_error_naming_the_request():
    port_socket = socket.socket()
    port_socket.bind(("127.0.0.1", 0))
    port = port_socket.getsockname()[1]
    port_socket.close()  # nothing listens there now: every connection is refused
    configuration = client.Configuration()
    configuration.host = "http://127.0.0.1:%d" % port
    api = _reconcile.Api(client.ApiClient(configuration), retry_timeout=0.3)
    with pytest.raises(_reconcile.TransientError, match=r"GET /api/v1/namespaces: the Kubernetes API server did not "
                                                        r"answer \(\d+ attempts over [\d.]+ s, last: .*refused"):
        api.request("GET", "/api/v1/namespaces")
    sent = api.counts["GET"]
    assert sent >= 1
    # once gone, later requests are not sent at all (a fleet reports its other servers as not attempted at once)
    with pytest.raises(_reconcile.TransientError, match=r"PATCH /x: not sent, the Kubernetes API server is gone"):
        api.request("PATCH", "/x", body={})
    assert api.counts == {"GET": sent}


def test_missing_kubeconfig_is_named(tmp_path):
    missing = tmp_path / "nope" / "config"
    with pytest.raises(_client.ClientError, match="kubeconfig %s does not exist" % missing):
        _client.api_client({"kubeconfig": str(missing)})


class FakeModule:
    def __init__(self):
        self.failed = None

    def fail_json(self, **kwargs):
        self.failed = kwargs
        raise SystemExit(1)


@pytest.mark.parametrize("missing,expected", [
    ("HAS_KUBERNETES", "kubernetes >= 24.2.0 (tested: 24.2.0, 30.1.0, 37.0.2) (pip install kubernetes)"),
    ("HAS_K8S_CORE", "the Ansible collection kubernetes.core is required (ansible-galaxy collection install "
                     "kubernetes.core, or pip install ansible, which bundles it); it is not a Python library"),
])
def test_missing_dependencies_are_named(monkeypatch, missing, expected):
    monkeypatch.setattr(_client, missing, False)
    module = FakeModule()
    with pytest.raises(SystemExit):
        _client.require(module)
    assert expected in module.failed["msg"]
    assert "name 'kubernetes' is not defined" not in module.failed["msg"]
