"""docs/bundles.md's walkthrough, run as written (issue 13): the connected side writes a split bundle from the images
file, the media step checks the parts, the air-gapped side verifies and seeds a TLS + htpasswd Distribution registry
(every tag keeps its source digest) or serves the bundle from its parts in place, and next month's delta is built from the
site's HAVE file, carries only what the site lacks, and seeds."""
import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import tarfile

import pytest

from ansible_collections.airgap.registry.plugins.module_utils.registry_api import RegistryClient
from ansible_collections.airgap.registry.plugins.module_utils.seed import seed
from tests.conftest import require
from tests.helpers.certs import make_tls
from tests.helpers.docs import BIN, run_as_written, section_commands
from tests.helpers.registries import REPO_ROOT, free_port, htpasswd_auth, wait_http

sys.path.insert(0, os.path.join(REPO_ROOT, "scripts"))
import oci_samples  # noqa: E402 - scripts/ is not a package

pytestmark = [pytest.mark.distribution, pytest.mark.timeout(900)]

USER, PASSWORD = "admin", "Site-Admin-7713"
# The documented names in the source registry, each from a sample archive (file, the image's name in it).
FIRST = {"library/registry:2.8.3": ("abox_1.0.1.tar", "abox:1.0.1"), "library/nginx:1.25": ("nginx_1.25.tar", "nginx:1.25"),
         "acme/api:1.4": ("attest.tar", "attest:1")}
NEXT = {"acme/worker:1.0": ("signed.tar", "signed:1"), "library/nginx:1.25": ("tools_busyish_2.0.tar", "tools/busyish:2.0")}


def images_file_text():
    """The images file as docs/bundles.md shows it (its ```text block)."""
    with open(os.path.join(REPO_ROOT, "docs", "bundles.md")) as fh:
        match = re.search(r"```text\n(# /srv/bundles/images.txt\n.*?)```", fh.read(), re.S)
    assert match, "docs/bundles.md shows no images file"
    return match.group(1)


@pytest.fixture
def world(tmp_path, start_registry, sample_tarballs):
    """The source registry (registry.example.com), the site's TLS + htpasswd registry (reg.site:5000), the
    directories (/srv/bundles, /media/usb) and the substitutions that put them in the documented commands."""
    require(subprocess.run(["which", "htpasswd"], capture_output=True, check=False).returncode == 0, "htpasswd is not installed")
    oci = tmp_path / "oci"
    oci.mkdir()
    oci_samples.write_all(str(oci))
    files = {**{p.name: str(p) for p in sample_tarballs.glob("*.tar")}, **{p.name: str(p) for p in oci.glob("*.tar")}}
    source = start_registry("distribution")
    push(source, files, FIRST)
    ca, cert, key = make_tls(tmp_path / "pki")
    site = start_registry("distribution", cafile=ca, config={"http": {"tls": {"certificate": cert, "key": key}},
                                                             "auth": htpasswd_auth(tmp_path, USER, PASSWORD)})
    srv, usb = tmp_path / "srv", tmp_path / "usb"
    srv.mkdir()
    usb.mkdir()
    (usb / "site-ca.crt").write_bytes(open(ca, "rb").read())
    (usb / "admin.password").write_text(PASSWORD + "\n")
    serve_port = free_port()
    subs = {"registry.example.com": source.host, "reg.site:5000": site.host, "/srv/bundles": str(srv),
            "/media/usb": str(usb), "127.0.0.1:5001": f"127.0.0.1:{serve_port}"}
    (srv / "images.txt").write_text(substitute(images_file_text(), subs))
    return {"source": source, "site": site, "ca": ca, "srv": srv, "usb": usb, "subs": subs, "files": files,
            "serve_port": serve_port}


def push(reg, files, names):
    """Seed each sample archive into `reg` under its documented name."""
    for name, (archive, inside) in names.items():
        seed({"src": [files[archive]], "registry": reg.host, "retries": 1, "rename": {inside: name}, "hub_library": True})


def substitute(text, subs):
    for old, new in subs.items():
        text = text.replace(old, new)
    return text


def run_doc(command, world):
    """One documented command with this machine's registries and directories; its CompletedProcess (must succeed)."""
    proc = run_as_written(substitute(command, world["subs"]), timeout=600)
    assert proc.returncode == 0, f"{command}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc


def tag_digests(host, names, ca=None):
    client = (RegistryClient(host, username=USER, password=PASSWORD, ca_file=ca) if ca else RegistryClient(host, scheme="http"))
    return {name: client.get_manifest(*name.rsplit(":", 1))[2] for name in names}


