"""Property-based tests (hypothesis) of the input contract, without a cluster:

- arbitrary junk (any JSON- or YAML-like value anywhere: spec, groups, fields, metadata, the manifest, a src file,
  fleet entries; every state) never raises anything but SpecError naming a field, and no request is attempted;
- every refusal of a spec the CRD allows falls under a rule listed in docs/validation.md.

The summary lines give the figures (examples tried, accepted, refused per rule).
"""
from __future__ import annotations

import collections
import json

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from ansible_collections.openvino.ovms.plugins.module_utils import _render, _runner, _secrets, _spec
from ansible_collections.openvino.ovms.plugins.modules.modelserver import PLAIN_KEYS
from spec_strategies import NASTY_NAMES, bounded, crd_specs, junk, junk_specs, rule_of


class ReachedCluster(Exception):
    """The input was accepted: the module got as far as its first request."""


class _RefusingPool:
    def request(self, *args, **kwargs):
        raise ReachedCluster()


class _Configuration:
    host = "https://127.0.0.1:1"

    def auth_settings(self):
        return {}


class NoCluster:
    """An api_client whose first request ends the test case: nothing is sent anywhere. It offers what _client.send
    uses of a kubernetes ApiClient: configuration, default_headers and rest_client.pool_manager."""
    user_agent = None
    default_headers = {}
    configuration = _Configuration()

    class rest_client:  # noqa: N801 (the kubernetes ApiClient's attribute name)
        pool_manager = _RefusingPool()


def outcome(call, stats):
    """Run call(); SpecError and ReachedCluster are the only acceptable ends. Returns the SpecError or None."""
    try:
        call()
    except ReachedCluster:
        stats["accepted (reached the first request)"] += 1
        return None
    except _spec.SpecError as exc:
        assert exc.path and str(exc).startswith(exc.path + ": ") and exc.message, str(exc)
        stats["refused"] += 1
        return exc
    except Exception as exc:  # anything else is a bug: count it, then fail with the traceback
        stats["tracebacks"] += 1
        raise AssertionError("%s: %s raised instead of SpecError" % (type(exc).__name__, exc)) from exc
    stats["accepted (no request needed)"] += 1
    return None


def module_path(params, stats):
    """What the module does before its first request: find the credentials to mask (MaskingModule), resolve the
    input (main), then run or run_fleet."""
    def call():
        _secrets.credential_values(params, PLAIN_KEYS)
        if params.get("servers") is not None:
            _runner.run_fleet(params, NoCluster())
        else:
            _runner.resolve(params)
            _runner.run(params, NoCluster())
    return outcome(call, stats)


STATES = st.sampled_from([{"state": "present"}, {"state": "absent"}, {"state": "rollback", "revision": 3},
                          {"state": "rollback", "revision": 0}])
NAMES = st.one_of(st.sampled_from(NASTY_NAMES + ["resnet"]), st.sampled_from(["resnet"]), junk)


def _params(**kw):
    base = {"state": "present", "prune": True, "force_conflicts": False, "parallel": 2, "servers": None,
            "definition": None, "src": None, "name": None, "namespace": None, "revision": None}
    base.update(kw)
    return base


@st.composite
def junk_invocations(draw, tmp_dir):
    """Module parameters with junk somewhere, in every input form and state."""
    state = draw(STATES)
    form = draw(st.sampled_from(["options", "definition", "src-yaml", "src-bytes", "fleet"]))
    name, namespace = draw(NAMES), draw(st.one_of(st.sampled_from(NASTY_NAMES + ["ovms"]), st.just("ovms"), junk))
    spec = draw(junk_specs())
    manifest = {"apiVersion": draw(st.sampled_from([_spec.API_VERSION, _spec.API_VERSION, "v1", None])),
                "kind": draw(st.sampled_from([_spec.KIND, _spec.KIND, "Deployment", None, 7])),
                "metadata": draw(st.one_of(st.just({"name": name, "namespace": namespace}), junk)), "spec": spec}
    if draw(st.integers(0, 5)) == 0:
        manifest = draw(st.dictionaries(st.text(max_size=8), junk, max_size=4))
    if form == "options":
        groups = spec if isinstance(spec, dict) else {"models_settings": spec}
        options = dict((k, v) for k, v in groups.items() if k in _spec.FIELDS and v is not None)
        # Ansible turns the options name and namespace into strings (type str) before the module sees them
        return _params(name=name if isinstance(name, str) else "n-%s" % type(name).__name__,
                       namespace=namespace if isinstance(namespace, str) else "ns-%s" % type(namespace).__name__,
                       **dict(options, **state))
    if form == "definition":
        return _params(definition=manifest, **state)
    if form == "fleet":
        servers = [manifest] + [m for m in draw(st.lists(st.dictionaries(st.text(max_size=6), junk, max_size=3),
                                                         max_size=2))]
        return _params(servers=servers, **({"state": "absent"} if state["state"] == "absent" else {}))
    path = tmp_dir / "ms.yaml"
    if form == "src-bytes":
        path.write_bytes(draw(st.binary(max_size=64)))
    else:
        docs = [manifest] + draw(st.lists(junk, max_size=2))
        try:
            text = yaml.safe_dump_all(docs, allow_unicode=True)
        except (yaml.YAMLError, ValueError):  # not representable in YAML (bytes keys, 5000-digit numbers, ...)
            text = json.dumps(dict(MS, spec="not representable in YAML"))
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
    return _params(src=str(path), **state)


