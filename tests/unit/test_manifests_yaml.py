"""The to_manifests_yaml filter: one YAML document per manifest, in order, as kubectl apply -f reads them.
(tests/integration/test_installed_collection.py applies its output with the real kubectl.)"""
import pytest
import yaml
from ansible.errors import AnsibleFilterError

import collection_path

collection_path.ensure()
from ansible_collections.openvino.ovms.plugins.filter.modelserver_manifests import modelserver_manifests  # noqa: E402
from ansible_collections.openvino.ovms.plugins.filter.to_manifests_yaml import to_manifests_yaml  # noqa: E402


def server(name):
    return {"apiVersion": "intel.com/v1alpha1", "kind": "ModelServer", "metadata": {"name": name, "namespace": "ovms"},
            "spec": {"models_settings": {"model_name": name, "model_path": "gs://b/%s" % name}}}


def test_servers_manifests_become_one_document_each_in_order():
    per_server = [modelserver_manifests(server("a")), modelserver_manifests(server("b"))]
    text = to_manifests_yaml(per_server)
    docs = list(yaml.safe_load_all(text))
    assert docs == per_server[0] + per_server[1]
    assert text.startswith("---\napiVersion: ")
    assert text.count("\n---\n") == len(docs) - 1
    # keys keep the order kubectl users read: apiVersion, kind, metadata first
    assert list(docs[0])[:3] == ["apiVersion", "kind", "metadata"]


def test_one_manifest_and_a_flat_list():
    manifests = modelserver_manifests(server("a"))
    assert list(yaml.safe_load_all(to_manifests_yaml(manifests[0]))) == [manifests[0]]
    assert list(yaml.safe_load_all(to_manifests_yaml(manifests))) == manifests
    assert to_manifests_yaml([]) == ""


@pytest.mark.parametrize("bad,message", [
    ("text", "expected a manifest or a list of manifests, got str"),
    ([["x"]], "item 0.0 is not a manifest"),
    ([{"kind": "Service", "metadata": {"name": "s"}}], "document 0 is not a Kubernetes manifest (needs apiVersion, kind "
                                                         "and metadata.name): apiVersion"),
    ([{"apiVersion": "v1", "kind": "Service", "metadata": {}}], "metadata"),
])
def test_refuses_what_is_not_a_manifest(bad, message):
    with pytest.raises(AnsibleFilterError) as err:
        to_manifests_yaml(bad)
    assert message in str(err.value)
