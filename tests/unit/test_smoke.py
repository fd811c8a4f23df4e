"""Generative servables and smoke requests (plugins/module_utils/_status.py): which servables a Deployment expects,
the smallest real request per task, the checks of each answer's shape, the zero tensor of a classic model, and the
stand-in (tools/localcluster/ovms_standin.py, a TEST DOUBLE) answering them as OVMS does."""
import json

import pytest

from ansible_collections.openvino.ovms.plugins.module_utils import _status
from localcluster import ovms_standin as standin

CHAT_OK = {"id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "qwen",
           "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hi"}, "finish_reason": "length"}],
           "usage": {"prompt_tokens": 9, "completion_tokens": 1, "total_tokens": 10}}
EMBED_OK = {"object": "list", "data": [{"object": "embedding", "embedding": [0.1, -0.2], "index": 0}],
            "usage": {"prompt_tokens": 1, "total_tokens": 1}}
RERANK_OK = {"results": [{"index": 1, "relevance_score": 0.9}, {"index": 0, "relevance_score": 0.01}]}


def changed(body, path, value):
    """A deep copy of body with the value at path (a list of keys) replaced, or removed when value is DROP."""
    out = json.loads(json.dumps(body))
    node = out
    for key in path[:-1]:
        node = node[key]
    if value is DROP:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return out


DROP = object()


def deployment(annotation=None, on_template=None, args=None):
    dep = {"metadata": {"name": "llm-ovms", "annotations": {}},
           "spec": {"template": {"metadata": {"annotations": {}}, "spec": {"containers": [
               {"name": "ovms", "args": args or []}]}}}}
    if annotation is not None:
        dep["metadata"]["annotations"][_status.SERVABLES_ANNOTATION] = annotation
    if on_template is not None:
        dep["spec"]["template"]["metadata"]["annotations"][_status.SERVABLES_ANNOTATION] = on_template
    return dep


def test_servables_come_from_the_annotation_the_renderer_writes():
    servables = [{"name": "qwen", "task": "text_generation"},
                 {"name": "OpenVINO/bge-base-en-v1.5-fp16-ov", "task": "embeddings"}]
    assert _status.generative_servables(deployment(json.dumps(servables))) == servables
    assert _status.generative_servables(deployment(on_template=json.dumps(servables[:1]))) == servables[:1]
    assert _status.generative_servables(deployment()) == []                      # a classic server
    assert _status.generative_servables(deployment("not json")) == []
    assert _status.generative_servables(deployment('{"name": "qwen"}')) == []    # not a list
    assert _status.generative_servables(deployment('[{"task": "rerank"}, "x", {"name": "r"}]')) == [
        {"name": "r", "task": None}]


def test_expected_models_are_the_classic_ones_plus_the_servables_each_once():
    servables = [{"name": "qwen", "task": "text_generation"}, {"name": "bge", "task": "embeddings"}]
    assert _status.with_servables(["qwen"], servables) == ["qwen", "bge"]   # --model_name=qwen and the annotation
    assert _status.with_servables(None, servables) == ["qwen", "bge"]       # config on a volume: the annotation knows
    assert _status.with_servables(None, []) is None                         # nothing known
    assert _status.with_servables(["resnet"], []) == ["resnet"]
    dep = deployment(json.dumps(servables), args=["--model_name=qwen", "--rest_port=8081"])
    assert _status.with_servables(_status.expected_models(dep, {}), _status.generative_servables(dep)) == [
        "qwen", "bge"]


def test_smoke_option_auto_or_a_boolean_as_strings_give_it():
    assert _status.smoke_setting("auto") == "auto" and _status.smoke_setting(" AUTO ") == "auto"
    assert _status.smoke_setting("yes") is True and _status.smoke_setting(False) is False
    assert _status.smoke_setting("0") is False
    with pytest.raises(TypeError):
        _status.smoke_setting("sometimes")
    generative = [{"name": "qwen", "task": "text_generation"}]
    assert _status.smoke_wanted("auto", generative) == "generative"
    assert _status.smoke_wanted("auto", []) is None          # classic: off unless asked for
    assert _status.smoke_wanted(True, []) == "all"
    assert _status.smoke_wanted(False, generative) is None   # turned off


def test_names_with_a_slash_are_sent_percent_encoded():
    assert _status.model_url_path("OpenVINO/Qwen3-8B-int4-ov", "/ready") == "/v2/models/OpenVINO%2FQwen3-8B-int4-ov/ready"
    assert _status.model_url_path("resnet") == "/v2/models/resnet"
    assert _status.model_url_path("a b", "/infer") == "/v2/models/a%20b/infer"


