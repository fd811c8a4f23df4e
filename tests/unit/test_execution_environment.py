"""The AWX execution environment definition and the AWX job templates and surveys (awx/*.json).

No container engine and no network: `ansible-builder create` only writes the build context, which is checked
here; the AWX files are checked for shape and against the playbooks they drive. The deploy job template's
extra_vars are rendered by ansible-playbook the way AWX passes them (survey answers tagged !unsafe) and the
result goes through the collection's own validation and rendering.
"""
import json
import os
import re
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
import yaml

import collection_path

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
EE_FILE = ROOT / "execution-environment.yml"
AWX = ROOT / "awx"
DOCS = ROOT / "docs" / "awx.md"
DEPLOY_PLAYBOOK = ROOT / "playbooks" / "deploy.yml"
DRIFT_PLAYBOOK = ROOT / "playbooks" / "drift.yml"
ROLE_DIR = ROOT / "roles" / "modelserver"

# A proxy nobody listens on: any HTTP(S) request ansible-builder or ansible-galaxy tried would fail.
OFFLINE_ENV = {"HTTP_PROXY": "http://127.0.0.1:9", "HTTPS_PROXY": "http://127.0.0.1:9",
               "http_proxy": "http://127.0.0.1:9", "https_proxy": "http://127.0.0.1:9",
               "NO_PROXY": "", "no_proxy": "", "PIP_NO_INDEX": "1"}


def tool(name):
    path = BIN / name
    assert path.is_file(), "%s not found next to %s" % (name, sys.executable)
    return str(path)


def pins():
    """{lower-case name: version} from requirements.txt."""
    out = {}
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, version = line.split("==")
            out[name.strip().lower()] = version.strip()
    return out


def galaxy():
    return yaml.safe_load((ROOT / "galaxy.yml").read_text())


def tarball_name():
    g = galaxy()
    return "%s-%s-%s.tar.gz" % (g["namespace"], g["name"], g["version"])


# --- ansible-builder create ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def ee(tmp_path_factory):
    """Build the collection tarball and run `ansible-builder create` on a copy of the EE file, offline."""
    work = tmp_path_factory.mktemp("ee")
    (work / EE_FILE.name).write_text(EE_FILE.read_text())
    env = dict(os.environ, **OFFLINE_ENV)
    env["PATH"] = "%s%s%s" % (BIN, os.pathsep, env.get("PATH", ""))
    build = subprocess.run([tool("ansible-galaxy"), "collection", "build", str(ROOT), "--output-path", str(work)],
                           cwd=work, env=env, capture_output=True, text=True, timeout=300)
    assert build.returncode == 0, build.stdout + build.stderr
    context = work / "context"
    create = subprocess.run([tool("ansible-builder"), "create", "-f", EE_FILE.name, "--context", str(context),
                             "--output-filename", "Containerfile"],
                            cwd=work, env=env, capture_output=True, text=True, timeout=300)
    containerfile = context / "Containerfile"
    return {"work": work, "context": context, "create": create,
            "containerfile": containerfile.read_text() if containerfile.exists() else ""}


def stages(containerfile):
    """{stage name: its lines} of a multi-stage Containerfile."""
    out, current = {}, None
    for line in containerfile.splitlines():
        m = re.match(r"^FROM\s+\S+\s+AS\s+(\S+)", line)
        if m:
            current = m.group(1)
            out[current] = []
        elif current:
            out[current].append(line)
    return out


def test_ansible_builder_create_succeeds_offline(ee):
    create = ee["create"]
    assert create.returncode == 0, create.stdout + create.stderr
    assert "No matches" not in create.stdout + create.stderr, create.stdout + create.stderr
    assert (ee["context"] / "Containerfile").is_file()
    assert set(stages(ee["containerfile"])) == {"base", "galaxy", "builder", "final"}


