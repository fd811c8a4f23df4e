#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) openvino.ovms contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: modelserver_migrate
short_description: Take model servers over from the OpenVINO operator in place, without downtime
version_added: 0.2.0
author:
  - openvino.ovms developers (@openvinotoolkit)
description:
  - The steps of C(playbooks/migrate.yml) (C(openvino.ovms.migrate)), which runs them in the safe order; see
    C(docs/migration.md). Each step looks at the cluster first and does only what is left, so a run interrupted
    anywhere is finished by running it again, and a server already migrated is reported as such.
  - O(step=plan) reads the C(ModelServer) resources (C(intel.com/v1alpha1)) of O(namespaces) (of every namespace
    when empty), merges them into O(vars_file) (C(ovms_modelservers), a list of ModelServer manifests that
    C(openvino.ovms.deploy) and the C(openvino.ovms.modelserver) role take; servers written by an earlier run whose
    resource is gone stay in it) and writes it, with each server's deliberate differences from the operator as
    comments. Credentials of the resources go to O(credentials_file) (mode 0600; the vars file refers to them as
    C(ovms_credentials['<namespace>/<name>'].<field>)). It then plans every server - its state, the objects taken
    over with a field-by-field diff against the live operator-made objects (the API server's dry run of ours),
    whether the pods roll, and what is removed. It changes nothing in the cluster; the files are written in check
    mode too.
  - O(step=stop_operator) stops the operator for good and waits until none of its pods is left - installed by OLM
    (its Deployment owned by a ClusterServiceVersion), by deleting the Subscriptions that installed that
    ClusterServiceVersion and then the ClusterServiceVersion (OLM would undo a scale to 0); installed plainly, by
    scaling its Deployment to 0. This stops it for every namespace.
  - O(step=take_over) takes one server (O(definition), from the vars file) over - removes the operator's finalizer
    from its ModelServer, the ownerReferences to it from its Deployment, Service and Secrets (Helm's release records
    included), deletes the ModelServer with C(propagationPolicy=Orphan) and waits until it is gone; pauses the
    Deployment, removes the fields the operator's Helm set that this collection does not render, applies the
    server's objects with server-side apply (force, the same reconcile as O(openvino.ovms.modelserver#module:force_conflicts=true))
    with the update strategy C(RollingUpdate), C(maxUnavailable=0) and resumes the Deployment, so that its pods roll
    once and none goes before its replacement is ready. Run the C(openvino.ovms.modelserver) role (wait, verify)
    and then the module with the server's own manifest (its own strategy back) after it.
  - O(step=finish) removes Helm's release records (Secrets C(sh.helm.release.v1.<name>.v<N>)) of a server whose
    objects were taken over.
  - O(step=remove_operator) deletes the operator's Deployment once no ModelServer is left anywhere, and with
    O(remove_crd=true) the ModelServer CustomResourceDefinition.
extends_documentation_fragment:
  - kubernetes.core.k8s_auth_options
requirements:
  - kubernetes >= 24.2.0
  - PyYAML
attributes:
  check_mode:
    support: full
    description: Writes go with C(dryRun=All); O(step=plan) writes its files in check mode too (they change nothing in
      the cluster).
  diff_mode:
    support: partial
    description: O(step=take_over) returns the objects' diffs, Secret values masked.
options:
  step:
    description: Which step to run (see the description).
    type: str
    required: true
    choices: [plan, stop_operator, take_over, finish, remove_operator]
  namespaces:
    description: O(step=plan) - the namespaces whose ModelServers to migrate; empty means every namespace the
      identity may list ModelServers in (a cluster-wide list).
    type: list
    elements: str
    default: []
  vars_file:
    description: O(step=plan) - the vars file to write (and to read servers of an earlier run from).
    type: path
    default: ovms-migrated.yml
  credentials_file:
    description: O(step=plan) - the file for the resources' credentials; default - O(vars_file) with C(-credentials)
      before its extension.
    type: path
  definition:
    description: O(step=take_over) and O(step=finish) - the server's ModelServer manifest (an item of
      C(ovms_modelservers) of the vars file, credentials resolved).
    type: dict
  operator_namespace:
    description: The operator's namespace (C(operators) when OLM installed it); empty - found by the name of its
      Deployment in every namespace.
    type: str
  operator_deployment:
    description: The name of the operator's manager Deployment.
    type: str
    default: openvino-operator-controller-manager
  remove_crd:
    description: O(step=remove_operator) - also delete the ModelServer CustomResourceDefinition (which would delete
      every ModelServer left; none is left when this step runs).
    type: bool
    default: false
  wait_timeout:
    description: Seconds to wait for the operator's pods to go, and for a ModelServer to be gone after its delete.
    type: int
    default: 300
notes:
  - Stopping the operator stops it for every ModelServer in the cluster, also those in namespaces not migrated; their
    objects keep running, unmanaged, until they are migrated too or the operator is re-installed.
  - A HorizontalPodAutoscaler pointed at a ModelServer's scale subresource stops working when the ModelServer goes;
    the plan warns about each. Point it at the Deployment, or use C(spec.autoscaling).
  - Roll back (before O(step=remove_operator) with O(remove_crd=true)) by re-installing the operator and applying the
    manifests of the vars file again (C(docs/migration.md)).
seealso:
  - module: openvino.ovms.modelserver
"""

EXAMPLES = r"""
- name: Plan (and write ovms-migrated.yml and ovms-migrated-credentials.yml)
  openvino.ovms.modelserver_migrate:
    step: plan
    namespaces: [ovms]
  register: migration

