# -*- coding: utf-8 -*-
# Copyright (c) openvino.ovms contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
#
# PRIVATE: this module_utils file is internal to the openvino.ovms collection. Its API may change
# without notice; other collections must not import it.
"""OVMS's generative serving (models pulled from Hugging Face), release by release: the one table.

Everything that depends on the OVMS release of a generative server is here: which tasks exist, which task settings
(command-line flags) each release knows and since when, and when the REST port opens. _spec validates against it,
_render writes the flags from it. Facts from OVMS's sources (src/cli_parser.cpp, src/pull_module, src/server.cpp,
tags v2025.2 ... v2026.3); a release that is not in the table follows the newest one.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

# The first release this collection deploys generative models for. Pull-and-start (--source_model with --task)
# came in 2025.2, but there --source_model alone started it and --task was not yet a reliable trigger; from 2025.3
# on, always passing --task works on every release (2025.4 ... 2026.2 even need it: --source_model without --task
# is no pull there). 2026.3 could infer the task; it is still passed, so that every release gets the same command.
SINCE = (2025, 3)
# From this release on OVMS opens its REST port before downloading (/v2/health/live 200, /v2/health/ready 503
# during the download and the compilation); before it, the port opens only after the download.
REST_OPENS_BEFORE_DOWNLOAD = (2026, 2)
# The image's user (ovms, uid/gid 5000): the model repository volume must be writable for it.
OVMS_UID = 5000

# task -> the release that has it (OVMS's --task values)
TASKS = {
    "text_generation": (2025, 2),
    "embeddings": (2025, 2),
    "rerank": (2025, 2),
    "image_generation": (2025, 2),
    "text2speech": (2025, 4),
    "speech2text": (2025, 4),
}

_TG = ("text_generation",)
_ALL_STREAMS = ("embeddings", "rerank", "image_generation", "text2speech", "speech2text")


def S(tasks, since, kind, until=None, choices=None, minimum=None, flag=None, desc=""):
    """A task setting: the tasks that take it, the release that has it (and the one that removed it), its kind
    (int, number, bool, str, choice), choices as {value: release that has it}, a minimum, the flag's spelling
    when it is not --<key>."""
    return {"tasks": tasks, "since": since, "until": until, "kind": kind, "choices": choices, "min": minimum,
            "flag": flag, "desc": desc}


# task_settings key -> the flag. Shared pull flags first, then per task, as OVMS's --help lists them.
SETTINGS = {
    # shared pull flags (text_generation, embeddings, rerank, ... alike)
    "weight_format": S(tuple(TASKS), (2025, 3), "str", flag="weight-format",
                       desc="optimum-cli export precision (int8, int4, fp16, ...); only for repositories outside "
                            "OpenVINO/, and only with a -py image"),
    "extra_quantization_params": S(tuple(TASKS), (2025, 3), "str", desc="extra optimum-cli arguments"),
    # text_generation
    "max_num_seqs": S(_TG, (2025, 2), "int", minimum=1, desc="sequences processed at once (256)"),
    "pipeline_type": S(_TG, (2025, 2), "choice",
                       choices={"LM": (2025, 2), "LM_CB": (2025, 2), "VLM": (2025, 2), "VLM_CB": (2025, 2),
                                "AUTO": (2025, 2), "OMNI": (2026, 3)}),
    "enable_prefix_caching": S(_TG, (2025, 2), "bool"),
    "max_num_batched_tokens": S(_TG, (2025, 2), "int", minimum=1),
    "cache_size": S(_TG, (2025, 2), "int", minimum=0,
                    desc="KV cache in GB (0: grows on demand from 2025.4 on, unbounded)"),
    "dynamic_split_fuse": S(_TG, (2025, 2), "bool"),
    "max_prompt_len": S(_TG, (2025, 2), "int", minimum=1, desc="NPU only"),
    "kv_cache_precision": S(_TG, (2025, 2), "choice", choices={"u8": (2025, 2)}),
    "reasoning_parser": S(_TG, (2025, 3), "str"),
    "tool_parser": S(_TG, (2025, 3), "str"),
    "enable_tool_guided_generation": S(_TG, (2025, 3), "bool"),
    "gguf_filename": S(_TG, (2025, 3), "str"),
    "model_distribution_policy": S(_TG, (2025, 4), "choice",
                                   choices={"TENSOR_PARALLEL": (2025, 4), "PIPELINE_PARALLEL": (2025, 4)}),
    "cache_interval_multiplier": S(_TG, (2026, 3), "int", minimum=1),
    # embeddings, rerank, image_generation, text2speech, speech2text
    "num_streams": S(_ALL_STREAMS, (2025, 2), "int", minimum=1),
    "normalize": S(("embeddings",), (2025, 2), "bool"),
    "truncate": S(("embeddings",), (2025, 3), "bool"),
    "pooling": S(("embeddings",), (2025, 3), "choice",
                 choices={"CLS": (2025, 3), "LAST": (2025, 3), "MEAN": (2025, 3)}),
    "max_allowed_chunks": S(("rerank",), (2025, 2), "int", minimum=1),
    # image_generation
    "max_resolution": S(("image_generation",), (2025, 2), "str"),
    "default_resolution": S(("image_generation",), (2025, 2), "str"),
    "max_num_images_per_prompt": S(("image_generation",), (2025, 2), "int", minimum=1),
    "default_num_inference_steps": S(("image_generation",), (2025, 2), "int", minimum=1),
    "max_num_inference_steps": S(("image_generation",), (2025, 2), "int", minimum=1),
    "resolution": S(("image_generation",), (2025, 3), "str"),
    "num_images_per_prompt": S(("image_generation",), (2025, 3), "int", minimum=1),
    "guidance_scale": S(("image_generation",), (2025, 3), "number"),
    "source_loras": S(("image_generation",), (2026, 3), "str"),
    # text2speech
    "vocoder": S(("text2speech",), (2025, 4), "str"),
    "model_type": S(("text2speech",), (2026, 3), "choice", choices={"kokoro": (2026, 3), "speecht5": (2026, 3)}),
}
# draft_source_model (a field of its own, not a task setting): speculative decoding, text_generation, since 2025.2.
DRAFT_SINCE = (2025, 2)


def known(since, version, until=None):
    """Whether a release (None: the newest) has what came in `since` (and was removed in `until`)."""
    if version is None:
        return until is None
    return version >= since and (until is None or version < until)


def text(version):
    return "%d.%d" % version


def flag(key):
    return "--" + (SETTINGS[key]["flag"] or key)


def settings_for(task):
    return [k for k, s in SETTINGS.items() if task in s["tasks"]]


def setting_value(key, value):
    """A validated setting's value as OVMS's command line spells it (booleans as the literals true/false)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return "%s" % (value,)


def pull_args(model, repository):
    """The flags that pull one model (and, in pull-and-start, serve it), in OVMS's order: the general flags, then
    --task, then the task's flags (OVMS parses those after --task and refuses ones of another task)."""
    args = ["--source_model=%s" % model["source_model"], "--model_repository_path=%s" % repository,
            "--target_device=%s" % model["target_device"], "--task=%s" % model["task"]]
    if model.get("draft_source_model"):
        args.append("--draft_source_model=%s" % model["draft_source_model"])
    settings = model.get("task_settings") or {}
    for key in SETTINGS:  # the table's order, so that the same spec always renders the same command
        if key in settings:
            args.append("%s=%s" % (flag(key), setting_value(key, settings[key])))
    return args


def model_dir(repository, source_model):
    """Where OVMS puts a pulled model (and its graph.pbtxt): <repository>/<org>/<repo>."""
    return "%s/%s" % (repository.rstrip("/"), source_model)
