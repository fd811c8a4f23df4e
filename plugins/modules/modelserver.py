#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) openvino.ovms contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: modelserver
short_description: Deploy OpenVINO Model Server from a ModelServer spec, without the operator
version_added: 0.1.0
author:
  - openvino.ovms developers (@openvinotoolkit)
description:
  - Turns what you would write in the OpenVINO operator's C(ModelServer) resource (C(intel.com/v1alpha1)) into the
    Kubernetes objects the operator would make - a Deployment and a Service exposing gRPC and REST, Secrets for
    credentials - plus, on request, a generated multi-model C(config.json), a HorizontalPodAutoscaler, a
    PodDisruptionBudget, an Ingress and an OpenShift Route.
  - The spec comes three ways with the same result - options (O(name), O(namespace) and the spec groups), a whole
    manifest in O(definition), or a file in O(src). A manifest written for the operator works unchanged.
  - Input is validated before any request to the cluster, in every state (V(absent) and V(rollback) check the name
    and namespace too) and in fleet mode; an error names the field path, the value and what would be accepted. A
    spec is refused only for what Kubernetes or OVMS would refuse - names, label and annotation keys and values,
    Ingress paths, classes and hosts, int32 ranges, quantities, requests above limits, extended resources without
    an equal limit, image references, devices, shapes and layouts OVMS cannot parse, a O(deployment_parameters.pod_labels)
    entry that would change a selector label; C(docs/validation.md) lists every rule.
  - What only the cluster knows is checked after listing and before the first write, so that a refused run writes
    nothing - a Route needs the Route API (OpenShift), the namespace must exist, an object to create must not exist
    unlabelled, and when a free-form Kubernetes field (affinity, O(deployment_parameters.update_strategy)) is set the
    Deployment is first sent with C(dryRun=All). In fleet mode every server is checked before any is applied.
  - Objects are applied with server-side apply (field manager C(openvino.ovms)). Check mode sends the same requests
    with C(dryRun=All), so the API server decides what would change. Diffs leave out server-kept metadata and
    status and mask Secret values.
  - Every object carries the labels C(app.kubernetes.io/name=openvino-model-server),
    C(app.kubernetes.io/instance=<name>) and C(app.kubernetes.io/managed-by=openvino.ovms); prune and
    O(state=absent) find objects by them. The Deployment, its pods and the Service also carry the operator chart's
    labels C(app=<fullname>), C(release=<name>), C(chart=ovms-4.0.0) and C(heritage=Helm); the Deployment selects its
    pods by C(app) and C(release) and the Service by C(app), as the chart does, so that an operator-made Deployment
    is taken over in place (O(force_conflicts=true); the result's action is V(adopted)) and monitoring written for
    the operator keeps working. The pods carry the chart's four labels and C(app.kubernetes.io/name) and
    C(app.kubernetes.io/instance).
  - A Deployment made by openvino.ovms 0.1.0 selects its pods by C(app.kubernetes.io/name) and
    C(app.kubernetes.io/instance); a selector cannot change, so such a Deployment is refused before any write, with
    the fix (delete the Deployment, then run again).
  - Fields edited outside this collection by imperative clients (C(kubectl edit), C(kubectl scale); field manager
    operation C(Update)) are drift and are taken back, with a warning. Fields owned by another server-side apply
    manager are a conflict, reported naming the manager and the field, unless O(force_conflicts=true).
  - The Deployment and Service are named C(<fullname>) as the operator's chart names them - the resource's name with
    the suffix C(-ovms) unless the name already contains C(ovms), C(-<nameOverride>) for O(nameOverride), or
    O(fullnameOverride); cut at 63 characters. A name longer than 53 characters is refused (the operator cannot
    deploy it either). Credential Secrets are C(<fullname>-aws-secret) and C(<fullname>-azure-secret).
  - C(0) and C("") mean not set, as with the operator - C(nireq=0), C(rest_workers=0), C(batch_size="") and the like
    leave their flag out.
  - The image tag decides the OVMS flags - from OVMS 2026.3 on, the removed stateful options and
    C(--sequence_cleaner_poll_wait_minutes) are never rendered, and a stateful model is an error.
extends_documentation_fragment:
  - kubernetes.core.k8s_auth_options
requirements:
  - kubernetes >= 24.2.0
  - PyYAML
attributes:
  check_mode:
    support: full
    description: Runs the same server-side apply requests with C(dryRun=All).
  diff_mode:
    support: full
    description: Before and after of each object that changes, Secret values masked.
options:
  state:
    description:
      - V(present) applies the objects and prunes owned objects the spec no longer renders.
      - V(absent) deletes every object owned by this model server.
      - V(rollback) restores the Deployment's pod template from its revision O(revision), like
        C(kubectl rollout undo --to-revision); with O(revision=0) (there was nothing before) it deletes every object
        owned by this model server, like C(helm --atomic) on a failed install. ConfigMap and Secret contents are not
        restored.
    type: str
    choices: [present, absent, rollback]
    default: present
  revision:
    description:
      - With O(state=rollback), the Deployment revision to restore (C(rollout.revision) of
        M(openvino.ovms.modelserver_info) before the change).
    type: int
  name:
    description:
      - Name of the model server (the ModelServer resource's C(metadata.name)). Required unless O(definition) or
        O(src) is given.
    type: str
  namespace:
    description:
      - Namespace of the model server. Required unless the manifest names it.
    type: str
  definition:
    description:
      - A whole C(ModelServer) manifest (C(apiVersion=intel.com/v1alpha1), C(kind=ModelServer)), exactly as written
        for the operator. Fields the operator does not know are ignored with a warning, except an unknown key under
        C(spec.models_repository) that looks like a credential (C(aws_secret_acess_key)), which is refused naming the
        key and the field meant, without its value.
      - Credentials in it (in any input - options, O(definition), the O(src) file, O(servers)) are masked in the
        module's output, at any verbosity, also when the input is refused.
    type: dict
  src:
    description:
      - Path of a YAML file holding one C(ModelServer) manifest (other documents are ignored).
    type: path
  servers:
    description:
      - Fleet mode - a list of whole C(ModelServer) manifests handled in one call, instead of O(name)/O(definition)/
        O(src). Every server is validated before any request; each namespace is listed once for all of its servers;
        the applies (or, in check mode, the dry runs) run concurrently. The result is in RV(results).
      - Much faster than a loop over the servers - see C(docs/benchmarks.md). O(state=rollback) does not apply.
    type: list
    elements: dict
  parallel:
    description: Fleet mode - how many servers are applied at once.
    type: int
    default: 8
  force_conflicts:
    description:
      - Take over fields owned by another server-side apply field manager, and adopt existing objects of the same
        name that this collection did not create. Also removes fields another declarative tool (a server-side apply
        field manager) added to this collection's objects.
    type: bool
    default: false
  ignore_differences:
    description:
      - Fields of this collection's objects that other clients may add or change without it being drift, like
        Argo CD's C(ignoreDifferences). Without a rule, fields another client added (C(kubectl set env),
        C(kubectl annotate), an imperative Update) are reported by check mode, with the field manager's name, and
        removed by a real run.
      - Always ignored - status and other subresources, fields written by this collection's own field managers,
        the Deployment's C(deployment.kubernetes.io/revision) annotation, C(kubectl.kubernetes.io/last-applied-configuration),
        and the pod template's C(kubectl.kubernetes.io/restartedAt) annotation (C(kubectl rollout restart); removing it
        would roll the pods again). Fields another declarative tool added are reported as a warning and removed only
        with O(force_conflicts).
    type: list
    elements: dict
    suboptions:
      kinds:
        description: The kinds the rule applies to (all when not given), e.g. C(Deployment).
        type: list
        elements: str
      managers:
        description: Field managers whose additions are ignored, e.g. C(vpa-recommender).
        type: list
        elements: str
      paths:
        description:
          - Field paths (and everything below them) that are ignored, in the notation of the module's C(changes)
            - dotted, list items by their key, e.g. C(metadata.annotations.example.com/owner) or
            C(spec.template.spec.containers[name=ovms].env[name=HTTP_PROXY]).
        type: list
        elements: str
  prune:
    description:
      - Delete objects owned by this model server that the spec no longer renders (for example the HPA after
        O(autoscaling.enabled=false)).
    type: bool
    default: true