- name: Stop the operator
  openvino.ovms.modelserver_migrate:
    step: stop_operator

- name: Take one server over (the playbook does this per server, then waits and verifies with the role)
  openvino.ovms.modelserver_migrate:
    step: take_over
    definition: "{{ ovms_modelservers[0] }}"

- name: Remove Helm's release records of that server
  openvino.ovms.modelserver_migrate:
    step: finish
    definition: "{{ ovms_modelservers[0] }}"
"""

RETURN = r"""
servers:
  description: O(step=plan) - per server - C(name), C(namespace), C(state) (V(to migrate), V(detached) or V(taken
    over) - an interrupted run -, V(migrated), V(missing), V(blocked) with C(blocked) saying why), C(deployment),
    C(objects) (C(kind), C(name), C(action) V(take over) / V(create) / V(update), C(changes) field by field),
    C(pods_roll), C(remove) (what goes), C(differences) (C(difference), C(what)) and C(warnings).
  returned: when step is plan
  type: list
  elements: dict
pending:
  description: O(step=plan) - the servers left to do - C(name), C(namespace), C(state) and C(index) (of the server in
    C(ovms_modelservers) of the vars file).
  returned: when step is plan
  type: list
  elements: dict
summary:
  description: O(step=plan) - one line per server.
  returned: when step is plan
  type: list
  elements: str
written:
  description: O(step=plan) - the files written (a file already holding the same content is not written again).
  returned: when step is plan
  type: list
  elements: str
vars_file:
  description: O(step=plan) - the vars file.
  returned: when step is plan
  type: str
credentials_file:
  description: O(step=plan) - the credentials file (null when no server has credentials).
  returned: when step is plan
  type: str
actions:
  description: What the step did (or, in check mode, would do), one line each.
  returned: unless step is plan
  type: list
  elements: str
operator:
  description: O(step=stop_operator) - C(found), C(how) it was installed, C(namespace), C(name).
  returned: when step is stop_operator
  type: dict
objects:
  description: O(step=take_over) - what the apply did to each object, as M(openvino.ovms.modelserver) returns it.
  returned: when step is take_over
  type: list
  elements: dict
api_requests:
  description: Requests this run sent to the API server.
  returned: always
  type: dict
"""

import traceback

from ansible_collections.openvino.ovms.plugins.module_utils import _client, _migrate, _reconcile, _runner
from ansible_collections.openvino.ovms.plugins.module_utils import _secrets, _spec


def argument_spec():
    spec = dict(_client.AUTH_ARG_SPEC)
    spec.update(
        step=dict(type="str", required=True,
                  choices=["plan", "stop_operator", "take_over", "finish", "remove_operator"]),
        namespaces=dict(type="list", elements="str", default=[]),
        vars_file=dict(type="path", default="ovms-migrated.yml"),
        credentials_file=dict(type="path"),
        definition=dict(type="dict"),
        operator_namespace=dict(type="str"),
        operator_deployment=dict(type="str", default=_migrate.OPERATOR_DEPLOYMENT),
        remove_crd=dict(type="bool", default=False),
        wait_timeout=dict(type="int", default=300),
    )
    return spec


def run(module, api):
    p, check = module.params, module.check_mode
    step = p["step"]
    if step == "plan":
        creds = p["credentials_file"] or _migrate.credentials_path(p["vars_file"])
        result = _migrate.plan(api, p["namespaces"], p["vars_file"], creds)
        result["summary"] = _migrate.summary_lines(result)
        result["changed"] = bool(result["written"])
        return result
    if step == "stop_operator":
        op = _migrate.stop_operator(api, p["operator_namespace"], p["operator_deployment"], check_mode=check,
                                    timeout=p["wait_timeout"])
        return {"changed": op.pop("changed"), "actions": op.pop("actions"), "operator": op}
    if step == "remove_operator":
        return _migrate.remove_operator(api, p["operator_namespace"], p["operator_deployment"], p["remove_crd"],
                                        check_mode=check)
    if p["definition"] is None:
        module.fail_json(msg="definition is required for step=%s" % step)
    if step == "take_over":
        result = _migrate.take_over(api, p["definition"], check_mode=check, timeout=p["wait_timeout"],
                                    want_diff=module._diff)
        for warning in result.pop("warnings"):
            module.warn(warning)
        if not module._diff:
            result.pop("diff")
        return result
    name, namespace, raw = _spec.from_manifest(p["definition"])
    actions = _migrate.finish(api, namespace, name, _migrate.object_names(name, raw)[0], check_mode=check)
    return {"changed": bool(actions), "actions": actions}


def main():
    module = _secrets.MaskingModule(argument_spec=argument_spec(), supports_check_mode=True)
    _client.require(module)
    api = None
    try:
        api = _reconcile.Api(_runner._connect(lambda: _client.api_client(module.params)))
        api.counts.clear()
        result = run(module, api)
        # the resources' credentials (also the key IDs that operator-made pod specs show plainly) never show in the
        # output: not in the plan's diffs, not in a message
        for value in result.pop("credential_values", []):
            module.no_log_values.add(value)
    except _spec.SpecError as exc:
        module.fail_json(msg=str(exc), field=exc.path)
    except (_reconcile.ReconcileError, _client.ClientError) as exc:
        module.fail_json(msg=str(exc), api_requests=api.summary() if api else None)
    except Exception as exc:
        module.fail_json(msg="Kubernetes API request failed: %s: %s" % (type(exc).__name__, exc),
                         exception=traceback.format_exc())
    result["api_requests"] = api.summary()
    module.exit_json(**result)


if __name__ == "__main__":
    main()