def test_ee_file_is_v3_with_a_named_base_image():
    ee = yaml.safe_load(EE_FILE.read_text())
    assert ee["version"] == 3
    image = ee["images"]["base_image"]["name"]
    assert re.match(r"^[a-z0-9.-]+(:[0-9]+)?/[a-z0-9._/-]+:[A-Za-z0-9._-]+$", image), image
    assert not image.endswith(":latest"), "pin the base image"


def test_containerfile_installs_the_collection_from_the_local_tarball(ee):
    name = tarball_name()
    # the tarball is in the build context, and it is this checkout's collection at galaxy.yml's version
    copied = ee["context"] / "_build" / "collections" / name
    assert copied.is_file(), "the EE file must copy %s (galaxy.yml's version) into the context" % name
    with tarfile.open(copied) as tar:
        manifest = json.load(tar.extractfile("MANIFEST.json"))["collection_info"]
        members = set(tar.getnames())
    g = galaxy()
    assert (manifest["namespace"], manifest["name"], manifest["version"]) == (g["namespace"], g["name"],
                                                                              g["version"])
    assert "plugins/modules/modelserver.py" in members
    assert "playbooks/deploy.yml" in members
    assert "rbac/role.yaml" in members  # the shipped permissions (README: Permissions)

    # the galaxy stage installs exactly that file, offline, and nothing from a server
    reqs = yaml.safe_load((ee["context"] / "_build" / "requirements.yml").read_text())
    assert reqs["collections"] == [{"name": "/build/collections/" + name, "type": "file"}]
    galaxy_stage = "\n".join(stages(ee["containerfile"])["galaxy"])
    assert "COPY _build /build" in galaxy_stage
    assert re.search(r"ansible-galaxy collection install \$ANSIBLE_GALAXY_CLI_COLLECTION_OPTS -r requirements.yml",
                     galaxy_stage), galaxy_stage
    assert 'ARG ANSIBLE_GALAXY_CLI_COLLECTION_OPTS="--offline"' in ee["containerfile"]
    # and the final image gets what the galaxy stage installed
    assert "COPY --from=galaxy /usr/share/ansible /usr/share/ansible" in "\n".join(stages(ee["containerfile"])["final"])


def test_containerfile_installs_the_pinned_python_dependencies(ee):
    p = pins()
    wanted = ["kubernetes==" + p["kubernetes"], "PyYAML==" + p["pyyaml"], "jmespath==" + p["jmespath"]]
    reqs = [line.strip() for line in (ee["context"] / "_build" / "requirements.txt").read_text().splitlines()
            if line.strip() and not line.startswith("#")]
    assert sorted(reqs) == sorted(wanted)
    builder = "\n".join(stages(ee["containerfile"])["builder"])
    assert "COPY _build/requirements.txt requirements.txt" in builder
    assert "--user-pip=requirements.txt" in builder
    assert "RUN /output/scripts/install-from-bindep" in "\n".join(stages(ee["containerfile"])["final"])


def test_containerfile_takes_ansible_core_and_kubernetes_core_from_pypi(ee):
    p = pins()
    assert 'ARG ANSIBLE_INSTALL_REFS="ansible-core==%s"' % p["ansible-core"] in ee["containerfile"]
    # kubernetes.core comes with the `ansible` package, installed in the base stage so that the galaxy stage
    # resolves openvino.ovms's dependency on it offline
    base = stages(ee["containerfile"])["base"]
    install = [line for line in base if re.search(r"pip install .*\bansible==", line)]
    assert install, "\n".join(base)
    assert "ansible==%s" % p["ansible"] in install[0]
    assert "ansible-core==%s" % p["ansible-core"] in install[0]


def test_final_image_is_checked_for_both_collections(ee):
    final = "\n".join(stages(ee["containerfile"])["final"])
    check = [line for line in final.splitlines() if line.startswith("RUN ansible-doc")]
    assert check and "openvino.ovms.modelserver" in check[0] and "kubernetes.core.k8s" in check[0]


# --- AWX job templates and surveys -----------------------------------------------------------------------
JT_REQUIRED = ("name", "description", "job_type", "inventory", "project", "playbook", "execution_environment",
               "ask_variables_on_launch", "extra_vars", "survey_enabled", "diff_mode")