# BEGIN GENERATED SPEC OPTIONS: do not edit; run `make docs` (tools/gen_docs.py) after changing _spec.FIELDS
  image_name:
    description:
    - OVMS container image. Its tag decides which OVMS flags are rendered (see I(ovms_version)). Defaults to C(openvino/model_server:2026.3).
      (The CRD's default is C(registry.connect.redhat.com/intel/openvino-model-server:latest).)
    - Default is a pinned OVMS release instead of the CRD's C(:latest) image.
    type: str
  ovms_version:
    description:
    - OVMS version of I(image_name), as C(YYYY.N), when its tag does not say (a digest, C(latest), a custom tag).
      Without it such images follow the newest OVMS contract.
    - 'Not a field of the operator''s CRD: an addition of this collection.'
    type: str
  fullnameOverride:
    description:
    - The name of the Deployment, the Service and the Secrets' prefix, instead of the one derived from the resource's
      name (the operator chart's C(fullnameOverride), a top-level value of the spec); cut at 63 characters.
    type: str
  nameOverride:
    description:
    - 'Replaces C(ovms) in the naming rule: the name gets the suffix C(-<nameOverride>) unless it already contains
      it (the operator chart''s C(nameOverride)).'
    type: str
  deployment_parameters:
    description:
    - Kubernetes Deployment parameters.
    type: dict
    suboptions:
      replicas:
        description:
        - Number of pods (ignored while I(autoscaling) is on). Defaults to C(1).
        type: int
      node_affinity:
        description:
        - Pod C(affinity.nodeAffinity), as Kubernetes spells it.
        type: dict
      pod_affinity:
        description:
        - Pod C(affinity.podAffinity).
        type: dict
      pod_antiaffinity:
        description:
        - Pod C(affinity.podAntiAffinity).
        type: dict
      update_strategy:
        description:
        - The Deployment's C(strategy).
        type: dict
      openshift_service_mesh:
        description:
        - Add the pod annotation C(sidecar.istio.io/inject=true). Defaults to C(false).
        type: bool
      resources:
        description:
        - Container resources.
        type: dict
        suboptions:
          limits:
            description:
            - Resource limits of the ovms container.
            type: dict
            suboptions:
              cpu:
                description:
                - CPU limits, for example C(2) or C(500m).
                type: raw
              memory:
                description:
                - Memory limits, for example C(4Gi).
                type: raw
              xpu_device:
                description:
                - An extended resource to limit, for example C(gpu.intel.com/i915).
                type: str
              xpu_device_quantity:
                description:
                - How many of I(xpu_device). Defaults to C(1).
                type: raw
          requests:
            description:
            - Resource requests of the ovms container.
            type: dict
            suboptions:
              cpu:
                description:
                - CPU requests, for example C(2) or C(500m).
                type: raw
              memory:
                description:
                - Memory requests, for example C(4Gi).
                type: raw
              xpu_device:
                description:
                - An extended resource to request, for example C(gpu.intel.com/i915).
                type: str
              xpu_device_quantity:
                description:
                - How many of I(xpu_device). Defaults to C(1).
                type: raw
      extra_envs_secret:
        description:
        - A Secret whose keys become environment variables (C(envFrom)).
        type: str
      extra_envs_configmap:
        description:
        - A ConfigMap whose keys become environment variables (C(envFrom)).
        type: str
      pod_labels:
        description:
        - Extra labels on the pods (the selector's labels cannot be changed).
        - 'Not a field of the operator''s CRD: an addition of this collection.'
        type: dict
      pod_annotations:
        description:
        - Extra annotations on the pods.
        - 'Not a field of the operator''s CRD: an addition of this collection.'
        type: dict
      startup_timeout_seconds:
        description:
        - How long the startup probe lets OVMS load its models (and, with I(generative_models), download them) before
          Kubernetes may restart it. Defaults to C(600), or C(1800) with I(generative_models).
        - 'Not a field of the operator''s CRD: an addition of this collection.'
        type: int
  service_parameters:
    description:
    - Kubernetes Service parameters.
    type: dict
    suboptions:
      grpc_port:
        description:
        - Service port for gRPC. Defaults to C(8080).
        type: int
      rest_port:
        description:
        - Service port for REST. Defaults to C(8081).
        type: int
      service_type:
        description:
        - Service type. Defaults to C(ClusterIP).
        type: str
        choices:
        - ClusterIP
        - NodePort
        - LoadBalancer
  models_settings:
    description:
    - The model or models to serve.
    type: dict
    suboptions:
      single_model_mode:
        description:
        - Serve one model from I(model_path); C(false) serves a config file. Defaults to C(true).
        type: bool
      config_configmap_name:
        description:
        - A ConfigMap of yours (for example holding C(config.json)), mounted read-only at C(/config) in either mode.
        type: str
      config_path:
        description:
        - 'Multi-model: path of the config file (default C(/config/config.json)), for example C(/config/my.json) in
          I(config_configmap_name) or a file on the models volume.'
        type: str
      models:
        description:
        - 'Multi-model: the models to serve; the module generates C(config.json) in a ConfigMap. Each entry takes
          C(name), C(base_path) and optionally C(target_device), C(batch_size), C(shape), C(layout), C(nireq), C(plugin_config),
          C(model_version_policy) (objects or JSON strings).'
        - 'Not a field of the operator''s CRD: an addition of this collection.'
        type: list
        elements: dict
      model_name:
        description:
        - 'Single-model: the model''s name. Defaults to C(resnet).'
        type: str
      model_path:
        description:
        - 'Single-model: where the model is (C(gs://), C(s3://), C(az://), C(azfs://) or a local path). Required:
          the CRD''s placeholder is refused. (The CRD''s default is C(gs://<bucket_name>/<model_dir>).)'
        - The CRD default is a placeholder; it is refused instead of deployed.
        type: str
      shape:
        description:
        - 'Model input shape: C(auto), C((1,3,224,224)) or a JSON object per input.'
        - 'C(0) and C("") mean not set, as with the operator: the flag or setting is left out.'
        type: str
      batch_size:
        description:
        - 'Batch size: C(auto) or a number.'
        - 'C(0) and C("") mean not set, as with the operator: the flag or setting is left out.'
        type: str
      target_device:
        description:
        - Target device (CPU, GPU, AUTO, HETERO:..., MULTI:...). Defaults to C(CPU).
        type: str
      plugin_config:
        description:
        - Plugin configuration, a JSON object as a string. Defaults to C({"PERFORMANCE_HINT":"LATENCY"}).
        - 'C(0) and C("") mean not set, as with the operator: the flag or setting is left out.'
        type: raw
      model_version_policy:
        description:
        - 'Model version policy, a JSON object as a string. Defaults to C({"latest": { "num_versions":1 }}).'
        - 'C(0) and C("") mean not set, as with the operator: the flag or setting is left out.'
        type: raw
      layout:
        description:
        - Model layout, for example C(NHWC:NCHW).
        - 'C(0) and C("") mean not set, as with the operator: the flag or setting is left out.'
        type: str
      nireq:
        description:
        - Number of parallel inference requests.
        - 'C(0) and C("") mean not set, as with the operator: the flag or setting is left out.'
        type: int
      is_stateful:
        description:
        - Stateful model (OVMS before 2026.3 only). Defaults to C(false).
        type: bool
      idle_sequence_cleanup:
        description:
        - 'Stateful: idle sequence cleanup. Defaults to C(true).'
        type: bool
      low_latency_transformation:
        description:
        - 'Stateful: low latency transformation. Defaults to C(false).'
        type: bool
      max_sequence_number:
        description:
        - 'Stateful: maximum number of sequences.'
        - 'C(0) and C("") mean not set, as with the operator: the flag or setting is left out.'
        type: int
  server_settings:
    description:
    - Settings common to all models.
    type: dict
    suboptions:
      file_system_poll_wait_seconds:
        description:
        - How often OVMS checks for new model versions and config changes; C(0) disables it (a changed generated config
          then rolls the pods). Defaults to C(1).
        type: int
      log_level:
        description:
        - OVMS log level. Defaults to C(INFO).
        type: str
        choices:
        - TRACE
        - DEBUG
        - INFO
        - WARNING
        - ERROR
      grpc_workers:
        description:
        - Number of gRPC server instances. Defaults to C(1).
        - 'C(0) and C("") mean not set, as with the operator: the flag or setting is left out.'
        type: int
      rest_workers:
        description:
        - Number of REST worker threads.
        - 'C(0) and C("") mean not set, as with the operator: the flag or setting is left out.'
        type: int
      sequence_cleaner_poll_wait_minutes:
        description:
        - Sequence cleaner interval (OVMS before 2026.3 only). Defaults to C(5).
        - When the whole group is absent, the default is C(0), as with the operator (its Helm values).
        type: int
  models_repository:
    description:
    - Where the models are, and the credentials to read them.
    type: dict
    suboptions:
      storage_type:
        description:
        - Storage type of the model repository. Defaults to C(google).
        type: str
        choices:
        - S3
        - google
        - azure
        - cluster
      models_host_path:
        description:
        - 'Cluster storage: a host path mounted read-only at C(/models).'
        type: str
      models_volume_claim:
        description:
        - 'Cluster storage: a PersistentVolumeClaim mounted read-only at C(/models).'
        type: str
      runAsUser:
        description:
        - User ID the container runs as.
        - 'C(0) and C("") mean not set, as with the operator: the flag or setting is left out.'
        type: str
      runAsGroup:
        description:
        - Group ID the container runs as.
        - 'C(0) and C("") mean not set, as with the operator: the flag or setting is left out.'
        type: str
      aws_secret_access_key:
        description:
        - S3 secret access key (stored in a Secret).
        type: str
      aws_access_key_id:
        description:
        - S3 access key ID (stored in a Secret).
        - The operator puts the key ID in the pod spec in plain text; here it lives in the Secret too.
        type: str
      aws_session_token:
        description:
        - S3 session token (stored in a Secret).
        - 'Not a field of the operator''s CRD: an addition of this collection.'
        type: str
      aws_region:
        description:
        - S3 region.
        type: str
      s3_compat_api_endpoint:
        description:
        - S3-compatible endpoint (MinIO, ...).
        type: str
      gcp_creds_secret_name:
        description:
        - A Secret holding C(gcp-creds.json), mounted at C(/secret).
        - The operator mounts a Secret named gcpcreds whatever this says; here the name is honoured.
        type: str
      azure_storage_connection_string:
        description:
        - Azure storage connection string (stored in a Secret).
        type: str
      https_proxy:
        description:
        - C(https_proxy) for model downloads.
        type: str
      http_proxy:
        description:
        - C(http_proxy) for model downloads.
        type: str
      no_proxy:
        description:
        - C(no_proxy) for model downloads.
        - 'No CRD declares it: the API server drops it before the operator sees it. Here it is honoured (an addition).'
        type: str
  monitoring:
    description:
    - OVMS metrics.
    type: dict
    suboptions:
      metrics_enable:
        description:
        - Enable the metrics endpoint. Defaults to C(false).
        type: bool
      metrics_list:
        description:
        - Comma-separated metric names to enable.
        - 'C(0) and C("") mean not set, as with the operator: the flag or setting is left out.'
        type: str
  autoscaling:
    description:
    - 'A HorizontalPodAutoscaler (autoscaling/v2) for the Deployment. While it is on, the replica count belongs to
      it: a re-apply never resets it.'
    type: dict
    suboptions:
      enabled:
        description:
        - Create the HorizontalPodAutoscaler. Defaults to C(false).
        type: bool
      min_replicas:
        description:
        - Minimum replicas. Defaults to C(1).
        type: int
      max_replicas:
        description:
        - Maximum replicas (required when enabled).
        type: int
      target_cpu_utilization:
        description:
        - Target average CPU utilisation, in percent of requests.
        type: int
      pod_metrics:
        description:
        - Per-pod metrics to average, each C(name) (for example C(ovms_requests_success) or a queue-size metric served
          by a metrics adapter) and C(target_average_value) (a quantity).
        type: list
        elements: dict
  pod_disruption_budget:
    description:
    - A PodDisruptionBudget for the pods.
    type: dict
    suboptions:
      enabled:
        description:
        - Create the PodDisruptionBudget. Defaults to C(false).
        type: bool
      min_available:
        description:
        - Minimum available pods, a number or a percentage.
        type: str
      max_unavailable:
        description:
        - Maximum unavailable pods, a number or a percentage.
        type: str
  ingress:
    description:
    - An Ingress (networking.k8s.io/v1) in front of the Service.
    type: dict
    suboptions:
      enabled:
        description:
        - Create the Ingress. Defaults to C(false).
        type: bool
      host:
        description:
        - Host name.
        type: str
      class_name:
        description:
        - C(ingressClassName).
        type: str
      path:
        description:
        - HTTP path. Defaults to C(/).
        type: str
      tls_secret_name:
        description:
        - A TLS Secret for the host.
        type: str
      annotations:
        description:
        - Annotations of the Ingress (for example for gRPC backends).
        type: dict
      port:
        description:
        - Which Service port it routes to. Defaults to C(rest).
        type: str
        choices:
        - rest
        - grpc
  route:
    description:
    - An OpenShift Route (route.openshift.io/v1) to the Service.
    type: dict
    suboptions:
      enabled:
        description:
        - Create the Route. Defaults to C(false).
        type: bool
      host:
        description:
        - 'Host name (empty: OpenShift generates one).'
        type: str
      port:
        description:
        - Which Service port it routes to. Defaults to C(rest).
        type: str
        choices:
        - rest
        - grpc
      tls_termination:
        description:
        - 'TLS termination (C(none): plain HTTP). Defaults to C(edge).'
        type: str
        choices:
        - edge
        - passthrough
        - reencrypt
        - none
  generative_models:
    description:
    - 'Generative models pulled from Hugging Face and served through OVMS''s OpenAI-compatible C(/v3) endpoints (OVMS
      2025.3 or later). Each entry takes C(source_model) (a Hugging Face repository id such as C(OpenVINO/Qwen3-8B-int4-ov),
      required), C(task) (C(text_generation), C(embeddings), C(rerank), C(image_generation), C(text2speech), C(speech2text);
      required), C(name) (the served name; default the C(source_model)), C(target_device) (default C(CPU), always
      passed), C(task_settings) (the task''s OVMS flags without C(--), for example C({max_num_seqs: 8, enable_prefix_caching:
      true, cache_size: 2, tool_parser: hermes3}); a flag the image''s OVMS release does not know is refused, naming
      the release that has it) and C(draft_source_model) (text_generation: a draft model for speculative decoding).
      One model is pulled and served by the server itself (C(--source_model)); several are pulled by init containers
      and served through a generated C(model_config_list). Not combinable with the classic models of I(models_settings)
      in one server.'
    - 'Not a field of the operator''s CRD: an addition of this collection.'
    type: list
    elements: dict
  huggingface:
    description:
    - Hugging Face access for I(generative_models).
    type: dict
    suboptions:
      token_secret:
        description:
        - 'A Secret of yours holding a Hugging Face token (gated or private repositories): the pods get it as C(HF_TOKEN)
          through a C(secretKeyRef), never in arguments or plain environment values.'
        type: dict
        suboptions:
          name:
            description:
            - The Secret's name.
            type: str
          key:
            description:
            - The key of the token in the Secret. Defaults to C(token).
            type: str
      endpoint:
        description:
        - 'C(HF_ENDPOINT): a Hugging Face mirror to download from, for example C(https://hf-mirror.example.com).'
        type: str
  model_volume:
    description:
    - Where I(generative_models) are downloaded to and kept (mounted writable at C(/models), with C(fsGroup) 5000
      for the image's user). Without it the models go to an C(emptyDir) and are downloaded again whenever a pod starts.
    type: dict
    suboptions:
      claim_name:
        description:
        - An existing PersistentVolumeClaim to use.
        type: str
      size:
        description:
        - Create the PersistentVolumeClaim C(<fullname>-models) of this size, for example C(50Gi) (instead of I(claim_name)).
        type: raw
      storage_class:
        description:
        - 'The created claim''s storage class (default: the cluster''s default class).'
        type: str
      access_mode:
        description:
        - The created claim's access mode (C(ReadWriteMany) for several replicas on different nodes). Defaults to
          C(ReadWriteOnce).
        type: str
        choices:
        - ReadWriteOnce
        - ReadWriteOncePod
        - ReadWriteMany
# END GENERATED SPEC OPTIONS
notes:
  - For every spec the operator's CRD accepts, the module renders what the operator's Helm chart renders (the chart's
    names, labels, selectors, arguments, env, volumes and Secret names; C(0) and C("") mean not set), except for the
    deliberate differences listed next, each with its reason (the same list as the README's "Deliberate differences
    from the operator").
  # BEGIN GENERATED DIFFERENCES: do not edit; run `make docs` (tools/gen_docs.py) after changing _chart.DIFFERENCES
  - Deliberate difference from the operator - default image. The default image_name is the pinned OVMS release openvino/model_server:2026.3,
    not the CRD's registry.connect.redhat.com/intel/openvino-model-server:latest (nor the chart's openvino/model_server:latest).
    Why - A re-run deploys what was tested; :latest changes under you (and 2026.3 changed the command line).
  - 'Deliberate difference from the operator - placeholder model path. The CRD''s default model_path gs://<bucket_name>/<model_dir>
    (or any path with ''<'') is refused before any request. Why - It is a placeholder: the operator deploys it and
    OVMS crash-loops on it.'
  - 'Deliberate difference from the operator - credentials only in Secrets. aws_access_key_id reaches the pod through
    a secretKeyRef (key access_key_id of <fullname>-aws-secret), not as a plain env value; aws_session_token (ours)
    is key session_token of the same Secret. Why - The key ID is a credential too: it must not show in the pod spec,
    in diffs or in `kubectl get -o yaml`.'
  - Deliberate difference from the operator - gcp_creds_secret_name honoured. The Secret named in gcp_creds_secret_name
    is mounted at /secret; the chart mounts a Secret named gcpcreds whatever the field says. Why - The field would
    otherwise have no effect and a differently named Secret could never be used.
  - Deliberate difference from the operator - startup probe. The container has a startup probe on /v2/health/live
    (deployment_parameters.startup_timeout_seconds, 600 s by default) besides the chart's liveness and readiness probes;
    with generative_models it asks /v2/health/ready (1800 s by default), so that its budget covers the download and
    the compilation. Why - Large models load for minutes; without it the liveness probe restarts OVMS in the middle
    of the load.
  - Deliberate difference from the operator - flags removed in OVMS 2026.3. For images of OVMS 2026.3 and later (or
    whose tag names no version), --sequence_cleaner_poll_wait_minutes is not passed, and is_stateful (--stateful,
    --idle_sequence_cleanup, --low_latency_transformation, --max_sequence_number) is refused. Why - OVMS 2026.3 removed
    these options and exits on an unknown option; the chart always passes the first.
  - Deliberate difference from the operator - metrics_list needs metrics_enable. --metrics_list is passed only together
    with --metrics_enable. Why - The chart passes it alone, which OVMS refuses at start-up.
  - Deliberate difference from the operator - no_proxy. models_repository.no_proxy becomes the env variable no_proxy.
    Why - No CRD declares the field, so the API server drops it before the operator sees it; here it is an addition.
  - Deliberate difference from the operator - runAsUser and runAsGroup are numbers. runAsUser / runAsGroup must be
    numeric IDs ("" and 0 mean not set, as in the chart). Why - Kubernetes refuses anything else; the chart would
    render it and the API server refuse it.
  - Deliberate difference from the operator - names longer than 53 characters refused. A metadata.name longer than
    53 characters is refused before any request. Why - The operator cannot deploy it either (Helm's release name limit);
    refusing it says so up front.
  - Deliberate difference from the operator - our labels besides the chart's. Every object also carries app.kubernetes.io/name=openvino-model-server,
    app.kubernetes.io/instance=<name> and app.kubernetes.io/managed-by=openvino.ovms (the pods the first two), and
    the Deployment the annotation openvino.ovms/ovms-version; the chart's labels, Deployment selector and Service
    selector are kept as the chart has them. Why - Prune and state=absent find the objects by these labels, never
    by guessing names; the pods' instance label finds a server's pods by its name alone; the annotation records which
    OVMS contract the flags follow.
  - Deliberate difference from the operator - arguments as --flag=value. Each OVMS argument is one list item --flag=value
    (the chart passes --flag and value as two items); the order is the chart's. plugin_config and model_version_policy
    are parsed as JSON objects and passed compact ({"latest":{"num_versions":1}}). Why - The same command line for
    OVMS; invalid JSON is refused before deploying instead of crash-looping, and a whitespace-only edit does not roll
    the pods.
  - Deliberate difference from the operator - additions. Fields that are not in the CRD (ovms_version, pod_labels,
    pod_annotations, startup_timeout_seconds, models_settings.models, aws_session_token, autoscaling, pod_disruption_budget,
    ingress, route, generative_models, huggingface, model_volume) render objects or settings the chart does not have;
    they are off when not given. A manifest using generative_models is not one for the operator. Why - Left unset,
    a spec renders what the operator renders.
# END GENERATED DIFFERENCES
  - Efficiency - a run lists the Deployments, then only the kinds the server owns (recorded on its Deployment in the
    annotation C(openvino.ovms/contains-group-kinds), KEP-3659's group-kind format) and the ones it applies, and
    sends one PATCH per rendered object; a no-op run writes nothing to etcd. A server with no recorded Deployment is
    looked up in every kind. Routes are looked up only where discovery says the cluster serves them.
  - Permissions - the namespace-scoped Role in the collection's C(rbac/role.yaml) grants exactly what this module,
    M(openvino.ovms.modelserver_info) and the role need; a request refused by RBAC fails naming the verb and resource.
seealso:
  - module: openvino.ovms.modelserver_info
  - plugin: openvino.ovms.modelserver_manifests
    plugin_type: filter
"""

EXAMPLES = r"""
- name: Serve one model from Google Cloud Storage
  openvino.ovms.modelserver:
    name: resnet
    namespace: ovms
    models_settings:
      model_name: resnet
      model_path: gs://my-bucket/resnet50
    models_repository:
      storage_type: google
      gcp_creds_secret_name: gcp-reader
    deployment_parameters:
      replicas: 2
      resources:
        limits: {cpu: "4", memory: 8Gi}

- name: Apply a ModelServer manifest written for the operator
  openvino.ovms.modelserver:
    src: files/ovms-sample.yaml

- name: Several models from S3, with a generated config.json, autoscaling and a PDB
  openvino.ovms.modelserver:
    name: vision
    namespace: ovms
    models_settings:
      single_model_mode: false
      models:
        - {name: resnet, base_path: s3://models/resnet}
        - {name: face-detection, base_path: s3://models/face, shape: auto}
    models_repository:
      storage_type: S3
      aws_access_key_id: "{{ vault_s3_key_id }}"
      aws_secret_access_key: "{{ vault_s3_secret }}"
      s3_compat_api_endpoint: http://minio.storage:9000
    server_settings:
      file_system_poll_wait_seconds: 10
    autoscaling:
      enabled: true
      min_replicas: 2
      max_replicas: 6
      target_cpu_utilization: 70
    deployment_parameters:
      resources:
        requests: {cpu: "2"}
    pod_disruption_budget:
      enabled: true
      min_available: "1"

- name: Report drift without changing anything (run with --check --diff)
  openvino.ovms.modelserver:
    src: files/ovms-sample.yaml
  check_mode: true
  register: drift

- name: Remove a model server and everything it owns
  openvino.ovms.modelserver:
    name: resnet
    namespace: ovms
    state: absent
"""

RETURN = r"""
changed:
  description: Whether any object was (or, in check mode, would be) created, updated or deleted.
  returned: always
  type: bool
results:
  description: Fleet mode - one entry per server of O(servers), each with C(name), C(namespace), C(changed),
    C(objects), C(service), C(revision_before) (and C(diff) in diff mode), or C(failed) and C(msg); and
    C(outcome) - C(applied) (C(checked) in check mode), C(failed) (C(objects) then lists what was done before the
    failure), or C(not attempted) (the API server had gone away, or its namespace could not be listed; C(msg) says
    why). Requests are retried through short API server outages before a server counts as failed.
  returned: when servers is given
  type: list
  elements: dict
failed_servers:
  description: Fleet mode - C(namespace/name) of each server whose apply failed (the module then fails).
  returned: when servers is given
  type: list
  elements: str
objects:
  description: Every object of the model server and what happened to it.
  returned: when servers is not given
  type: list
  elements: dict
  contains:
    kind:
      description: Object kind.
      type: str
      sample: Deployment
    name:
      description: Object name.
      type: str
      sample: resnet-ovms
    namespace:
      description: Object namespace.
      type: str
    action:
      description: V(created), V(updated), V(unchanged), V(deleted), or V(adopted) (an existing object without this
        collection's labels, for example made by the operator, taken over with O(force_conflicts=true)); in check mode
        - what would happen.
      type: str
      sample: updated
    changes:
      description: For V(updated) objects, each changed field with its value before and after (Secret values
        masked).
      type: list
      elements: dict
      returned: when action is updated
      sample: [{path: "spec.replicas", before: 1, after: 2}]
diff:
  description: Before and after of each object that changes, as YAML (with C(--diff)).
  returned: in diff mode
  type: list
  elements: dict
name:
  description: Name of the model server (from the options or the manifest).
  returned: always
  type: str
  sample: ovms-sample
namespace:
  description: Its namespace.
  returned: always
  type: str
  sample: ovms
revision_before:
  description: The Deployment's revision before this run (C(0) when it did not exist); give it to O(state=rollback).
  returned: when state is present or absent
  type: int
  sample: 3
rolled_back:
  description: With O(state=rollback), what was restored.
  returned: when state is rollback and revision is not 0
  type: str
  sample: Deployment ovms/resnet-ovms pod template restored from revision 3 (image openvino/model_server:2026.3)
service:
  description: How to reach the model server inside the cluster.
  returned: when state is present
  type: dict
  contains:
    name:
      description: Service name.
      type: str
      sample: resnet-ovms
    grpc_port:
      description: Service port for gRPC.
      type: int
      sample: 8080
    rest_port:
      description: Service port for REST.
      type: int
      sample: 8081
    grpc_url:
      description: In-cluster gRPC address.
      type: str
      sample: resnet-ovms.ovms.svc:8080
    rest_url:
      description: In-cluster REST URL.
      type: str
      sample: http://resnet-ovms.ovms.svc:8081
api_requests:
  description: Requests this run sent to the API server, in total, writes, and by HTTP verb.
  returned: always
  type: dict
  sample: {total: 10, writes: 2, by_verb: {GET: 8, PATCH: 2}}
"""

import copy
import traceback

from ansible_collections.openvino.ovms.plugins.module_utils import _client, _reconcile, _runner, _secrets, _spec


# Spec fields whose names look like credentials but hold none (a Secret's name): their values are not masked.
PLAIN_KEYS = frozenset(_spec.field_keys()) - frozenset(_spec.SECRET_FIELDS)


def argument_spec():
    spec = copy.deepcopy(_client.AUTH_ARG_SPEC)
    spec.update(
        state=dict(type="str", choices=["present", "absent", "rollback"], default="present"),
        revision=dict(type="int"),
        name=dict(type="str"),
        namespace=dict(type="str"),
        definition=dict(type="dict"),
        src=dict(type="path"),
        force_conflicts=dict(type="bool", default=False),
        ignore_differences=dict(type="list", elements="dict", options=dict(
            kinds=dict(type="list", elements="str"), managers=dict(type="list", elements="str"),
            paths=dict(type="list", elements="str"))),
        prune=dict(type="bool", default=True),
        servers=dict(type="list", elements="dict"),
        parallel=dict(type="int", default=8),
    )
    spec.update(_spec.argument_spec())
    return spec


def main():
    # Every credential of the input (options, definition, src file, servers; any shape) is registered for masking
    # before the options are even validated: no refusal shows one.
    module = _secrets.MaskingModule(plain_keys=PLAIN_KEYS, argument_spec=argument_spec(), supports_check_mode=True,
                                    mutually_exclusive=[("definition", "src", "servers", "name")],
                                    required_if=[("state", "rollback", ["revision"])])
    _client.require(module)
    fleet = module.params["servers"] is not None
    if fleet and module.params["state"] == "rollback":
        module.fail_json(msg="state=rollback applies to one model server, not to servers")
    try:
        if not fleet:
            _runner.resolve(module.params)  # refused input fails before any request
    except _spec.SpecError as exc:
        module.fail_json(msg=str(exc), field=exc.path)
    try:
        run = _runner.run_fleet if fleet else _runner.run
        # The client is made only once the input is valid: making it already sends requests (version, API groups).
        result = run(module.params, lambda: _client.api_client(module.params), check_mode=module.check_mode,
                     want_diff=module._diff)
    except _spec.SpecError as exc:
        module.fail_json(msg=str(exc), field=exc.path)
    except (_reconcile.ReconcileError, _client.ClientError) as exc:
        module.fail_json(msg=str(exc))
    except Exception as exc:  # connection problems surface from the kubernetes client with their own types
        module_of = type(exc).__module__
        if module_of.split(".", 1)[0] in ("kubernetes", "urllib3", "ssl", "socket", "http") or \
                module_of.startswith("ansible_collections.kubernetes.") or isinstance(exc, (IOError, OSError)):
            module.fail_json(msg="Kubernetes API request failed: %s" % exc, exception=traceback.format_exc())
        # Anything else is a bug of this collection, not the API server's doing: say so.
        module.fail_json(msg="internal error in openvino.ovms (please report it): %s: %s" % (type(exc).__name__, exc),
                         exception=traceback.format_exc())
    for warning in result.pop("warnings"):
        module.warn(warning)
    if result.get("failed_servers"):
        module.fail_json(msg="%d of %d model servers failed: %s" % (
            len(result["failed_servers"]), len(result["results"]), "; ".join(
                "%s/%s: %s" % (r["namespace"], r["name"], r["msg"]) for r in result["results"] if r.get("failed"))),
            **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
