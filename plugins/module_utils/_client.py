# -*- coding: utf-8 -*-
# Copyright (c) openvino.ovms contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
#
# PRIVATE: this module_utils file is internal to the openvino.ovms collection.
"""The connection: kubernetes.core's auth options and API client, and the one way this collection sends a request.

Requests do not go through the kubernetes library's generated ``ApiClient.call_api``: its signature changed in
kubernetes 37 (and may again). They use only what every kubernetes release from 24.2.0 to 37 keeps the same:
the ``ApiClient``'s ``configuration`` (host, ``auth_settings()``, which refreshes exec and OIDC tokens),
``default_headers`` (user agent, impersonation) and ``rest_client.pool_manager`` (urllib3, with the TLS client
certificates, CA and proxy that kubernetes.core configured). So every connection option of kubernetes.core works.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import random
import time
import traceback

try:
    from ansible_collections.kubernetes.core.plugins.module_utils.args_common import AUTH_ARG_SPEC
    HAS_K8S_CORE = True
    K8S_CORE_IMPORT_ERROR = None
except ImportError:
    HAS_K8S_CORE = False
    K8S_CORE_IMPORT_ERROR = traceback.format_exc()
    AUTH_ARG_SPEC = {}

try:
    # the library kubernetes.core's client is built on
    import kubernetes  # noqa: F401 pylint: disable=unused-import
    HAS_KUBERNETES = True
    KUBERNETES_IMPORT_ERROR = None
except ImportError:
    HAS_KUBERNETES = False
    KUBERNETES_IMPORT_ERROR = traceback.format_exc()

try:
    from urllib.parse import urlencode
except ImportError:  # Python 2 (ansible-test's compile checks)
    from urllib import urlencode  # type: ignore

SUPPORTED_KUBERNETES = ">= 24.2.0 (tested: 24.2.0, 30.1.0, 37.0.2)"
CONNECT_TIMEOUT = 10.0
READ_TIMEOUT = 60.0
RETRY_TIMEOUT = 30.0  # seconds a request keeps retrying a transient fault, unless the caller's deadline is later
BACKOFF_BASE, BACKOFF_CAP = 0.25, 4.0


class ClientError(Exception):
    """The API client cannot be made (missing kubeconfig, bad credentials file, ...): nothing was sent."""


class Unreachable(ClientError):
    """The API server did not answer while the client was being made, until the retry deadline passed."""


def require(module):
    """Fail the module, naming what to install, when kubernetes.core or the kubernetes library is missing."""
    from ansible.module_utils.basic import missing_required_lib

    if not HAS_KUBERNETES:
        module.fail_json(msg=missing_required_lib("kubernetes %s (pip install kubernetes)" % SUPPORTED_KUBERNETES),
                         exception=KUBERNETES_IMPORT_ERROR)
    if not HAS_K8S_CORE:
        module.fail_json(msg="the Ansible collection kubernetes.core is required (ansible-galaxy collection install "
                             "kubernetes.core, or pip install ansible, which bundles it); it is not a Python library",
                         exception=K8S_CORE_IMPORT_ERROR)


def api_client(params):
    """The kubernetes.client.ApiClient for the module's connection options (kubeconfig, context, host, api_key,
    validate_certs, ca_cert, client_cert, client_key, proxy, impersonation, K8S_AUTH_* variables)."""
    from ansible_collections.kubernetes.core.plugins.module_utils.k8s.client import get_api_client

    options = dict((k, params.get(k)) for k in AUTH_ARG_SPEC)
    kubeconfig = options.get("kubeconfig") or os.environ.get("K8S_AUTH_KUBECONFIG")
    if isinstance(kubeconfig, str):
        missing = [p for p in kubeconfig.split(os.pathsep) if p and not os.path.exists(os.path.expanduser(p))]
        if missing:
            raise ClientError("kubeconfig %s does not exist" % ", ".join(missing))
    # kubernetes.core's client asks the API server for its version and API groups (unless its discovery cache has
    # them): an API server that blinks right then is retried like any request
    started, attempt = time.time(), 0
    while True:
        try:
            return get_api_client(**options).client.client
        except Exception as exc:  # kubernetes.config and kubernetes.core raise their own types
            if not is_connection_error(exc):
                raise ClientError("cannot make a Kubernetes API client from the connection options: %s" % exc)
            delay = backoff(attempt)
            if time.time() + delay >= started + RETRY_TIMEOUT:
                raise Unreachable("the Kubernetes API server did not answer (%d attempts over %.1f s, last: %s: %s)"
                                  % (attempt + 1, time.time() - started, type(exc).__name__, exc))
            time.sleep(delay)
            attempt += 1


def backoff(attempt, retry_after=None):
    """Seconds to wait before retry number attempt + 1: the server's Retry-After (at most 10 s), else exponential
    backoff with full jitter."""
    if retry_after:
        try:
            return min(float(retry_after), 10.0)
        except ValueError:
            pass
    return random.uniform(0.05, min(BACKOFF_CAP, BACKOFF_BASE * (2 ** attempt)))


def url_of(api_client, path, query=None):
    """The request URL: the configured host (which may carry a path prefix, as Rancher's) + path (already
    escaped by the caller) + query."""
    url = api_client.configuration.host.rstrip("/") + path
    if query:
        url += "?" + urlencode([(k, str(v)) for k, v in query])
    return url


def headers_of(api_client, extra=None):
    """Default headers (user agent, impersonation) + authentication + the request's own."""
    headers = dict(api_client.default_headers)
    configuration = api_client.configuration
    for setting in (configuration.auth_settings() or {}).values():
        if setting.get("in") == "header" and setting.get("value"):
            headers[setting["key"]] = setting["value"]
    if "authorization" not in [k.lower() for k in headers] and getattr(configuration, "username", None) \
            and getattr(configuration, "password", None):
        import urllib3

        basic_auth = "%s:%s" % (configuration.username, configuration.password)
        headers.update(urllib3.util.make_headers(basic_auth=basic_auth))
    headers.update(extra or {})
    return headers


def send(api_client, method, path, query=None, body=None, headers=None, read_timeout=READ_TIMEOUT):
    """One HTTP request, no retry (the caller decides). Returns the urllib3 response, its body not yet read.
    Raises urllib3's and the socket's own errors for connection problems."""
    import urllib3

    data = None
    if body is not None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode("utf-8")
    return api_client.rest_client.pool_manager.request(
        method, url_of(api_client, path, query), body=data, headers=headers_of(api_client, headers),
        preload_content=False, retries=False, timeout=urllib3.Timeout(connect=CONNECT_TIMEOUT, read=read_timeout))


def is_connection_error(exc):
    """True for the errors of a request that may not have reached the API server, or whose answer was lost."""
    import socket

    try:
        import urllib3.exceptions as u3
        kinds = (u3.HTTPError, socket.error, OSError)
    except ImportError:
        kinds = (socket.error, OSError)
    if "CERTIFICATE_VERIFY_FAILED" in str(exc) or "WRONG_VERSION_NUMBER" in str(exc):
        return False  # a TLS set-up that cannot work: no retry makes it work
    return isinstance(exc, kinds)
