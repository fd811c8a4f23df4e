# -*- coding: utf-8 -*-
# Copyright (c) openvino.ovms contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The to_manifests_yaml filter: Kubernetes manifests as one multi-document YAML stream (kubectl apply -f,
kustomize, Argo CD)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import yaml

from ansible.errors import AnsibleFilterError
from ansible.module_utils.common.collections import is_sequence
from ansible.parsing.yaml.dumper import AnsibleDumper


def _documents(data):
    """The manifests of data: one mapping, or a list of mappings and of lists of mappings (one level deep)."""
    if isinstance(data, dict):
        return [data]
    if not is_sequence(data):
        raise AnsibleFilterError("to_manifests_yaml: expected a manifest or a list of manifests, got %s"
                                 % type(data).__name__)
    docs = []
    for i, item in enumerate(data):
        for j, doc in enumerate(item if is_sequence(item) else [item]):
            where = "item %d" % i if not is_sequence(item) else "item %d.%d" % (i, j)
            if not isinstance(doc, dict):
                raise AnsibleFilterError("to_manifests_yaml: %s is not a manifest (a mapping), got %s"
                                         % (where, type(doc).__name__))
            docs.append(doc)
    return docs


def to_manifests_yaml(data):
    """Each manifest as its own YAML document, each starting with ---, keys in their given order."""
    docs = _documents(data)
    for i, doc in enumerate(docs):
        missing = [k for k in ("apiVersion", "kind", "metadata") if not doc.get(k)]
        if missing or not isinstance(doc["metadata"], dict) or not doc["metadata"].get("name"):
            raise AnsibleFilterError("to_manifests_yaml: document %d is not a Kubernetes manifest (needs apiVersion, "
                                     "kind and metadata.name): %s" % (i, ", ".join(missing) or "metadata.name"))
    if not docs:
        return ""
    return yaml.dump_all(docs, Dumper=AnsibleDumper, explicit_start=True, default_flow_style=False, sort_keys=False,
                         allow_unicode=True, width=1000)


class FilterModule(object):
    def filters(self):
        return {"to_manifests_yaml": to_manifests_yaml}
