# -*- coding: utf-8 -*-
# Copyright (c) openvino.ovms contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The modelserver_manifests filter: a ModelServer spec rendered to Kubernetes manifests, no cluster."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.errors import AnsibleFilterError

from ansible_collections.openvino.ovms.plugins.module_utils import _render, _spec


def modelserver_manifests(data, name=None, namespace=None):
    """data: a ModelServer manifest, or (with name and namespace) a spec mapping."""
    try:
        if name is None and isinstance(data, dict) and data.get("kind") == _spec.KIND:
            manifests = _render.manifests_for(definition=data, namespace=namespace)[0]
        else:
            manifests = _render.manifests_for(name=name, namespace=namespace, spec=data)[0]
    except _spec.SpecError as exc:
        raise AnsibleFilterError("modelserver_manifests: %s" % exc)
    return manifests


class FilterModule(object):
    def filters(self):
        return {"modelserver_manifests": modelserver_manifests}