PLACEHOLDER = re.compile(r"^__[A-Z_]+_ID__$")
SURVEY_TYPES = {"text", "textarea", "password", "integer", "float", "multiplechoice", "multiselect"}


def load(name):
    return json.loads((AWX / name).read_text())


@pytest.mark.parametrize("name", ["job_template_deploy.json", "job_template_drift.json", "job_template_deploy_hf.json",
                                  "survey_deploy.json", "survey_drift.json", "survey_deploy_hf.json"])
def test_awx_files_are_json_objects(name):
    assert isinstance(load(name), dict)


@pytest.mark.parametrize("name,job_type,playbook,diff_mode", [
    ("job_template_deploy.json", "run", "playbooks/deploy.yml", False),
    ("job_template_drift.json", "check", "playbooks/drift.yml", True),
    ("job_template_deploy_hf.json", "run", "playbooks/deploy.yml", False),
])
def test_job_template_shape(name, job_type, playbook, diff_mode):
    jt = load(name)
    missing = [k for k in JT_REQUIRED if k not in jt]
    assert not missing, missing
    assert (jt["job_type"], jt["playbook"], jt["diff_mode"]) == (job_type, playbook, diff_mode)
    assert jt["survey_enabled"] is True
    assert isinstance(jt["ask_variables_on_launch"], bool)
    # ids that differ per AWX are placeholders, and the docs say how to fill each one in
    docs = DOCS.read_text()
    for key in ("inventory", "project", "execution_environment"):
        assert PLACEHOLDER.match(str(jt[key])), "%s: %r" % (key, jt[key])
        assert jt[key] in docs, "docs/awx.md does not explain %s" % jt[key]
    assert isinstance(jt["extra_vars"], str)
    assert isinstance(yaml.safe_load(jt["extra_vars"]) or {}, dict)


def check_survey(survey):
    errors = []
    for key, typ in (("name", str), ("description", str), ("spec", list)):
        if not isinstance(survey.get(key), typ):
            errors.append("survey %s: expected %s" % (key, typ.__name__))
    seen = set()
    for q in survey.get("spec") or []:
        var = q.get("variable")
        for key in ("question_name", "question_description", "required", "type", "variable"):
            if key not in q:
                errors.append("%s: %s missing" % (var, key))
        if var in seen:
            errors.append("%s: duplicate variable" % var)
        seen.add(var)
        if not isinstance(q.get("required"), bool):
            errors.append("%s: required must be a boolean" % var)
        qtype, default = q.get("type"), q.get("default")
        if qtype not in SURVEY_TYPES:
            errors.append("%s: unknown type %r" % (var, qtype))
        if q.get("required") and default in (None, "") and qtype in ("integer", "float", "multiplechoice"):
            errors.append("%s: required without a default" % var)
        if qtype == "integer":
            lo, hi = q.get("min"), q.get("max")
            if not (isinstance(lo, int) and isinstance(hi, int) and lo <= hi):
                errors.append("%s: integer needs min <= max" % var)
            elif default not in (None, "") and not (isinstance(default, int) and not isinstance(default, bool)
                                                    and lo <= default <= hi):
                errors.append("%s: default %r outside %s..%s" % (var, default, lo, hi))
        elif qtype in ("text", "textarea", "password"):
            if not isinstance(default if default is not None else "", str):
                errors.append("%s: default must be a string" % var)
            elif default and not (q.get("min", 0) <= len(default) <= q.get("max", len(default))):
                errors.append("%s: default's length outside min..max" % var)
            if q.get("required") and q.get("min", 0) < 1:
                errors.append("%s: a required text answer needs min >= 1" % var)
        elif qtype in ("multiplechoice", "multiselect"):
            choices = q.get("choices")
            if not (isinstance(choices, list) and choices and all(isinstance(c, str) for c in choices)):
                errors.append("%s: choices must be a non-empty list of strings" % var)
            elif default not in (None, "") and default not in choices:
                errors.append("%s: default %r not among %r" % (var, default, choices))
    return errors


