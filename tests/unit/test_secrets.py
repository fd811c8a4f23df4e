"""Credentials in the input: which keys hold them, masking before anything can fail, misspelled credential keys
refused without their value."""
import io
import json
from contextlib import redirect_stdout

import pytest

from ansible_collections.openvino.ovms.plugins.module_utils import _secrets, _spec
from ansible_collections.openvino.ovms.plugins.modules import modelserver

from helpers import BASE, merge

VALUE = "VALUE-must-not-show-4711"


def schema_secret_fields(fields=None):
    out = set()
    for key, f in (fields or _spec.FIELDS).items():
        if f["type"] == "group":
            out |= schema_secret_fields(f["fields"])
        elif f["secret"]:
            out.add(key)
    return out


def test_credential_keys_are_the_schemas_secret_fields():
    assert set(_secrets.CREDENTIAL_KEYS) == schema_secret_fields() == set(_spec.SECRET_FIELDS)


@pytest.mark.parametrize("key", ["aws_secret_access_key", "my_password", "api_key", "sessionToken", "hf_token",
                                 "client-secret", "AccountKey", "db_credentials", "connectionString"])
def test_looks_like_a_credential(key):
    assert _secrets.looks_like_credential(key)


@pytest.mark.parametrize("key", ["key", "tls_secret_name", "secretKeyRef", "gcp_creds_secret_name", "aws_region",
                                 "model_name", "note", "s3_compat_api_endpoint", 7, None, ""])
def test_does_not_look_like_a_credential(key):
    assert not _secrets.looks_like_credential(key)


@pytest.mark.parametrize("key,near", [("aws_secret_acess_key", "aws_secret_access_key"),
                                      ("aws_acces_key_id", "aws_access_key_id"),
                                      ("AWS_SESSION_TOKEN", "aws_session_token"),
                                      ("azure_storage_conection_string", "azure_storage_connection_string")])
def test_misspelled_credential_key_is_refused_naming_the_key_and_the_right_one(key, near):
    spec = merge(BASE, {"models_repository": {"storage_type": "S3", key: VALUE}})
    with pytest.raises(_spec.SpecError) as err:
        _spec.normalize("resnet", "ovms", spec)
    assert err.value.path == "spec.models_repository.%s" % key
    assert "did you mean %s?" % near in str(err.value)
    assert VALUE not in str(err.value)


def test_credential_like_unknown_key_without_a_near_match_is_refused():
    with pytest.raises(_spec.SpecError, match=r"spec\.models_repository\.minio_password: unknown key that looks like"):
        _spec.normalize("resnet", "ovms", merge(BASE, {"models_repository": {"minio_password": VALUE}}))


def test_other_unknown_keys_keep_the_warning():
    _, warnings = _spec.normalize("resnet", "ovms", merge(BASE, {"models_repository": {"aws_regoin": "eu"},
                                                                  "extra_secret_thing": "x"}))
    assert "spec.models_repository.aws_regoin is not a ModelServer field and is ignored" in warnings
    assert "spec.extra_secret_thing is not a ModelServer field and is ignored" in warnings  # only models_repository


@pytest.mark.parametrize("junk", [None, 1, "text", [], [None, [1, {}]], {1: 2, None: [3]}, {"spec": "x"},
                                  {"spec": {"models_repository": ["a", 1]}}, {"a": {"b": {"c": {}}}}, True, 1.5,
                                  {10 ** 5000: "x"}, {"token": 10 ** 5000}])
def test_credential_values_never_fail_on_junk(junk):
    assert _secrets.credential_values(junk) == set()


def test_deep_junk_under_a_credential_key():
    deep = "s3cr3t-deep"
    for _ in range(5000):
        deep = [deep]
    assert _secrets.credential_values({"aws_secret_access_key": deep}) == set()  # too deep to print anyway
    assert _secrets.credential_values({"aws_secret_access_key": [[["s3cr3t"]]]}) == {"s3cr3t"}


def test_credential_values_found_at_any_depth_and_shape():
    data = {"definition": {"spec": {"models_repository": [{"aws_secret_access_key": "s3-secret"},
                                                           {"aws_secret_acess_key": "typo-secret"}],
                                    "extra": {"HF_TOKEN": "hf-token-value", "token": "ab"}}},
            "servers": [{"spec": {"models_repository": {"azure_storage_connection_string": {"nested": ["conn"]},
                                                        "aws_access_key_id": 12345}}}],
            "tolerations": [{"key": "gpu.intel.com/i915"}], "tls_secret_name": "my-tls"}
    found = _secrets.credential_values(data, modelserver.PLAIN_KEYS)
    # a guessed key's value shorter than 4 characters is not masked (it would blank out every output)
    assert found == {"s3-secret", "typo-secret", "hf-token-value", "conn", "12345"}


def test_plain_keys_are_the_schemas_fields_that_only_name_a_secret():
    assert {"tls_secret_name", "gcp_creds_secret_name", "extra_envs_secret"} <= modelserver.PLAIN_KEYS
    assert not set(_secrets.CREDENTIAL_KEYS) & modelserver.PLAIN_KEYS


def test_src_file_credentials(tmp_path):
    path = tmp_path / "ms.yml"
    path.write_text("kind: ModelSever\nspec:\n  models_repository:\n    aws_secret_access_key: from-a-file\n"
                    "---\n- junk\n")
    assert _secrets.file_credential_values(str(path)) == {"from-a-file"}
    path.write_bytes(b"\xff\xfe not yaml: [")
    assert _secrets.file_credential_values(str(path)) == set()
    assert _secrets.file_credential_values(str(tmp_path / "missing.yml")) == set()


def run_module(args):
    testing = pytest.importorskip("ansible.module_utils.testing")
    out = io.StringIO()
    with testing.patch_module_args(args), redirect_stdout(out), pytest.raises(SystemExit):
        modelserver.main()
    return out.getvalue()


@pytest.mark.parametrize("args", [
    # refused by the argument spec itself: before the module's own code runs
    {"definition": {"spec": {"models_repository": {"aws_secret_access_key": VALUE}}}, "name": "x"},
    {"name": "x", "namespace": "ns", "models_repository": {"aws_secret_acess_key": VALUE}},
    # refused while resolving the input
    {"definition": {"kind": "ModelSever", "spec": {"models_repository": {"aws_session_token": VALUE}}}},
    {"definition": {"kind": "ModelServer", "apiVersion": "intel.com/v1alpha1", "metadata": {"name": "x"},
                    "spec": {"models_repository": [{"aws_access_key_id": VALUE}]}}},
    {"servers": [{"spec": {"models_repository": {"azure_storage_connection_string": VALUE}}}, "junk"],
     "state": "rollback"},
])
def test_refusals_show_no_credential(args):
    printed = run_module(args)
    result = json.loads(printed)
    assert result["failed"] is True
    assert VALUE not in printed
    assert "invocation" in result  # the arguments are echoed, masked