def serve_in_background(command, world):
    """`pyregistry serve-bundle ... &` started as our own process (killed by its pid at the end of the test)."""
    argv = substitute(command, world["subs"]).rstrip("&").split()
    proc = subprocess.Popen([os.path.join(BIN, argv[0]), *argv[1:]], cwd=REPO_ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    try:
        wait_http(f"http://127.0.0.1:{world['serve_port']}/v2/", timeout=30)
    except TimeoutError:
        proc.kill()
        raise AssertionError(f"{command}: {proc.communicate()[1].decode(errors='replace')[-2000:]}") from None
    return proc


def test_walkthrough_as_written(world):
    source, site, ca = world["source"], world["site"], world["ca"]
    first_refs = {f"{source.host}/{name}" for name in FIRST}
    source_digests = tag_digests(source.host, FIRST)

    # Connected side: create (split), verify, list.
    connected = section_commands("bundles.md", "Connected side")
    assert [c.split()[1] for c in connected] == ["create", "verify", "list"], connected
    for command in connected:
        proc = run_doc(command, world)
    for ref in first_refs:
        assert ref in proc.stdout, proc.stdout
    parts = sorted(p.name for p in world["srv"].iterdir() if ".part" in p.name)
    assert parts == ["2026-11.tar.part001"] and (world["srv"] / "2026-11.tar.sha256").is_file()

    # Media: copy the parts, check them.
    for command in section_commands("bundles.md", "Media"):
        proc = run_doc(command, world)
    assert "2026-11.tar.part001: OK" in proc.stdout

    # Air-gapped side: verify, seed the TLS + htpasswd registry; or serve the bundle from its parts (never joined).
    gapped = section_commands("bundles.md", "Air-gapped side")
    serve = [c for c in gapped if c.endswith("&")]
    assert len(serve) == 1 and serve[0].startswith("pyregistry serve-bundle "), gapped
    for command in gapped:
        if command in serve:
            server = serve_in_background(command, world)
            try:
                for name, digest in source_digests.items():
                    inspected = subprocess.run(["skopeo", "inspect", "--raw", "--tls-verify=false",
                                                f"docker://127.0.0.1:{world['serve_port']}/{name}"], capture_output=True, check=True)
                    assert "sha256:" + hashlib.sha256(inspected.stdout).hexdigest() == digest, name
            finally:
                server.send_signal(signal.SIGTERM)
                server.wait(timeout=30)
            continue
        run_doc(command, world)
    assert tag_digests(site.host, FIRST, ca) == source_digests
    assert not (world["usb"] / "2026-11.tar").exists(), "the walkthrough joined the parts; serve-bundle reads them"

    # Next month: HAVE out, the source moves on (one new image, a new build of a tag), delta in.
    delta_commands = section_commands("bundles.md", "Next month: a delta")
    assert delta_commands[0].startswith("airgap-bundle have "), delta_commands
    run_doc(delta_commands[0], world)
    have = json.loads((world["usb"] / "HAVE.json").read_text())
    assert set(have["repositories"]) == {"library/registry", "library/nginx", "acme/api"}
    push(source, world["files"], NEXT)
    with open(world["srv"] / "images.txt", "a") as fh:
        fh.write(f"{source.host}/acme/worker:1.0\n")
    for command in delta_commands[1:]:
        run_doc(command, world)
    delta = world["srv"] / "2026-12.tar"
    listed = json.loads(subprocess.run([os.path.join(BIN, "airgap-bundle"), "list", "--json", str(delta)],
                                       capture_output=True, text=True, check=True).stdout)
    assert listed["delta"] and listed["delta"]["blobs"], listed
    full = json.loads(subprocess.run([os.path.join(BIN, "airgap-bundle"), "list", "--json", str(world["usb"] / "2026-11.tar")],
                                     capture_output=True, text=True, check=True).stdout)
    assert listed["bytes"] < full["bytes"], (listed["bytes"], full["bytes"])
    with tarfile.open(delta) as tar:
        carried = {"sha256:" + os.path.basename(name) for name in tar.getnames() if name.startswith("blobs/sha256/")}
    # Only what the site lacked: no blob of the HAVE file inside, and every blob relied on is one the site has.
    assert not carried & set(have["blobs"]) and set(listed["delta"]["blobs"]) <= set(have["blobs"])
    every = {**FIRST, **NEXT}
    assert tag_digests(site.host, every, ca) == tag_digests(source.host, every)


def test_ansible_section_as_written(world):
    """bundle.yml as the section runs it: one bundle of the images file, the same images as airgap-bundle writes."""
    commands = section_commands("bundles.md", "With Ansible")
    assert len(commands) == 1 and commands[0].startswith("ansible-playbook "), commands
    proc = run_doc(commands[0], world)
    assert "failed=0" in proc.stdout, proc.stdout[-3000:]
    listed = json.loads(subprocess.run([os.path.join(BIN, "airgap-bundle"), "list", "--json", str(world["usb"] / "2026-11.tar")],
                                       capture_output=True, text=True, check=True).stdout)
    source = world["source"]
    assert {i["reference"]: i["digest"] for i in listed["images"]} == {
        f"{source.host}/{name}": digest for name, digest in tag_digests(source.host, FIRST).items()}
    assert sorted(p.name for p in world["usb"].iterdir()) == ["2026-11.tar", "admin.password", "site-ca.crt"]
