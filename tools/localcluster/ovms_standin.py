"""TEST DOUBLE: a small HTTP server that answers like OpenVINO Model Server's REST API.

OVMS itself cannot run on the build machines (its images come from a registry), so the local cluster's
"pods" (simulated by KWOK) are answered by this stand-in, listening inside a network namespace that holds
the pod IP range (see podnet.py). It serves, for every model in its script:

  GET /v1/config                 {"<model>": {"model_version_status": [{version, state, status{...}}]}}
  GET /v2/health/live            200
  GET /v2/health/ready           200 (the initial load finished, whatever its outcome)
  GET /v2/models/<name>/ready    200 when the version is AVAILABLE, else 404 {"error": ...}
  GET /v2/models/<name>          KServe v2 model metadata (404 when unknown or not available)

The script is a JSON file, re-read on every request, mapping model names to behaviours:
  {"resnet": {"mode": "available"}}
  {"slow":   {"mode": "delay", "seconds": 3}}   LOADING for 3 s counted from the first request that asks
                                                about it (or from "since", epoch seconds), then AVAILABLE: the
                                                first answer is always LOADING, however slow the machine
  {"broken": {"mode": "load_error"}}            LOADING with error_code UNKNOWN (a failed load, as OVMS shows it)
  {"stuck":  {"mode": "never"}}                 LOADING forever
Wire formats follow ../shared/reference/operator-behaviour.md ("OVMS itself").
"""

from __future__ import annotations

import argparse
import json
import os
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MODES = ("available", "delay", "load_error", "never")


def model_status(behaviour: dict, since: float, now: float) -> tuple[str, str]:
    """(state, error_code) of a model's version 1 at time now; a delay counts from behaviour["since"]
    (epoch seconds) when given, else from `since` (the first request about this model under this script)."""
    mode = behaviour.get("mode", "available")
    since = float(behaviour.get("since", since))
    if mode == "available":
        return "AVAILABLE", "OK"
    if mode == "delay":
        return ("AVAILABLE", "OK") if now - since >= float(behaviour.get("seconds", 0)) else ("LOADING", "OK")
    if mode == "load_error":
        return "LOADING", "UNKNOWN"
    if mode == "never":
        return "LOADING", "OK"
    raise ValueError(f"unknown stand-in mode {mode!r} (expected one of {', '.join(MODES)})")


def config_answer(script: dict, version: float, now: float) -> dict:
    out = {}
    for name, behaviour in script.items():
        state, code = model_status(behaviour, first_seen(version, name, now), now)
        out[name] = {"model_version_status": [{"version": "1", "state": state,
                                               "status": {"error_code": code, "error_message": code}}]}
    return out


_first_seen: dict = {}          # (script mtime, model) -> time of the first request about it
_first_seen_lock = threading.Lock()


def first_seen(version: float, model: str, now: float) -> float:
    """When this model was first asked about under this version of the script (now, if this is the first time)."""
    with _first_seen_lock:
        return _first_seen.setdefault((version, model), now)


class Handler(BaseHTTPRequestHandler):
    server_version = "ovms-standin/1"
    script_path = ""

    def log_message(self, fmt, *args):  # quiet: the access log goes to stderr only when asked
        if os.environ.get("OVMS_STANDIN_VERBOSE"):
            super().log_message(fmt, *args)

    def _script(self) -> tuple[dict, float]:
        try:
            return json.loads(open(self.script_path).read() or "{}"), os.stat(self.script_path).st_mtime
        except (OSError, ValueError):
            return {}, time.time()

    def _send(self, status: int, body) -> None:
        data = json.dumps(body, indent=1).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):  # noqa: N802 (http.server's naming)
        script, version = self._script()
        now = time.time()
        path = self.path.split("?", 1)[0].rstrip("/")
        if path == "/v1/config":
            return self._send(200, config_answer(script, version, now))
        if path in ("/v2/health/live", "/v2/health/ready"):
            return self._send(200, {})
        m = re.match(r"^/v2/models/([^/]+)(/ready)?$", path)
        if m:
            name, ready = m.group(1), m.group(2)
            if name not in script:
                return self._send(404, {"error": "Model with requested name is not found"})
            state, _ = model_status(script[name], first_seen(version, name, now), now)
            if state != "AVAILABLE":
                return self._send(404, {"error": "Model version not available"})
            if ready:
                return self._send(200, {})
            return self._send(200, {"name": name, "versions": ["1"], "platform": "OpenVINO",
                                    "inputs": [{"name": "input", "datatype": "FP32", "shape": [-1, 3, 224, 224]}],
                                    "outputs": [{"name": "output", "datatype": "FP32", "shape": [-1, 1000]}]})
        return self._send(404, {"error": "not found"})


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="TEST DOUBLE answering like OVMS's REST API")
    parser.add_argument("--script", required=True, help="JSON file: model name -> behaviour (re-read per request)")
    parser.add_argument("--bind", default="0.0.0.0", help="address to listen on (inside the pod network namespace)")
    parser.add_argument("--port", type=int, default=8081)
    args = parser.parse_args(argv)
    Handler.script_path = args.script
    ThreadingHTTPServer.allow_reuse_address = True
    server = ThreadingHTTPServer((args.bind, args.port), Handler)
    server.serve_forever()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