def test_check_survey_catches_mistakes():
    bad = {"name": "x", "description": "", "spec": [
        {"question_name": "a", "question_description": "", "required": True, "type": "integer",
         "variable": "a", "min": 1, "max": 20, "default": 21},
        {"question_name": "b", "question_description": "", "required": True, "type": "multiplechoice",
         "variable": "a", "choices": ["true", "false"], "default": "yes"},
    ]}
    errors = check_survey(bad)
    assert any("outside 1..20" in e for e in errors)
    assert any("duplicate" in e for e in errors)
    assert any("not among" in e for e in errors)


# (type, required, default, min, max, choices) per variable, as the surveys are specified
DEPLOY_QUESTIONS = {
    "ovms_name": ("text", True, "", 1, None, None),
    "ovms_namespace": ("text", True, "ovms", 1, 63, None),
    "ovms_model_name": ("text", None, "resnet", None, None, None),
    "ovms_model_path": ("text", True, "", 1, None, None),
    "ovms_image": ("text", None, "openvino/model_server:2026.3", None, None, None),
    "ovms_replicas": ("integer", None, 1, 1, 20, None),
    "modelserver_wait_timeout": ("integer", None, 600, None, None, None),
    "modelserver_rollback_on_failure": ("multiplechoice", None, "true", None, None, ["true", "false"]),
}
DRIFT_QUESTIONS = {
    "drift_report_path": ("text", None, "/runner/artifacts/drift", None, None, None),
    "fail_on_drift": ("multiplechoice", None, "true", None, None, ["true", "false"]),
    "ovms_namespaces": ("textarea", False, "", None, None, None),
}


HF_QUESTIONS = {
    "ovms_name": ("text", True, "", 1, 58, None),
    "ovms_namespace": ("text", True, "ovms", 1, 63, None),
    "ovms_hf_source_model": ("text", True, "", 1, None, None),
    "ovms_hf_task": ("multiplechoice", True, "text_generation", None, None,
                     ["text_generation", "embeddings", "rerank", "image_generation", "text2speech", "speech2text"]),
    "ovms_hf_target_device": ("multiplechoice", True, "CPU", None, None, ["CPU", "GPU", "NPU", "AUTO"]),
    "ovms_hf_volume_size_gib": ("integer", True, 50, 1, 10000, None),
    "ovms_hf_storage_class": ("text", False, "", None, None, None),
    "ovms_hf_token_secret": ("text", False, "", None, None, None),
    "ovms_image": ("text", None, "openvino/model_server:2026.3", None, None, None),
    "modelserver_wait_timeout": ("integer", None, 3600, None, None, None),
    "modelserver_rollback_on_failure": ("multiplechoice", None, "true", None, None, ["true", "false"]),
}


@pytest.mark.parametrize("name,expected", [("survey_deploy.json", DEPLOY_QUESTIONS),
                                           ("survey_drift.json", DRIFT_QUESTIONS),
                                           ("survey_deploy_hf.json", HF_QUESTIONS)])
def test_survey(name, expected):
    survey = load(name)
    assert check_survey(survey) == []
    questions = {q["variable"]: q for q in survey["spec"]}
    assert list(questions) == list(expected)
    for var, (qtype, required, default, lo, hi, choices) in expected.items():
        q = questions[var]
        got = (q["type"], q["required"] if required is not None else None, q.get("default", ""),
               q.get("min") if lo is not None else None, q.get("max") if hi is not None else None,
               sorted(q["choices"]) if choices else None)
        assert got == (qtype, required, default, lo, hi, sorted(choices) if choices else None), var
    if name in ("survey_deploy.json", "survey_deploy_hf.json"):
        # a name whose Service name <name>-ovms would exceed a 63-character DNS label cannot be entered
        assert questions["ovms_name"]["max"] <= 63 - len("-ovms")


def words(text):
    return set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", text))


