"""Issue 16.10: playbooks/bundle.yml run as a user runs it, from a TLS registry with credentials, with
`-e bundle_images=...` as a string (one image or a comma list) or a list."""
import json
import os
import subprocess
import sys
import tarfile

import pytest

from ansible_collections.airgap.registry.plugins.module_utils.seed import seed
from tests.helpers.certs import make_tls
from tests.helpers.registries import REPO_ROOT, htpasswd_auth

pytestmark = pytest.mark.distribution
USER = "bundler"
PASSWORD = "Bundle-Pw-5521"


@pytest.fixture
def source_registry(start_registry, sample_tarballs, tmp_path):
    """A TLS + htpasswd Distribution registry holding the samples; (registry, ca path)."""
    ca, cert, key = make_tls(tmp_path / "pki")
    reg = start_registry("distribution", cafile=ca, config={"http": {"tls": {"certificate": cert, "key": key}},
                                                            "auth": htpasswd_auth(tmp_path, USER, PASSWORD)})
    seed({"src": [str(sample_tarballs)], "registry": reg.host, "ca_file": ca, "username": USER, "password": PASSWORD})
    return reg, ca


def bundle(*extra):
    """`ansible-playbook playbooks/bundle.yml -i localhost, -c local -e ...` with the default output, as a user runs it."""
    env = {**os.environ, "ANSIBLE_COLLECTIONS_PATH": os.path.join(REPO_ROOT, ".venv", "collections"), "ANSIBLE_NOCOLOR": "1",
           "ANSIBLE_PYTHON_INTERPRETER": sys.executable, "ANSIBLE_LOCALHOST_WARNING": "false"}
    env.pop("ANSIBLE_STDOUT_CALLBACK", None)
    cmd = [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "playbooks/bundle.yml", "-i", "localhost,", "-c", "local"]
    for item in extra:
        cmd += ["-e", item]
    return subprocess.run(cmd, capture_output=True, text=True, cwd=REPO_ROOT, env=env, timeout=600, check=False)


def _config_digest(path):
    with tarfile.open(path) as tar:
        return json.load(tar.extractfile("manifest.json"))[0]["Config"]


def test_bundle_from_a_tls_registry_with_credentials_and_a_string_image(source_registry, tmp_path):
    reg, ca = source_registry
    base = ["bundle_source=registry", f"bundle_source_registry={reg.host}", "bundle_registry_image=", f"bundle_ca_file={ca}"]
    dest = tmp_path / "bundle"
    anonymous = bundle(*base, "bundle_images=abox:1.0.1", f"bundle_dir={dest}")
    assert anonymous.returncode != 0
    assert "401" in anonymous.stdout and "bundle_username" in anonymous.stdout, anonymous.stdout[-3000:]

    untrusted = bundle(*base[:-1], "bundle_images=abox:1.0.1", f"bundle_dir={dest}", f"bundle_username={USER}", f"bundle_password={PASSWORD}")
    assert untrusted.returncode != 0 and "not trusted" in untrusted.stdout and "bundle_ca_file" in untrusted.stdout

    one = bundle(*base, "bundle_images=abox:1.0.1", f"bundle_dir={dest}", f"bundle_username={USER}", f"bundle_password={PASSWORD}")
    assert one.returncode == 0, one.stdout[-3000:] + one.stderr[-3000:]
    assert PASSWORD not in one.stdout + one.stderr
    assert sorted(os.listdir(dest)) == ["abox_1.0.1.tar"]

    several = bundle(*base, "bundle_images=abox:1.0.1,tools/busyish:2.0", f"bundle_dir={dest}", f"bundle_username={USER}",
                     f"bundle_password={PASSWORD}")
    assert several.returncode == 0, several.stdout[-3000:]
    assert sorted(os.listdir(dest)) == ["abox_1.0.1.tar", "tools_busyish_2.0.tar"]

    as_list = bundle(*base, json.dumps({"bundle_images": ["nginx:1.25"], "bundle_dir": str(dest), "bundle_username": USER,
                                        "bundle_password": PASSWORD}))
    assert as_list.returncode == 0, as_list.stdout[-3000:]
    assert "nginx_1.25.tar" in os.listdir(dest) and _config_digest(dest / "nginx_1.25.tar")


def test_bundle_rejects_a_mapping_for_bundle_images(tmp_path):
    proc = bundle('{"bundle_images": {"abox": "1.0.1"}}', f"bundle_dir={tmp_path}")
    assert proc.returncode != 0 and "bundle_images must be a list or a comma-separated string" in proc.stdout
    assert "Traceback" not in proc.stdout + proc.stderr