def test_ready_endpoint_only_where_the_name_arrives_intact():
    assert _status.ready_check_possible("resnet") is True
    # the API server's service proxy decodes %2F: such a name would arrive split
    assert _status.ready_check_possible("OpenVINO/Qwen3-8B-int4-ov") is False
    assert _status.ready_check_possible("OpenVINO/Qwen3-8B-int4-ov", "http://127.0.0.1:8000") is True


def test_the_smallest_request_per_task_is_the_reference_one():
    step, path, make = _status.SMOKE_REQUESTS["text_generation"]
    assert (step, path) == ("chat completion", "/v3/chat/completions")
    assert make("qwen") == {"model": "qwen", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 1}
    step, path, make = _status.SMOKE_REQUESTS["embeddings"]
    assert (step, path, make("bge")) == ("embedding", "/v3/embeddings", {"model": "bge", "input": ["hi"]})
    step, path, make = _status.SMOKE_REQUESTS["rerank"]
    assert (step, path, make("r")) == ("rerank", "/v3/rerank", {"model": "r", "query": "hi", "documents": ["a", "b"]})
    assert "image_generation" not in _status.SMOKE_REQUESTS


@pytest.mark.parametrize("path,value,expected", [
    (["object"], "text_completion", 'object is "text_completion", expected "chat.completion"'),
    (["choices"], [], "choices is [], expected a non-empty list"),
    (["choices", 0, "message", "role"], "user", 'choices[0].message.role is "user", expected "assistant"'),
    (["choices", 0, "message"], DROP, "choices[0].message.role is null"),
    (["choices", 0, "message", "content"], 7, "choices[0].message.content is 7, expected a string"),
    (["choices", 0, "finish_reason"], None, "choices[0].finish_reason is null"),
    (["usage"], DROP, "usage.prompt_tokens is null, expected a count"),
    (["usage", "total_tokens"], "10", 'usage.total_tokens is "10", expected a count'),
    (["usage", "completion_tokens"], 5, "usage.completion_tokens is 5: max_tokens 1 was not honoured"),
])
def test_chat_answer_checks_name_the_wrong_field(path, value, expected):
    assert _status.check_chat_answer(CHAT_OK) is None
    assert _status.check_chat_answer(changed(CHAT_OK, ["choices", 0, "finish_reason"], "stop")) is None
    assert _status.check_chat_answer(changed(CHAT_OK, ["choices", 0, "message", "content"], None)) is None
    assert _status.check_chat_answer(changed(CHAT_OK, path, value)).startswith(expected)


@pytest.mark.parametrize("path,value,expected", [
    (["object"], "embedding", 'object is "embedding", expected "list"'),
    (["data"], [], "data is [], expected a list of 1 embedding(s)"),
    (["data", 0, "object"], "vector", 'data[0].object is "vector", expected "embedding"'),
    (["data", 0, "embedding"], "AAAA", 'data[0].embedding is "AAAA", expected a non-empty list of numbers'),
    (["data", 0, "embedding"], [], "data[0].embedding is [], expected a non-empty list of numbers"),
    (["data", 0, "embedding"], [0.1, True], "data[0].embedding is [0.1, true]"),
    (["data", 0, "index"], DROP, "data[0].index is null, expected a count"),
    (["usage"], DROP, "usage is null, expected an object"),
])
def test_embeddings_answer_checks_name_the_wrong_field(path, value, expected):
    assert _status.check_embeddings_answer(EMBED_OK) is None
    assert _status.check_embeddings_answer(changed(EMBED_OK, path, value)).startswith(expected)


@pytest.mark.parametrize("path,value,expected", [
    (["results"], DROP, "results is null, expected a list of 2 results (one per document)"),
    (["results"], [{"index": 0, "relevance_score": 0.5}], "results is [{"),
    (["results", 0, "relevance_score"], DROP, "results[0].relevance_score is null, expected a number from 0 to 1"),
    (["results", 0, "relevance_score"], 1.5, "results[0].relevance_score is 1.5"),
    (["results", 0, "index"], 2, "results[0].index is 2, expected a document index below 2"),
    (["results", 0, "index"], 0, "results name the documents [0, 0], expected each of 0..1 once"),
])
def test_rerank_answer_checks_name_the_wrong_field(path, value, expected):
    assert _status.check_rerank_answer(RERANK_OK) is None
    assert _status.check_rerank_answer(changed(RERANK_OK, path, value)).startswith(expected)