def tree_text(path):
    return "\n".join(p.read_text(errors="replace") for p in sorted(path.rglob("*"))
                     if p.is_file() and p.suffix in (".yml", ".yaml", ".j2", ".py", ".json"))


def playbook_text(playbook):
    """The playbook and the vars_files it loads (relative ones from the playbook's directory)."""
    texts = [playbook.read_text()]
    for play in yaml.safe_load(texts[0]) or []:
        for vars_file in play.get("vars_files") or []:
            path = Path(vars_file) if Path(vars_file).is_absolute() else playbook.parent / vars_file
            texts.append(path.read_text())
    return "\n".join(texts)


def test_deploy_survey_variables_are_used():
    """Each deploy survey answer reaches playbooks/deploy.yml (its vars_files), or the modelserver role.

    An answer also counts as used when the job template's extra_vars pass it on in a variable that the
    playbook or the role uses. modelserver_* variables belong to the modelserver role: they are checked
    only when roles/modelserver exists.
    """
    consumers = playbook_text(DEPLOY_PLAYBOOK)
    if ROLE_DIR.is_dir():
        consumers += "\n" + tree_text(ROLE_DIR)
    used = words(consumers)
    extra_vars = yaml.safe_load(load("job_template_deploy.json")["extra_vars"]) or {}
    bridged = set()
    for key, value in extra_vars.items():
        assert key in used, "the job template sets %s, which neither deploy.yml nor the role uses" % key
        bridged |= words(json.dumps(value))
    checked, unused = [], []
    for q in load("survey_deploy.json")["spec"]:
        var = q["variable"]
        if var.startswith("modelserver_") and not ROLE_DIR.is_dir():
            continue
        checked.append(var)
        if var not in used and var not in bridged:
            unused.append(var)
    assert not unused, "survey variables nothing uses: %s" % unused
    assert {v for v in checked if v.startswith("ovms_")} == {v for v in DEPLOY_QUESTIONS if v.startswith("ovms_")}


def test_hugging_face_survey_variables_are_used():
    """Each answer of the survey "Deploy a model from Hugging Face" reaches deploy.yml (its vars_files) or the role."""
    used = words(playbook_text(DEPLOY_PLAYBOOK) + "\n" + tree_text(ROLE_DIR))
    assert load("job_template_deploy_hf.json")["playbook"] == DEPLOY_PLAYBOOK.relative_to(ROOT).as_posix()
    unused = [q["variable"] for q in load("survey_deploy_hf.json")["spec"] if q["variable"] not in used]
    assert not unused, "survey variables nothing uses: %s" % unused


def test_drift_survey_variables_are_used_once_the_playbook_exists():
    """The drift job template runs playbooks/drift.yml; once it exists, it (or a role) uses every answer."""
    assert load("job_template_drift.json")["playbook"] == DRIFT_PLAYBOOK.relative_to(ROOT).as_posix()
    if DRIFT_PLAYBOOK.is_file():
        text = playbook_text(DRIFT_PLAYBOOK)
        if (ROOT / "roles").is_dir():
            text += "\n" + tree_text(ROOT / "roles")
        unused = [q["variable"] for q in load("survey_drift.json")["spec"] if q["variable"] not in words(text)]
        assert not unused, "drift survey variables nothing uses: %s" % unused


# --- the deploy survey's answers, rendered as AWX passes them --------------------------------------------
# The servers deploy.yml deploys are its vars_files' ovms_servers; this renders them with the same vars_files.
RENDER_PLAYBOOK = """
- name: Render what deploy.yml would deploy
  hosts: localhost
  gather_facts: false
  vars_files: %s
  tasks:
    - name: Write the servers and their manifests
      ansible.builtin.copy:
        dest: "{{ out }}"
        mode: "0600"
        content: "{{ {'servers': ovms_servers,
                      'manifests': ovms_servers | map('openvino.ovms.modelserver_manifests') | list}
                     | to_json }}"
"""


