"""docs/fleet.md "Requirements", run as written against a real Debian 12 registry host (issue 16, item 4).

The host is a container of the debootstrap-built fleet image (python3 with cryptography, passlib and bcrypt, no
docker SDK), reached over ssh, with the engine's socket mounted for the container backend. The documented check
command fails naming the host and python3-docker; the documented apt-get line, run on that host, installs Debian's
python3-docker; the same check then passes.
"""
import os
import shutil
import subprocess
import time
import uuid

import pytest
import yaml

from tests.conftest import require
from tests.helpers.docs import run_as_written, section_commands
from tests.helpers.registries import REPO_ROOT, free_port

pytestmark = [pytest.mark.docker, pytest.mark.timeout(900)]

FLEET_IMAGE = "airgap-fleet-host:bookworm"
EXAMPLE = os.path.join(REPO_ROOT, "inventories", "example")
HOST = "registry1.site-a.example"


def wait_ssh(port, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if subprocess.run(["bash", "-c", f"exec 3<>/dev/tcp/127.0.0.1/{port}"], capture_output=True, check=False).returncode == 0:
            return
        time.sleep(0.2)
    raise TimeoutError(f"no sshd on 127.0.0.1:{port}")


@pytest.fixture
def registry_host(docker_client, tmp_path):
    """A fresh Debian 12 host with sshd on a free 127.0.0.1 port: (container, ssh port, private key path)."""
    build = subprocess.run([os.path.join(REPO_ROOT, "scripts", "fleet-image.sh")], capture_output=True, text=True, check=False)
    require(build.returncode == 0, f"fleet image could not be built: {build.stderr[-2000:]}")
    key = str(tmp_path / "id_ed25519")
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", key], check=True)
    with open(key + ".pub") as fh:
        pubkey = fh.read().strip()
    port = free_port()
    cmd = ["sh", "-c", 'mkdir -p /root/.ssh && printf "%s\\n" "$FLEET_KEY" > /root/.ssh/authorized_keys && '
           'chmod 600 /root/.ssh/authorized_keys && exec /usr/sbin/sshd -D -e -p "$FLEET_SSH_PORT" -o ListenAddress=127.0.0.1']
    container = docker_client.containers.run(
        FLEET_IMAGE, cmd, name=f"fleet-req-{uuid.uuid4().hex[:8]}", hostname="registry1", network_mode="host", init=True,
        detach=True, environment={"FLEET_KEY": pubkey, "FLEET_SSH_PORT": str(port)}, labels={"airgap.test": "fleet"},
        volumes={"/var/run/docker.sock": {"bind": "/var/run/docker.sock", "mode": "rw"}})
    try:
        wait_ssh(port)
        yield container, port, key
    finally:
        container.remove(force=True)


def my_site(tmp_path, port, key, tarballs):
    """A copy of inventories/example whose registry host is the container (no client hosts)."""
    inv = tmp_path / "mysite"
    shutil.copytree(EXAMPLE, inv)
    hosts = yaml.safe_load((inv / "hosts.yml").read_text())
    hosts["all"]["vars"] = {"ansible_user": "root", "ansible_ssh_private_key_file": key, "ansible_port": port,
                            "ansible_ssh_common_args": "-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR"}
    hosts["all"]["children"]["registry_hosts"]["hosts"][HOST]["ansible_host"] = "127.0.0.1"
    hosts["all"]["children"]["fleet"]["hosts"] = {}
    (inv / "hosts.yml").write_text(yaml.safe_dump(hosts, sort_keys=False))
    gv = yaml.safe_load((inv / "group_vars" / "registry_hosts.yml").read_text())
    gv.update(registry_name=f"req-{uuid.uuid4().hex[:8]}", site_registry_image_tarball="", registry_seed_controller_dir=str(tarballs))
    (inv / "group_vars" / "registry_hosts.yml").write_text(yaml.safe_dump(gv, sort_keys=False))
    allv = yaml.safe_load((inv / "group_vars" / "all.yml").read_text())
    allv["fleet_registry_port"] = free_port()
    (inv / "group_vars" / "all.yml").write_text(yaml.safe_dump(allv, sort_keys=False))
    return str(inv)


def test_requirements_as_written(registry_host, tmp_path, sample_tarballs):
    container, port, key = registry_host
    inventory = my_site(tmp_path, port, key, sample_tarballs)
    commands = section_commands("fleet.md", "Requirements")
    installs = [c for c in commands if c.startswith("apt-get")]
    checks = [c for c in commands if c.startswith("ansible-playbook")]
    assert installs and checks and len(installs) + len(checks) == len(commands), commands

    before = [run_as_written(c, inventory=inventory) for c in checks]
    out = before[-1].stdout
    assert before[-1].returncode != 0, out[-4000:]
    assert f"{HOST} lacks Python libraries that its registry settings need (/usr/bin/python3" in out, out[-4000:]
    assert "docker SDK >= 5.0.3 (for registry_backend: container)" in out and "apt-get install python3-docker" in out
    assert "passlib" not in out.split("lacks Python libraries", 1)[1].split("\n\n", 1)[0]  # the image has it

    for command in installs:  # on the registry host, as root
        code, output = container.exec_run(["sh", "-c", command], environment={"DEBIAN_FRONTEND": "noninteractive"})
        assert code == 0, output.decode(errors="replace")[-3000:]
    code, version = container.exec_run(["python3", "-c", "import docker; print(docker.__version__)"])
    assert code == 0 and version.decode().strip() == "5.0.3"

    for command in checks:
        after = run_as_written(command, inventory=inventory)
        assert after.returncode == 0, after.stdout[-6000:] + after.stderr[-2000:]
    assert "lacks Python libraries" not in after.stdout
