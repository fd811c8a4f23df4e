"""The Galaxy artifact: what the built tarball holds (tools/check_artifact.py's allow-list, which `make release`
applies too), and the collection's one version number (galaxy.yml), which the modules' User-Agent reads."""
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
import yaml

import check_artifact
import collection_path

collection_path.ensure()
from ansible_collections.openvino.ovms.plugins.module_utils import _version  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def galaxy_version():
    return str(yaml.safe_load((ROOT / "galaxy.yml").read_text())["version"])


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """The checkout, plus stray files of the kinds that used to ship, built with ansible-galaxy: the tarball."""
    top = tmp_path_factory.mktemp("artifact")
    src = top / "src"
    shutil.copytree(ROOT, src, symlinks=True, ignore=shutil.ignore_patterns(".git", "dist", "__pycache__"))
    for stray in ("notes.txt", "scratch.md", ".envrc", "playbooks/debug.retry", "plugins/modules/old.py.orig",
                  "roles/modelserver/tasks/main.yml.bak", "docs/draft.md"):
        (src / stray).write_text("stray\n")
    if not (src / "CHANGELOG.rst").exists():  # not yet generated in this checkout: the check wants it
        (src / "CHANGELOG.rst").write_text("changelog\n")
    subprocess.run([str(BIN / "ansible-galaxy"), "collection", "build", "--output-path", str(top), str(src)],
                   check=True, capture_output=True, text=True, timeout=300)
    return top / ("openvino-ovms-%s.tar.gz" % galaxy_version())


def names(tarball):
    with tarfile.open(tarball) as tar:
        return {m.name for m in tar.getmembers() if m.isfile()}


def test_tarball_holds_only_what_users_need(built):
    assert check_artifact.problems(str(built)) == []
    shipped = names(built)
    for unwanted in ("requirements.txt", "requirements-release.txt", ".ansible-lint", ".gitignore", "Makefile",
                     "execution-environment.yml", "awx/survey_drift.json", "docs/benchmarks.md", "docs/draft.md",
                     "notes.txt", "scratch.md", ".envrc", "playbooks/debug.retry", "tests/unit/test_artifact.py",
                     "tools/release.sh", "molecule/default/molecule.yml", "bench/run.py", "changelogs/fragments"):
        assert not any(n == unwanted or n.startswith(unwanted + "/") for n in shipped), unwanted
    for wanted in ("LICENSE", "roles/modelserver/README.md", "meta/ee-requirements.txt", "playbooks/render.yml",
                   "playbooks/vars/seed-sample.yml", "plugins/filter/to_manifests_yaml.py"):
        assert wanted in shipped, wanted


def test_license_is_the_full_gpl3_text():
    text = (ROOT / "LICENSE").read_text()
    assert text.lstrip().startswith("GNU GENERAL PUBLIC LICENSE\n                       Version 3, 29 June 2007")
    assert "END OF TERMS AND CONDITIONS" in text and len(text) > 30000
    assert yaml.safe_load((ROOT / "galaxy.yml").read_text())["license"] == ["GPL-3.0-or-later"]


def with_extra_member(tarball, tmp_path, name, data=b"x\n"):
    """A copy of tarball with one more file."""
    out = tmp_path / "extra.tar.gz"
    with tarfile.open(tarball) as src, tarfile.open(out, "w:gz") as dst:
        for m in src.getmembers():
            dst.addfile(m, src.extractfile(m) if m.isfile() else None)
        info = tarfile.TarInfo(name)
        info.size = len(data)
        dst.addfile(info, io.BytesIO(data))
    return out


@pytest.mark.parametrize("extra", ["requirements.txt", ".gitignore", "awx/survey_drift.json", "docs/benchmarks.md",
                                   "tests/unit/test_x.py", "plugins/modules/notes.txt", "roles/other/tasks/main.yml",
                                   "playbooks/vars/secrets.json"])
def test_allow_list_check_fails_on_a_file_users_do_not_need(built, tmp_path, extra):
    found = check_artifact.problems(str(with_extra_member(built, tmp_path, extra)))
    assert found == ["%s: not something a user needs (not in tools/check_artifact.py's allow-list)" % extra]
    run = subprocess.run([sys.executable, str(ROOT / "tools" / "check_artifact.py"),
                          str(with_extra_member(built, tmp_path, extra))], capture_output=True, text=True)
    assert run.returncode == 1 and extra in run.stderr


def test_allow_list_check_fails_on_a_missing_file(built, tmp_path):
    out = tmp_path / "missing.tar.gz"
    with tarfile.open(built) as src, tarfile.open(out, "w:gz") as dst:
        for m in src.getmembers():
            if m.name != "LICENSE":
                dst.addfile(m, src.extractfile(m) if m.isfile() else None)
    assert check_artifact.problems(str(out)) == ["LICENSE: missing"]


# --- one version number ----------------------------------------------------------------------------------
def version_literals(text, version):
    """Places where text writes version as a value: a quoted string ("0.1.0") or a user agent (openvino.ovms/0.1.0)."""
    v = re.escape(version)
    return re.findall(r"""(["'])v?%s\1|openvino\.ovms/%s(?![\w.])""" % (v, v), text)


def test_the_version_is_written_once():
    """galaxy.yml holds the version; no plugin repeats it as a value (documentation naming a release, such as
    version_added, is history, not the current version)."""
    version = galaxy_version()
    assert version_literals('COLLECTION_VERSION = "%s"' % version, version)  # what there used to be
    assert version_literals('USER_AGENT = "openvino.ovms/%s"' % version, version)
    assert not version_literals("kubernetes >= 24.2.0 (tested: 3%s)" % version, version)
    repeats = []
    for path in sorted((ROOT / "plugins").rglob("*")):
        if path.is_file() and path.suffix in (".py", ".yml"):
            for n, line in enumerate(path.read_text().splitlines(), 1):
                if version_literals(line, version):
                    repeats.append("%s:%d: %s" % (path.relative_to(ROOT), n, line.strip()))
    assert not repeats, repeats


def test_read_version_prefers_manifest_json_then_galaxy_yml(tmp_path):
    assert _version.read_version(str(ROOT)) == galaxy_version()
    assert _version.read_version(str(tmp_path)) is None
    (tmp_path / "galaxy.yml").write_text("namespace: openvino\nname: ovms\nversion: 3.2.1\n")
    assert _version.read_version(str(tmp_path)) == "3.2.1"
    (tmp_path / "MANIFEST.json").write_text(json.dumps({"collection_info": {"version": "4.5.6"}}))
    assert _version.read_version(str(tmp_path)) == "4.5.6"


def test_user_agent_takes_the_version_the_action_plugin_passes(monkeypatch):
    monkeypatch.setenv(_version.VERSION_ENV, "7.8.9")
    assert _version.user_agent() == "openvino.ovms/7.8.9"
    monkeypatch.delenv(_version.VERSION_ENV)
    # outside Ansible, from this checkout: galaxy.yml beside the module_utils
    assert _version.user_agent() == "openvino.ovms/%s" % galaxy_version()


def test_controller_side_version_is_read_from_the_collection_ansible_loads():
    from ansible_collections.openvino.ovms.plugins.plugin_utils import _module_action

    assert _module_action.collection_version() == galaxy_version()


def test_every_module_has_the_version_passing_action_plugin():
    modules = sorted(p.stem for p in (ROOT / "plugins" / "modules").glob("*.py"))
    actions = sorted(p.stem for p in (ROOT / "plugins" / "action").glob("*.py"))
    assert modules == actions
    for name in actions:
        assert "(ModuleAction)" in (ROOT / "plugins" / "action" / (name + ".py")).read_text()