def survey_defaults(survey="survey_deploy.json"):
    return {q["variable"]: q["default"] for q in load(survey)["spec"] if q.get("default") != ""}


def awx_extravars(answers):
    """The extra vars file AWX writes: the template's extra_vars as they are, survey answers tagged !unsafe."""
    lines = [load("job_template_deploy.json")["extra_vars"].rstrip("\n")]
    for key, value in answers.items():
        lines.append("%s: %s" % (key, json.dumps(value) if isinstance(value, int) else "!unsafe " + json.dumps(value)))
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("answers", [
    {"ovms_name": "resnet", "ovms_model_path": "gs://ovms-public-eu/resnet50-binary"},
    {"ovms_name": "bert-small", "ovms_namespace": "ml", "ovms_model_path": "s3://models/bert", "ovms_replicas": 3,
     "ovms_model_name": "bert", "ovms_image": "openvino/model_server:2025.4"},
])
def test_deploy_survey_answers_render_a_valid_model_server(tmp_path, answers):
    answers = dict(survey_defaults(), **answers)
    result = render_answers(tmp_path, answers)
    [server] = result["servers"]
    assert server["metadata"] == {"name": answers["ovms_name"], "namespace": answers["ovms_namespace"]}
    [manifests] = result["manifests"]
    deployment = next(m for m in manifests if m["kind"] == "Deployment")
    assert deployment["metadata"]["name"] == answers["ovms_name"] + "-ovms"
    assert deployment["metadata"]["namespace"] == answers["ovms_namespace"]
    assert deployment["spec"]["replicas"] == answers["ovms_replicas"]
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == answers["ovms_image"]
    assert "--model_path=" + answers["ovms_model_path"] in container["args"]
    assert "--model_name=" + answers["ovms_model_name"] in container["args"]


