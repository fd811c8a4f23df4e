"""Helpers for unit tests of the collection's module_utils."""
import copy

from ansible_collections.openvino.ovms.plugins.module_utils import _render

BASE = {"models_settings": {"model_path": "gs://bucket/resnet"}}


def merge(base, patch):
    out = copy.deepcopy(base)
    for k, v in patch.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


def render(patch=None, name="resnet", namespace="ovms"):
    """{kind: manifest} (Secrets as {'Secret/<name>': manifest}) for BASE + patch."""
    manifests, spec, _, _, warnings = _render.manifests_for(name=name, namespace=namespace,
                                                            spec=merge(BASE, patch or {}))
    out = {}
    for m in manifests:
        key = m["kind"] if m["kind"] != "Secret" else "Secret/" + m["metadata"]["name"]
        out[key] = m
    return out


def container(objs):
    return objs["Deployment"]["spec"]["template"]["spec"]["containers"][0]


def args(objs):
    return container(objs)["args"]


def env(objs):
    return {e["name"]: e for e in container(objs).get("env", [])}