def test_junk_never_raises_anything_but_spec_error(tmp_path, capsys):
    stats, rules = collections.Counter(), collections.Counter()

    @bounded(400)
    @given(st.data())
    def prop(data):
        params = data.draw(junk_invocations(tmp_path))
        stats["tried"] += 1
        error = module_path(params, stats)
        if error is not None:
            rules[rule_of(error) or "UNDOCUMENTED: " + str(error)[:120]] += 1

    prop()
    with capsys.disabled():
        print("\n[hypothesis] junk through the module's input path: %d tried, %d refused, %d accepted, %d tracebacks; "
              "refused per rule: %s" % (stats["tried"], stats["refused"], stats["accepted (reached the first request)"]
                                        + stats["accepted (no request needed)"], stats["tracebacks"],
                                        ", ".join("%s %d" % kv for kv in rules.most_common())))
    assert stats["tracebacks"] == 0
    assert stats["refused"] > stats["tried"] // 2, stats
    undocumented = [k for k in rules if k.startswith("UNDOCUMENTED")]
    assert not undocumented, "refusals that docs/validation.md does not list: %s" % undocumented


def test_crd_specs_render_or_are_refused_by_a_documented_rule(capsys):
    stats, rules = collections.Counter(), collections.Counter()

    @bounded(400)
    @given(crd_specs(), st.sampled_from(["resnet", "vision-ovms"]))
    def prop(spec, name):
        stats["tried"] += 1
        try:
            manifests = _render.manifests_for(name=name, namespace="ovms", spec=spec)[0]
        except _spec.SpecError as exc:
            rule = rule_of(exc)
            assert rule, "refused by no rule docs/validation.md lists: %s" % exc
            rules[rule] += 1
            return
        assert {"Deployment", "Service"} <= set(m["kind"] for m in manifests)
        json.dumps(manifests)  # what goes on the wire
        stats["rendered"] += 1

    prop()
    with capsys.disabled():
        print("\n[hypothesis] specs the CRD allows: %d tried, %d rendered; refused per rule: %s" % (
            stats["tried"], stats["rendered"], ", ".join("%s %d" % kv for kv in rules.most_common())))
    assert stats["rendered"] > stats["tried"] // 10, (stats, rules)


@pytest.mark.parametrize("patch", [
    {"models_settings": {"shape": "(1,3,-1,1:8)"}},
    {"models_settings": {"shape": '{"data": "(1,3,224,224)"}'}},
    {"models_settings": {"shape": "(1,3,224,224)"}},
])
def test_the_shape_messages_own_examples_are_accepted(patch):
    from helpers import BASE, merge

    _render.manifests_for(name="resnet", namespace="ovms", spec=merge(BASE, patch))
    with pytest.raises(_spec.SpecError) as exc:
        _render.manifests_for(name="resnet", namespace="ovms", spec=merge(BASE, {"models_settings": {"shape": "[1]"}}))
    for example in ("(1,3,224,224)", "1:8", '{"data": "(1,3,224,224)"}'):
        assert example in exc.value.message


MS = {"apiVersion": _spec.API_VERSION, "kind": _spec.KIND, "metadata": {"name": "resnet", "namespace": "ovms"},
      "spec": {"models_settings": {"model_path": "gs://b/m"}}}


@pytest.mark.parametrize("params, message", [
    (_params(name="resnet", namespace="ns/../kube-system", state="absent"), "metadata.namespace: 'ns/../kube-system'"),
    (_params(name="resnet", namespace="Bad_NS", state="rollback", revision=2), "metadata.namespace: 'Bad_NS'"),
    (_params(servers=[dict(MS, metadata={"name": "r", "namespace": "ns/../kube-system"})], state="absent"),
     "servers[0].metadata.namespace: 'ns/../kube-system'"),
    (_params(definition=dict(MS, spec="big")), "spec: expected an object (mapping), got str"),
    (_params(definition=dict(MS, metadata="resnet")), "metadata: expected an object (mapping)"),
    (_params(definition=dict(MS, spec={"models_settings": "x"})), "spec.models_settings: expected an object (mapping)"),
    (_params(servers=[dict(MS, spec=["a"])]), "servers[0].spec: expected an object (mapping), got list"),
    (_params(definition=dict(MS, kind="Deployment")), "definition.kind: expected ModelServer, got 'Deployment'"),
])
def test_refused_before_any_request(params, message):
    stats = collections.Counter()
    error = module_path(params, stats)
    assert error is not None and str(error).startswith(message), (str(error), stats)


@pytest.mark.parametrize("content, message", [
    (b"\x89PNG\r\n\x1a\n\x00\x00", "is not a UTF-8 text file"),
    (yaml.safe_dump_all([MS, MS]).encode(), "expected exactly one ModelServer document"),
    (yaml.safe_dump(dict(MS, spec="a string")).encode(), "spec: expected an object (mapping), got str"),
    (b"kind: [unclosed", "is not valid YAML"),
])
def test_src_files(tmp_path, content, message):
    src = tmp_path / "ms.yaml"
    src.write_bytes(content)
    error = module_path(_params(src=str(src)), collections.Counter())
    assert error is not None and message in str(error), str(error)