@pytest.mark.parametrize("answers", [
    {"ovms_name": "qwen", "ovms_hf_source_model": "OpenVINO/Qwen3-8B-int4-ov"},
    {"ovms_name": "embed", "ovms_namespace": "ml", "ovms_hf_source_model": "OpenVINO/bge-base-en-v1.5-fp16-ov",
     "ovms_hf_task": "embeddings", "ovms_hf_target_device": "GPU", "ovms_hf_volume_size_gib": 5,
     "ovms_hf_storage_class": "fast", "ovms_hf_token_secret": "hf-token", "ovms_image": "openvino/model_server:2025.4-gpu"},
])
def test_hugging_face_survey_answers_render_a_generative_model_server(tmp_path, answers):
    answers = dict(survey_defaults("survey_deploy_hf.json"), **answers)
    result = render_answers(tmp_path, answers)
    [manifests] = result["manifests"]
    objs = dict((m["kind"], m) for m in manifests)
    container = objs["Deployment"]["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == answers["ovms_image"]
    for arg in ("--source_model=" + answers["ovms_hf_source_model"], "--task=" + answers["ovms_hf_task"],
                "--target_device=" + answers["ovms_hf_target_device"], "--model_repository_path=/models"):
        assert arg in container["args"]
    pvc = objs["PersistentVolumeClaim"]["spec"]
    assert pvc["resources"]["requests"]["storage"] == "%dGi" % answers["ovms_hf_volume_size_gib"]
    assert pvc.get("storageClassName") == (answers.get("ovms_hf_storage_class") or None)
    env = dict((e["name"], e) for e in container.get("env", []))
    if answers.get("ovms_hf_token_secret"):
        assert env["HF_TOKEN"]["valueFrom"]["secretKeyRef"] == {"name": "hf-token", "key": "token"}
    else:
        assert "HF_TOKEN" not in env


def render_answers(tmp_path, answers):
    """ovms_servers and their manifests, rendered with deploy.yml's vars_files from answers as AWX passes them."""
    vars_files = [str(DEPLOY_PLAYBOOK.parent / f) for play in yaml.safe_load(DEPLOY_PLAYBOOK.read_text())
                  for f in play.get("vars_files") or []]
    (tmp_path / "extravars").write_text(awx_extravars(answers))
    (tmp_path / "render.yml").write_text(RENDER_PLAYBOOK % json.dumps(vars_files))
    out = tmp_path / "out.json"
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(collection_path.ensure()), ANSIBLE_NOCOLOR="1",
               ANSIBLE_LOCALHOST_WARNING="0", ANSIBLE_INVENTORY_UNPARSED_WARNING="0")
    run = subprocess.run([tool("ansible-playbook"), "-i", "localhost,", "-c", "local", str(tmp_path / "render.yml"),
                          "-e", "@" + str(tmp_path / "extravars"), "-e", "out=" + str(out),
                          "-e", "ansible_python_interpreter=" + sys.executable],
                         cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    return json.loads(out.read_text())


WRITERS = {"copy", "file", "template", "lineinfile", "blockinfile"}


def tasks_of(plays):
    for play in plays or []:
        for section in ("pre_tasks", "tasks", "post_tasks"):
            stack = list(play.get(section) or [])
            while stack:
                task = stack.pop(0)
                for key in ("block", "rescue", "always"):
                    stack.extend(task.get(key) or [])
                yield task


def test_drift_reports_are_written_in_check_mode():
    """The drift template runs with --check (job_type check): file-writing tasks need check_mode: false,
    or the JSON and Markdown reports are never written."""
    assert load("job_template_drift.json")["job_type"] == "check"
    if DRIFT_PLAYBOOK.is_file():
        plays = yaml.safe_load(DRIFT_PLAYBOOK.read_text())
        writers = [t for t in tasks_of(plays) if {k.rsplit(".", 1)[-1] for k in t} & WRITERS]
        assert writers, "drift.yml writes no report"
        skipped = [t.get("name") for t in writers if t.get("check_mode") is not False]
        assert not skipped, "under --check these tasks write nothing; give them check_mode: false: %s" % skipped


# --- what an execution environment including this collection gets from it --------------------------------
def test_collection_brings_its_runtime_requirements_as_ranges_to_any_ee(ee, tmp_path):
    """ansible-builder reads a collection's Python requirements from meta/execution-environment.yml (else from a
    requirements.txt at its root). The built tarball, installed, must give exactly meta/ee-requirements.txt: ranges,
    no pins, none of the development tools."""
    name = tarball_name()
    collections = tmp_path / "collections"
    env = dict(os.environ, **OFFLINE_ENV)
    install = subprocess.run([tool("ansible-galaxy"), "collection", "install", "--offline", "--no-deps", "--force", "-p",
                              str(collections), str(ee["work"] / name)], env=env, capture_output=True, text=True,
                             timeout=300)
    assert install.returncode == 0, install.stdout + install.stderr
    installed = collections / "ansible_collections" / "openvino" / "ovms"
    assert not (installed / "requirements.txt").exists(), "the development pins must not ship"
    assert yaml.safe_load((installed / "meta" / "execution-environment.yml").read_text())["dependencies"] == {
        "python": "meta/ee-requirements.txt"}
    introspect = subprocess.run([tool("ansible-builder"), "introspect", str(collections)], env=env,
                                capture_output=True, text=True, timeout=300)
    assert introspect.returncode == 0, introspect.stdout + introspect.stderr
    python = yaml.safe_load(introspect.stdout.split("---", 1)[1])["python"]
    declared = [line.split("#", 1)[0].strip() for line in (ROOT / "meta" / "ee-requirements.txt").read_text().splitlines()]
    declared = [d for d in declared if d and not d.lower().startswith("pyyaml")]  # ansible-builder leaves PyYAML to ansible-core
    assert python == ["%s  # from collection openvino.ovms" % d for d in declared]
    assert "kubernetes>=24.2.0" in declared
    for requirement in declared:
        assert "==" not in requirement, "a pin in the collection's requirements: %s" % requirement
        assert re.split(r"[<>=!~ \[]", requirement, 1)[0].lower() in ("kubernetes", "pyyaml", "jmespath"), requirement
