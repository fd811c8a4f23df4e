"""TEST DOUBLE: a small HTTP server that answers like OpenVINO Model Server's REST API.

OVMS itself cannot run on the build machines (its images come from a registry), so the local cluster's
"pods" (simulated by KWOK) are answered by this stand-in, listening inside a network namespace that holds
the pod IP range (see podnet.py). No model runs here: every answer is made up, only its shape follows OVMS.
It serves, for every model (classic) or servable (generative graph) in its script:

  GET  /v1/config                 {"<model>": {"model_version_status": [{version, state, status{...}}]}}
  GET  /v2/health/live            200
  GET  /v2/health/ready           200 (the initial load finished, whatever its outcome)
  GET  /v2/models/<name>/ready    200 when the version is AVAILABLE, else 404 {"error": ...} (unknown or not loaded)
  GET  /v2/models/<name>          KServe v2 model metadata (404 when unknown or not available)
  POST /v2/models/<name>[/versions/<v>]/infer   KServe v2 inference (classic models): checks the inputs against
                                  the metadata (names, datatypes, shapes with -1 free, element counts)
  POST /v3/chat/completions, /v3/completions, /v3/embeddings, /v3/rerank (and the /v3/v1/... aliases)
                                  the OpenAI/Cohere-style answers of generative servables, per the model's task
A name holding "/" (OpenVINO/Qwen3-8B-int4-ov) is matched only when sent percent-encoded (%2F), as OVMS wants it.
Generative requests need `Content-Type: application/json` and a JSON body naming the "model", as OVMS does.

The script is a JSON file, re-read on every request, mapping model names to behaviours:
  {"resnet": {"mode": "available"}}
  {"slow":   {"mode": "delay", "seconds": 3}}   LOADING for 3 s counted from the first request that asks
                                                about it (or from "since", epoch seconds), then AVAILABLE: the
                                                first answer is always LOADING, however slow the machine
  {"broken": {"mode": "load_error"}}            LOADING with error_code UNKNOWN (a failed load, as OVMS shows it);
                                                "error_message" sets the message (default: the code)
  {"stuck":  {"mode": "never"}}                 LOADING forever
and, besides the mode:
  "task": "text_generation" | "embeddings" | "rerank" | ...   a generative servable answering that task's
                                                /v3 request (any other /v3 request to it is an error)
  "answer": "ok" (default) | "wrong_shape" | "error"   how inference requests are answered: "wrong_shape" gives
                                                HTTP 200 with a body of the wrong shape (for the failing tests),
                                                "error" gives HTTP 500 {"error": <"error", default "Internal
                                                server error">} (for example a graph that fails at execution)
  "inputs" / "outputs": [{"name", "datatype", "shape"}]   classic models' metadata (default: one FP32 input
                                                [-1,3,224,224], one FP32 output [-1,1000])
Wire formats follow ../shared/reference/operator-behaviour.md ("OVMS itself") and
../shared/reference/ovms-generative.md (section 4). The error messages of /v3 and /infer failures are the
stand-in's own wording: only their HTTP status and {"error": ...} shape are taken from OVMS.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import threading
import time
from urllib.parse import unquote
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MODES = ("available", "delay", "load_error", "never")
ANSWERS = ("ok", "wrong_shape", "error")
# the /v3 endpoint -> (the task whose servables answer it, the body fields it requires)
V3_ENDPOINTS = {
    "/v3/chat/completions": ("text_generation", ("messages",)),
    "/v3/completions": ("text_generation", ("prompt",)),
    "/v3/embeddings": ("embeddings", ("input",)),
    "/v3/rerank": ("rerank", ("query", "documents")),
}
DEFAULT_INPUTS = [{"name": "input", "datatype": "FP32", "shape": [-1, 3, 224, 224]}]
DEFAULT_OUTPUTS = [{"name": "output", "datatype": "FP32", "shape": [-1, 1000]}]


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
        message = behaviour.get("error_message", code) if code != "OK" else code
        out[name] = {"model_version_status": [{"version": "1", "state": state,
                                               "status": {"error_code": code, "error_message": message}}]}
    return out


def model_name(encoded: str) -> str:
    """The servable name of a URL path segment: OVMS URL-decodes it (OpenVINO%2FQwen3 -> OpenVINO/Qwen3)."""
    return unquote(encoded)


def model_metadata(name: str, behaviour: dict) -> dict:
    return {"name": name, "versions": ["1"], "platform": "OpenVINO",
            "inputs": behaviour.get("inputs", DEFAULT_INPUTS), "outputs": behaviour.get("outputs", DEFAULT_OUTPUTS)}


def _error(behaviour: dict) -> tuple[int, dict]:
    return 500, {"error": behaviour.get("error", "Internal server error")}


def _answer_mode(behaviour: dict) -> str:
    answer = behaviour.get("answer", "ok")
    if answer not in ANSWERS:
        raise ValueError(f"unknown stand-in answer {answer!r} (expected one of {', '.join(ANSWERS)})")
    return answer


def _count(shape) -> int:
    n = 1
    for d in shape:
        n *= d
    return n


def _flat(data) -> list:
    out = []
    for item in data:
        out.extend(_flat(item) if isinstance(item, list) else [item])
    return out


def answer_v3(script: dict, version: float, now: float, path: str, content_type: str, raw: bytes) -> tuple[int, dict]:
    """(HTTP status, body) of a POST to a /v3 endpoint of a generative servable."""
    path = path.replace("/v3/v1/", "/v3/", 1)
    if path not in V3_ENDPOINTS:
        return 404, {"error": "not found"}
    if (content_type or "").split(";")[0].strip().lower() != "application/json":
        # OVMS then takes the model name from the URI, which names none: the request fails
        return 400, {"error": "model name missing: send Content-Type: application/json and a JSON body with \"model\""}
    try:
        body = json.loads(raw or b"{}")
    except ValueError:
        return 400, {"error": "request body is not valid JSON"}
    if not isinstance(body, dict) or not isinstance(body.get("model"), str):
        return 400, {"error": "model field is missing in JSON body"}
    name = body["model"]
    behaviour = script.get(name)
    if behaviour is None:
        return 404, {"error": "Mediapipe graph definition with requested name is not found"}
    state, _code = model_status(behaviour, first_seen(version, name, now), now)
    if state != "AVAILABLE":
        return 503, {"error": "Mediapipe graph definition with requested name is not yet loaded"}
    task, required = V3_ENDPOINTS[path]
    if behaviour.get("task") != task:
        return 400, {"error": f"servable {name} ({behaviour.get('task') or 'a classic model'}) does not serve {path}"}
    missing = [f for f in required if f not in body]
    if missing:
        return 400, {"error": f"{missing[0]} field is missing in JSON body"}
    answer = _answer_mode(behaviour)
    if answer == "error":
        return _error(behaviour)
    created = int(now)
    if path == "/v3/chat/completions":
        if answer == "wrong_shape":  # an embeddings-style list instead of a chat completion
            return 200, {"object": "list", "data": [{"object": "embedding", "embedding": [0.0], "index": 0}]}
        tokens = min(body.get("max_tokens") or body.get("max_completion_tokens") or 16, 16)
        return 200, {"id": "chatcmpl-standin", "object": "chat.completion", "created": created, "model": name,
                     "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hi"[:tokens]},
                                  "finish_reason": "length", "logprobs": None}],
                     "usage": {"prompt_tokens": 9, "completion_tokens": tokens, "total_tokens": 9 + tokens}}
    if path == "/v3/completions":
        if answer == "wrong_shape":
            return 200, {"object": "text_completion", "choices": []}
        return 200, {"id": "cmpl-standin", "object": "text_completion", "created": created, "model": name,
                     "choices": [{"index": 0, "text": "H", "finish_reason": "length", "logprobs": None}],
                     "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}
    if path == "/v3/embeddings":
        inputs = body["input"] if isinstance(body["input"], list) else [body["input"]]
        if answer == "wrong_shape":  # the vector as a string
            return 200, {"object": "list", "data": [{"object": "embedding", "embedding": "AAAA", "index": 0}]}
        return 200, {"object": "list", "model": name,
                     "data": [{"object": "embedding", "embedding": [0.125, -0.25, 0.5, 0.0], "index": i}
                              for i in range(len(inputs))],
                     "usage": {"prompt_tokens": len(inputs), "total_tokens": len(inputs)}}
    documents = body["documents"] if isinstance(body["documents"], list) else []
    if answer == "wrong_shape":  # no relevance scores
        return 200, {"results": [{"index": i} for i in range(len(documents))]}
    return 200, {"results": sorted(({"index": i, "relevance_score": round(1.0 / (i + 2), 4)}
                                    for i in range(len(documents))), key=lambda r: -r["relevance_score"])}


def answer_infer(script: dict, version: float, now: float, name: str, raw: bytes) -> tuple[int, dict]:
    """(HTTP status, body) of a KServe v2 inference request to a classic model."""
    behaviour = script.get(name)
    if behaviour is None:
        return 404, {"error": "Model with requested name is not found"}
    state, _code = model_status(behaviour, first_seen(version, name, now), now)
    if state != "AVAILABLE":
        return 404, {"error": "Model version not available"}
    try:
        body = json.loads(raw or b"{}")
    except ValueError:
        return 400, {"error": "Invalid JSON in request body"}
    expected = dict((i["name"], i) for i in behaviour.get("inputs", DEFAULT_INPUTS))
    inputs = body.get("inputs") if isinstance(body, dict) else None
    if not isinstance(inputs, list) or not inputs:
        return 400, {"error": "Invalid request: no inputs"}
    batch = 1
    for tensor in inputs:
        spec = expected.get(tensor.get("name"))
        if spec is None:
            return 400, {"error": f"Invalid input name: {tensor.get('name')!r}"}
        shape = tensor.get("shape")
        if not isinstance(shape, list) or len(shape) != len(spec["shape"]) or any(
                not isinstance(d, int) or d < 1 or (e != -1 and d != e) for d, e in zip(shape, spec["shape"])):
            return 400, {"error": f"Invalid input shape {shape} for {spec['name']} (model: {spec['shape']})"}
        if tensor.get("datatype") != spec["datatype"]:
            return 400, {"error": f"Invalid datatype {tensor.get('datatype')!r} for {spec['name']} "
                                  f"(model: {spec['datatype']})"}
        data = tensor.get("data")
        if not isinstance(data, list) or len(_flat(data)) != _count(shape):
            return 400, {"error": f"Invalid number of elements in {spec['name']}: expected {_count(shape)}"}
        batch = shape[0] if shape else 1
    missing = sorted(set(expected) - set(t.get("name") for t in inputs))
    if missing:
        return 400, {"error": f"Missing input: {missing[0]}"}
    answer = _answer_mode(behaviour)
    if answer == "error":
        return _error(behaviour)
    if answer == "wrong_shape":
        return 200, {"model_name": name, "model_version": "1", "outputs": []}
    outputs = []
    for out in behaviour.get("outputs", DEFAULT_OUTPUTS):
        shape = [batch if d == -1 else d for d in out["shape"]]
        outputs.append({"name": out["name"], "datatype": out["datatype"], "shape": shape,
                        "data": [0.0] * _count(shape)})
    return 200, {"model_name": name, "model_version": "1", "outputs": outputs}


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
            name, ready = model_name(m.group(1)), m.group(2)
            if name not in script:
                return self._send(404, {"error": "Model with requested name is not found"})
            state, _ = model_status(script[name], first_seen(version, name, now), now)
            if state != "AVAILABLE":
                return self._send(404, {"error": "Model version not available"})
            if ready:
                return self._send(200, {})
            return self._send(200, model_metadata(name, script[name]))
        return self._send(404, {"error": "not found"})

    def do_POST(self):  # noqa: N802 (http.server's naming)
        script, version = self._script()
        now = time.time()
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        path = self.path.split("?", 1)[0].rstrip("/")
        m = re.match(r"^/v2/models/([^/]+)(/versions/[0-9]+)?/infer$", path)
        if m:
            return self._send(*answer_infer(script, version, now, model_name(m.group(1)), raw))
        if path.startswith("/v3/"):
            return self._send(*answer_v3(script, version, now, path, self.headers.get("Content-Type"), raw))
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
