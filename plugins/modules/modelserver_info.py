#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) openvino.ovms contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: modelserver_info
short_description: Status of OpenVINO model servers - rollout, pods, and the models OVMS reports
version_added: 0.1.0
author:
  - openvino.ovms developers (@openvinotoolkit)
description:
  - Reports one model server, or every model server this collection manages in a namespace - the Deployment's
    rollout, each pod with the reason it is not ready (C(ImagePullBackOff), C(CrashLoopBackOff) with the last exit
    code, C(Unschedulable) with the scheduler's message, ...), recent Warning events, and the state of each model as
    OVMS reports it in C(GET /v1/config) and C(GET /v2/models/<name>/ready).
  - OVMS is reached through the Kubernetes API server's service proxy
    (C(/api/v1/namespaces/<ns>/services/<svc>:rest/proxy/...)), which works wherever the kubeconfig works and needs
    RBAC on C(services/proxy); or directly at O(ovms_url).
  - With O(wait), it waits (watching the Deployment, polling OVMS) up to O(wait_window) seconds or until
    O(wait_until), and reports the state it reached; it never fails because the server is not ready.
  - With O(servers), a fleet - many model servers at once, in any namespaces - is waited for and verified together -
    one watch on the Deployments per namespace (not one per server), the models of each server verified as soon as
    its rollout completes, O(parallel) at a time - and each server gets a RV(modelservers[].status) (V(ready),
    V(failed), V(pending)) with its RV(modelservers[].cause), and the fleet one progress line (RV(fleet.progress)).
    A server is V(failed) as soon as waiting cannot cure it - a pod in C(CrashLoopBackOff), C(ImagePullBackOff),
    C(ErrImagePull), C(InvalidImageName) or C(CreateContainerConfigError); a Deployment past its progress deadline; a
    model whose load failed - not at the deadline.
extends_documentation_fragment:
  - kubernetes.core.k8s_auth_options
requirements:
  - kubernetes >= 24.2.0
attributes:
  check_mode:
    support: full
    description: Reads only.
options:
  namespace:
    description: Namespace of the model server(s). Required unless O(servers) is given.
    type: str
  name:
    description: Name of one model server (as given to M(openvino.ovms.modelserver)); all of the namespace when omitted.
    type: str
  models:
    description: Ask OVMS for the state of the models.
    type: bool
    default: true
  ovms_url:
    description:
      - Base URL of OVMS's REST API (a Route, Ingress, NodePort or in-cluster URL) instead of the API server's service
        proxy. Only with O(name).
    type: str
  servers:
    description:
      - A fleet - model servers as C(namespace/name) - waited for and verified at once, instead of O(namespace) and
        O(name). With O(wait=none) their state is reported without waiting.
    type: list
    elements: str
  parallel:
    description: With O(servers), how many servers' models are verified at once.
    type: int
    default: 8
  fail_fast:
    description: With O(servers), stop waiting (this call) as soon as one server failed.
    type: bool
    default: false
  wait:
    description: Wait for the rollout to complete (V(rollout)) or for every model to be AVAILABLE (V(models)).
    type: str
    choices: [none, rollout, models]
    default: none
  wait_until:
    description: Stop waiting at this time (seconds since the epoch); the role passes its overall deadline here.
    type: float
  wait_window:
    description: Stop waiting after this many seconds of this call, so that a caller can report progress.
    type: int
    default: 10
"""

EXAMPLES = r"""
- name: Status of every model server in a namespace
  openvino.ovms.modelserver_info:
    namespace: ovms
  register: ovms

- name: Is resnet served?
  ansible.builtin.debug:
    msg: "{{ ovms.modelservers[0].models.resnet.state }}"

- name: Wait up to 60 s for the models of one server, through a Route
  openvino.ovms.modelserver_info:
    namespace: ovms
    name: resnet
    ovms_url: https://resnet.apps.example.com
    wait: models
    wait_window: 60

- name: Wait for a fleet, up to 10 s per call, printing one line for all of it
  openvino.ovms.modelserver_info:
    servers: [ovms/resnet, ovms/bert, edge/yolo]
    wait: models
    wait_until: "{{ deadline }}"
    wait_window: 10
  register: fleet

- name: Progress
  ansible.builtin.debug:
    msg: "{{ fleet.fleet.progress }}"   # 2/3 ready, 1 failing: edge/yolo CrashLoopBackOff
"""

RETURN = r"""
api_requests:
  description: Requests this call sent to the API server, in total, writes, and by HTTP verb (C(WATCH) for watches).
  returned: always
  type: dict
  sample: {total: 7, writes: 0, by_verb: {GET: 7}}
now:
  description: The time of the answer, in seconds since the epoch (to compute deadlines).
  returned: always
  type: float
fleet:
  description: With O(servers) - how many servers are ready, failed, pending, and the one progress line.
  returned: when servers is given
  type: dict
  contains:
    total:
      description: Servers asked about.
      type: int
    ready:
      description: Servers ready (rollout complete, and with O(models) every model AVAILABLE).
      type: int
    failed:
      description: Servers failed (waiting will not cure them).
      type: int
    pending:
      description: Servers still rolling out or loading their models.
      type: int
    progress:
      description: One line for the whole fleet.
      type: str
      sample: "97/100 ready, 2 failing: ovms/a CrashLoopBackOff, ovms/b model b: load failed (error_code UNKNOWN);
        1 waiting (1 rolling out, 0 loading models)"
modelservers:
  description: One entry per model server.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: Model server name.
      type: str
    namespace:
      description: Its namespace.
      type: str
    status:
      description: With O(servers) - V(ready), V(failed) (waiting will not cure it) or V(pending).
      type: str
    cause:
      description: With O(servers) - why it is not ready, in a few words (C(CrashLoopBackOff), C(model x - load failed
        (error_code UNKNOWN)), C(rolling out (1/2 ready)), ...); its RV(modelservers[].failure) says more.
      type: str
    service:
      description: Deployment and Service name.
      type: str
    exists:
      description: Whether its Deployment exists.
      type: bool
    ready:
      description: Rollout complete and (when O(models)) every expected model AVAILABLE.
      type: bool
    progress:
      description: A one-line summary of the rollout.
      type: str
      sample: "ovms/resnet-ovms: 2/3 pods ready, 3/3 updated, 2 available"
    rollout:
      description: desired, current, updated, ready, available replicas, generation, observed_generation, revision,
        complete, deadline_exceeded.
      type: dict
    pods:
      description: Each pod - name, phase, ready, node, ip, restarts, reason (why it is not ready).
      type: list
      elements: dict
    problems:
      description: One line per pod that is not ready, naming it and why.
      type: list
      elements: str
      sample: ["pod resnet-ovms-5d9f-x2x: container ovms: CrashLoopBackOff (last exit code 1, Error)"]
    events:
      description: Recent Warning events about the Deployment's objects.
      type: list
      elements: str
    expected_models:
      description: The models the server is configured to serve (null when its config file is not readable).
      type: list
      elements: str
    models:
      description: Per model - available, state, error_code, error_message, versions, ready_endpoint.
      type: dict
      sample: {resnet: {available: true, state: AVAILABLE, error_code: OK, error_message: OK}}
    models_ok:
      description: Every expected model has a version AVAILABLE with error_code OK and answers ready.
      type: bool
    models_failed:
      description: Models whose load failed (state LOADING with an error code other than OK); waiting will not help.
      type: list
      elements: str
    failure:
      description: One line saying why the server is not ready (null when it is) - the pods and their reasons, or the
        models with their state and error message.
      type: str
      sample: "model resnet: LOADING (error_code UNKNOWN: UNKNOWN)"
"""

import time
import traceback

from ansible_collections.openvino.ovms.plugins.module_utils import _client, _reconcile, _runner, _secrets, _spec, _status


def main():
    spec = dict(_client.AUTH_ARG_SPEC)
    spec.update(namespace=dict(type="str"), name=dict(type="str"),
                servers=dict(type="list", elements="str"), parallel=dict(type="int", default=8),
                fail_fast=dict(type="bool", default=False),
                models=dict(type="bool", default=True), ovms_url=dict(type="str"),
                wait=dict(type="str", choices=["none", "rollout", "models"], default="none"),
                wait_until=dict(type="float"), wait_window=dict(type="int", default=10))
    module = _secrets.MaskingModule(argument_spec=spec, supports_check_mode=True, required_by={"ovms_url": "name"},
                                    required_one_of=[("namespace", "servers")],
                                    mutually_exclusive=[("namespace", "servers"), ("name", "servers")])
    _client.require(module)
    p = module.params
    fleet = None
    try:
        if p["servers"] is not None:
            refs = [_status.parse_server_ref(ref) for ref in p["servers"]]
        api = _reconcile.Api(_client.api_client(p))
        api.api_client.user_agent = _runner.USER_AGENT
        until = p["wait_until"] if p["wait_until"] is not None else time.time() + p["wait_window"]
        if p["servers"] is not None:
            api.retry_until = until
            window = 0 if p["wait"] == "none" else p["wait_window"]
            servers, progress = _status.wait_fleet(api, refs, until, window, check_models=p["models"] and p["wait"] != "rollout",
                                                   parallel=p["parallel"], fail_fast=p["fail_fast"])
            fleet = dict(total=len(servers), progress=progress,
                         **dict((s, sum(1 for r in servers if r["status"] == s)) for s in ("ready", "failed", "pending")))
        else:
            names = [p["name"]] if p["name"] else _status.server_names(api, p["namespace"])
            servers = []
            for name in names:
                if p["wait"] != "none":
                    api.retry_until = until  # an API server that blinks while we wait is retried until the deadline
                    servers.append(_status.wait_for(api, p["namespace"], name, p["wait"], until, p["wait_window"],
                                                    check_models=p["models"], base_url=p["ovms_url"]))
                else:
                    servers.append(_status.describe(api, p["namespace"], name, check_models=p["models"],
                                                    base_url=p["ovms_url"]))
    except _spec.SpecError as exc:
        module.fail_json(msg=str(exc), field=exc.path)
    except (_reconcile.ReconcileError, _client.ClientError) as exc:
        module.fail_json(msg=str(exc))
    except Exception as exc:
        module.fail_json(msg="Kubernetes API request failed: %s" % exc, exception=traceback.format_exc())
    result = dict(changed=False, modelservers=servers, now=time.time(), api_requests=api.summary())
    if fleet is not None:
        result["fleet"] = fleet
    module.exit_json(**result)


if __name__ == "__main__":
    main()