def test_zero_tensor_is_shaped_from_the_metadata():
    meta = {"inputs": [{"name": "x", "datatype": "FP32", "shape": [-1, 3, 2]},
                       {"name": "mask", "datatype": "BOOL", "shape": [2]}],
            "outputs": [{"name": "y", "datatype": "FP32", "shape": [-1, 4]}]}
    assert _status.zero_tensor_request(meta) == {"inputs": [
        {"name": "x", "datatype": "FP32", "shape": [1, 3, 2], "data": [0] * 6},
        {"name": "mask", "datatype": "BOOL", "shape": [2], "data": [False, False]}]}
    with pytest.raises(ValueError, match="input t is BYTES"):
        _status.zero_tensor_request({"inputs": [{"name": "t", "datatype": "BYTES", "shape": [1]}]})
    with pytest.raises(ValueError, match="too many for a JSON smoke request"):
        _status.zero_tensor_request({"inputs": [{"name": "big", "datatype": "FP32", "shape": [64, 3, 1024, 1024]}]})
    with pytest.raises(ValueError, match="lists no inputs"):
        _status.zero_tensor_request({"inputs": []})
    with pytest.raises(ValueError, match="has no name, datatype or shape"):
        _status.zero_tensor_request({"inputs": [{"name": "x", "shape": [1]}]})


def test_infer_answer_checks():
    meta = {"outputs": [{"name": "y", "datatype": "FP32", "shape": [-1, 2]}]}
    ok = {"model_name": "m", "outputs": [{"name": "y", "datatype": "FP32", "shape": [1, 2], "data": [0.0, 1.0]}]}
    assert _status.check_infer_answer(ok, meta) is None
    nested = changed(ok, ["outputs", 0, "data"], [[0.0, 1.0]])
    assert _status.check_infer_answer(nested, meta) is None
    assert _status.check_infer_answer({"outputs": []}, meta) == "outputs is [], expected a non-empty list"
    assert _status.check_infer_answer(changed(ok, ["outputs", 0, "data"], [0.0]), meta) == \
        "outputs[0] (y) holds 1 elements, its shape [1, 2] says 2"
    assert _status.check_infer_answer(changed(ok, ["outputs", 0, "name"], "z"), meta) == \
        "output y of the model's metadata is missing"
    assert _status.check_infer_answer(changed(ok, ["outputs", 0, "shape"], [-1, 2]), meta).startswith(
        "outputs[0].shape is [-1, 2]")


def test_ovms_error_takes_what_ovms_said():
    assert _status.ovms_error(500, {"error": "Model not found"}) == "HTTP 500: Model not found"
    assert _status.ovms_error(400, {"error": {"message": "bad"}}) == "HTTP 400: bad"
    assert _status.ovms_error(503, {"kind": "Status", "message": "no endpoints available for service \"x\""}) == \
        'HTTP 503: no endpoints available for service "x"'
    assert _status.ovms_error(502, "<html>bad gateway</html>") == "HTTP 502: <html>bad gateway</html>"


class StandinOverProxy:
    """A unit-level stand-in for _reconcile.Api: a service proxy request goes straight to the stand-in's answer
    functions (the test double of OVMS), so that these tests pin the contract between the two. The integration
    tests send the same requests through a real API server's proxy to the stand-in in the pod network."""

    def __init__(self, script):
        self.script, self.sent = script, []

    def request(self, method, path, body=None, query=None, content_type=None, retry_statuses=True, count_as=None):
        from urllib.parse import unquote

        prefix = "/api/v1/namespaces/ns/services/svc:rest/proxy"
        assert path.startswith(prefix), path
        path = path[len(prefix):]
        self.sent.append((method, path, body))
        raw = json.dumps(body).encode() if body is not None else b""
        if method == "POST" and path.startswith("/v3/"):
            return standin.answer_v3(self.script, 1.0, 10.0, path, "application/json", raw)
        if method == "POST":
            return standin.answer_infer(self.script, 1.0, 10.0, unquote(path.split("/")[3]), raw)
        name = unquote(path.split("/")[3])
        assert path == "/v2/models/" + path.split("/")[3], path
        return 200, standin.model_metadata(name, self.script[name])


