# -*- coding: utf-8 -*-
# Copyright (c) openvino.ovms contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
#
# PRIVATE: this module_utils file is internal to the openvino.ovms collection.
"""The connection: kubernetes.core's auth options and API client, shared by this collection's modules."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import traceback

try:
    from ansible_collections.kubernetes.core.plugins.module_utils.args_common import AUTH_ARG_SPEC
    from ansible_collections.kubernetes.core.plugins.module_utils.k8s.client import get_api_client
    HAS_K8S_CORE = True
    K8S_IMPORT_ERROR = None
except ImportError:
    HAS_K8S_CORE = False
    K8S_IMPORT_ERROR = traceback.format_exc()
    AUTH_ARG_SPEC = {}


def require(module):
    """Fail the module when kubernetes.core or the kubernetes library is missing."""
    if not HAS_K8S_CORE:
        from ansible.module_utils.basic import missing_required_lib

        module.fail_json(msg=missing_required_lib("kubernetes.core (the kubernetes Python client)"),
                         exception=K8S_IMPORT_ERROR)


def api_client(params):
    """The kubernetes.client.ApiClient for the module's connection options (kubeconfig, context, host, api_key,
    validate_certs, ca_cert, client_cert, client_key, proxy, impersonation, K8S_AUTH_* variables)."""
    return get_api_client(**dict((k, params.get(k)) for k in AUTH_ARG_SPEC)).client.client