def test_smoke_requests_pass_against_the_standin_and_fail_naming_model_step_and_error():
    script = {"OpenVINO/Qwen3-8B-int4-ov": {"task": "text_generation"}, "bge": {"task": "embeddings"},
              "rr": {"task": "rerank"}, "sd": {"task": "image_generation"}, "resnet": {},
              "badchat": {"task": "text_generation", "answer": "wrong_shape"},
              "badembed": {"task": "embeddings", "answer": "wrong_shape"},
              "badrr": {"task": "rerank", "answer": "wrong_shape"},
              "crash": {"task": "text_generation", "answer": "error", "error": "Response generation failed"},
              "badres": {"answer": "wrong_shape"}}
    servables = [{"name": n, "task": b["task"]} for n, b in script.items() if "task" in b]
    api = StandinOverProxy(script)
    got = _status.smoke_test(api, "ns", "svc", list(script), servables, "all")
    lines = dict((m, _status.smoke_line(m, r)) for m, r in got.items())
    assert lines == {
        "OpenVINO/Qwen3-8B-int4-ov": "model OpenVINO/Qwen3-8B-int4-ov: chat completion OK",
        "bge": "model bge: embedding OK",
        "rr": "model rr: rerank OK",
        "sd": "model sd: smoke skipped (no smoke request for task image_generation)",
        "resnet": "model resnet: KServe v2 inference OK",
        "badchat": 'model badchat: chat completion (POST /v3/chat/completions) failed: the answer has the wrong '
                   'shape: object is "list", expected "chat.completion"',
        "badembed": 'model badembed: embedding (POST /v3/embeddings) failed: the answer has the wrong shape: '
                    'data[0].embedding is "AAAA", expected a non-empty list of numbers',
        "badrr": "model badrr: rerank (POST /v3/rerank) failed: the answer has the wrong shape: "
                 "results[0].relevance_score is null, expected a number from 0 to 1",
        "crash": "model crash: chat completion (POST /v3/chat/completions) failed: HTTP 500: Response generation "
                 "failed",
        "badres": "model badres: KServe v2 inference (POST /v2/models/badres/infer) failed: the answer has the "
                  "wrong shape: outputs is [], expected a non-empty list",
    }
    assert got["OpenVINO/Qwen3-8B-int4-ov"]["status"] == 200
    # the classic model's zero tensor: the stand-in checked names, datatype, shape and element count
    infer = [b for m, p, b in api.sent if p == "/v2/models/resnet/infer"][0]
    assert infer["inputs"][0]["shape"] == [1, 3, 224, 224] and len(infer["inputs"][0]["data"]) == 150528
    # auto (generative): classic models get nothing
    api = StandinOverProxy(script)
    assert "resnet" not in _status.smoke_test(api, "ns", "svc", list(script), servables, "generative")
    assert not [p for m, p, b in api.sent if "resnet" in p]


def test_add_smoke_only_once_every_model_is_available():
    script = {"qwen": {"task": "text_generation"}}
    info = {"service": "svc", "servables": [{"name": "qwen", "task": "text_generation"}], "expected_models": ["qwen"],
            "models": {"qwen": {"available": False, "state": "LOADING"}}, "models_ok": False}
    api = StandinOverProxy(script)
    _status.add_smoke(api, "ns", info, "auto")
    assert api.sent == [] and info["smoke_ok"] is False and info["smoke"] == {}
    info.update(models={"qwen": {"available": True, "state": "AVAILABLE"}}, models_ok=True)
    _status.add_smoke(api, "ns", info, "auto")
    assert info["smoke_ok"] is True and info["smoke_failed"] == [] and len(api.sent) == 1
    _status.add_smoke(StandinOverProxy(script), "ns", info, False)
    assert info["smoke"] == {} and info["smoke_ok"] is True


def test_failure_names_the_failed_smoke_request():
    info = {"rollout": {"complete": True}, "models": {"qwen": {"available": True}},
            "smoke": {"qwen": {"step": "chat completion", "request": "POST /v3/chat/completions", "ok": False,
                               "status": 500, "error": "HTTP 500: boom", "skipped": None}},
            "smoke_failed": ["qwen"]}
    assert _status.failure_summary(info) == \
        "model qwen: chat completion (POST /v3/chat/completions) failed: HTTP 500: boom"


def test_progress_while_downloading_and_loading():
    servables = [{"name": "qwen", "task": "text_generation"}, {"name": "bge", "task": "embeddings"},
                 {"name": "rr", "task": "rerank"}]
    info = {"servables": servables, "models": {
        "qwen": {"available": False, "state": "MISSING", "error_code": None, "error_message": "x"},
        "bge": {"available": False, "state": "LOADING", "error_code": "OK", "error_message": "OK"},
        "rr": {"available": True, "state": "AVAILABLE"}}}
    assert _status.servables_progress(info, [{"started": 1000}], 1042) == (
        "1/3 generative servables AVAILABLE; qwen (text_generation): not in /v1/config yet (downloading or starting, "
        "pod up 42 s); bge (embeddings): LOADING (loading or compiling, pod up 42 s)")
    info["models"]["bge"].update(error_code="UNKNOWN", error_message="Failed to read graph")
    assert "bge (embeddings): load failed (error_code UNKNOWN: Failed to read graph)" in \
        _status.servables_progress(info)
    assert _status.servables_progress({"servables": [], "models": {}}) is None
    assert _status._epoch("2026-12-03T05:21:00Z") == 1796275260 and _status._epoch(None) is None
