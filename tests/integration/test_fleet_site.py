"""The fleet, for real: three Debian hosts (containers of the debootstrap-built fleet image, each its own filesystem and
processes, sharing only the loopback network), reached by Ansible over ssh on 127.0.0.1 ports.

Two hosts run their own bundled registry (one with TLS + htpasswd, one plain), seeded from the same tarballs in one
play; the third trusts the TLS registry's CA, logs in and pulls a seeded image with skopeo. Bad inventories fail early
with a message that names the host and what to fix.
"""
import json
import os
import socket
import subprocess
import time

import pytest
import yaml

from tests.conftest import require
from tests.helpers.ansible import run_playbook
from tests.helpers.registries import REPO_ROOT, free_port

pytestmark = [pytest.mark.docker, pytest.mark.timeout(1500)]

FLEET_IMAGE = "airgap-fleet-host:bookworm"
SITE = os.path.join(REPO_ROOT, "playbooks", "site.yml")
ADMIN_PASSWORD = "s3ed-admin-pw"
FLEET_PASSWORD = "fl33t-pw"


def wait_port(port, timeout=30):
    """Wait until something accepts TCP connections on 127.0.0.1:port."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port}")


class Fleet:
    """The fleet containers, their ssh ports and the inventory that describes them."""

    def __init__(self, client, tmp, tarballs):
        self.docker = client
        self.tmp = tmp
        self.tarballs = str(tarballs)
        self.key = str(tmp / "id_ed25519")
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", self.key], check=True)
        with open(self.key + ".pub") as fh:
            self.pubkey = fh.read().strip()
        self.suffix = f"{os.getpid()}-{int(time.time()) % 100000}"
        self.hosts = {}
        self.containers = {}

    def start(self, name, **run):
        """Start host `name` (sshd on a free 127.0.0.1 port); `run` adds docker run options (privileged, tmpfs, ...)."""
        ssh_port = free_port()
        cmd = ["sh", "-c", 'mkdir -p /root/.ssh && printf "%s\\n" "$FLEET_KEY" > /root/.ssh/authorized_keys && '
               'chmod 600 /root/.ssh/authorized_keys && exec /usr/sbin/sshd -D -e -p "$FLEET_SSH_PORT" -o ListenAddress=127.0.0.1']
        container = self.docker.containers.run(
            FLEET_IMAGE, cmd, name=f"fleet-{name}-{self.suffix}", hostname=name, network_mode="host", init=True,
            detach=True, environment={"FLEET_KEY": self.pubkey, "FLEET_SSH_PORT": str(ssh_port)},
            labels={"airgap.test": "fleet"}, **run)
        self.containers[name] = container
        self.hosts[name] = {"ansible_host": "127.0.0.1", "ansible_port": ssh_port}
        wait_port(ssh_port)

    def exec(self, name, cmd):
        """(exit code, output) of `cmd` run inside host `name`."""
        code, out = self.containers[name].exec_run(cmd)
        return code, out.decode(errors="replace")

    def inventory(self, registry_hosts, fleet, extra=None):
        """Write an inventory file: registry_hosts and fleet are {host: {vars}}; returns its path."""
        common = {
            "ansible_user": "root",
            "ansible_connection": "ssh",
            "ansible_ssh_private_key_file": self.key,
            "ansible_ssh_common_args": "-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR",
            "ansible_python_interpreter": "/usr/bin/python3",
            "registry_pyregistry_install": "copy",
            "registry_pyregistry_python": "/usr/bin/python3",
            **(extra or {}),
        }
        inv = {"all": {"vars": common, "children": {
            "registry_hosts": {"hosts": {h: {**self.hosts[h], **v} for h, v in registry_hosts.items()}},
            "fleet": {"hosts": {h: {**self.hosts[h], **v} for h, v in fleet.items()}},
        }}}
        path = self.tmp / f"inventory-{len(list(self.tmp.glob('inventory-*')))}.yml"
        path.write_text(yaml.safe_dump(inv, sort_keys=False))
        return str(path)

    def remove(self):
        for container in self.containers.values():
            container.remove(force=True)


@pytest.fixture(scope="module")
def fleet(docker_client, sample_tarballs, tmp_path_factory):
    """Three fleet hosts (reg1, reg2, client) up with sshd; removed at the end of the module."""
    build = subprocess.run([os.path.join(REPO_ROOT, "scripts", "fleet-image.sh")], capture_output=True, text=True, check=False)
    require(build.returncode == 0, f"fleet image could not be built: {build.stderr[-2000:]}")
    fl = Fleet(docker_client, tmp_path_factory.mktemp("fleet"), sample_tarballs)
    try:
        for name in ("reg1", "reg2", "client"):
            fl.start(name)
        fl.reg1_port = free_port()
        fl.reg2_port = free_port()
        yield fl
    finally:
        fl.remove()


def site_inventory(fl, **client_overrides):
    """The good fleet: reg1 TLS + htpasswd, reg2 plain, client pulling from reg1 with skopeo."""
    reg1 = {
        "registry_port": fl.reg1_port,
        "registry_tls": True,
        "registry_htpasswd_users": [{"name": "admin", "password": ADMIN_PASSWORD},
                                    {"name": "fleet", "password": FLEET_PASSWORD}],
    }
    reg2 = {"registry_port": fl.reg2_port}
    client = {
        "registry_client_registry": f"127.0.0.1:{fl.reg1_port}",
        "registry_client_tls": True,
        "registry_client_ca_cert_host": "reg1",
        "registry_client_ca_cert_host_path": "/etc/airgap/registry/tls/ca.crt",
        "registry_client_username": "fleet",
        "registry_client_password": FLEET_PASSWORD,
        "registry_client_pull": ["abox:1.0.1"],
        "registry_client_pull_with": "skopeo",
        "registry_client_trust_docker": False,
        "registry_client_trust_system": True,
        "registry_client_containerd": True,
        **client_overrides,
    }
    return fl.inventory({"reg1": reg1, "reg2": reg2}, {"client": client},
                        extra={"registry_seed_controller_dir": fl.tarballs})


@pytest.fixture(scope="module")
def converged(fleet):
    """site.yml run twice over the fleet: (first run, second run, inventory)."""
    inv = site_inventory(fleet)
    first = run_playbook(SITE, inventory=inv, timeout=1200)
    assert first.rc == 0, first.stdout[-6000:] + first.stderr[-3000:]
    second = run_playbook(SITE, inventory=inv, timeout=1200)
    code, pem = fleet.exec("reg1", ["cat", "/etc/airgap/registry/tls/ca.crt"])
    assert code == 0 and "BEGIN CERTIFICATE" in pem
    (fleet.tmp / "certs").mkdir(exist_ok=True)
    fleet.ca = fleet.tmp / "certs" / "ca.crt"
    fleet.ca.write_text(pem)
    return first, second, inv


def test_each_registry_host_runs_its_own_registry(fleet, converged):
    for name in ("reg1", "reg2"):
        code, out = fleet.exec(name, ["ps", "-eo", "args"])
        assert code == 0
        servers = [line for line in out.splitlines() if "pyregistry serve" in line]
        assert len(servers) == 1, out
        # Its storage is in its own filesystem and holds the seeded blobs; the client's filesystem has none.
        code, out = fleet.exec(name, ["sh", "-c", "find /var/lib/airgap/registry -path '*blobs/sha256*' -name data | wc -l"])
        assert code == 0 and int(out.strip()) >= 5, out
    code, out = fleet.exec("client", ["ps", "-eo", "args"])
    assert "pyregistry" not in out
    assert fleet.exec("client", ["test", "-e", "/var/lib/airgap/registry"])[0] != 0


def test_both_registries_seeded_from_the_same_tarballs(fleet, converged):
    expected = {"abox": ["1.0.1"], "nginx": ["1.25"], "tools/busyish": ["2.0"]}
    reg1 = (f"127.0.0.1:{fleet.reg1_port}", ["--cert-dir", str(fleet.ca.parent), "--creds", f"admin:{ADMIN_PASSWORD}"])
    reg2 = (f"127.0.0.1:{fleet.reg2_port}", ["--tls-verify=false"])
    for host, opts in (reg1, reg2):
        for repo, tags in expected.items():
            listed = subprocess.run(["skopeo", "list-tags", *opts, f"docker://{host}/{repo}"], capture_output=True, text=True, check=True)
            assert json.loads(listed.stdout)["Tags"] == tags
    # The same tarball gives the same manifest digest in both registries.
    digests = {subprocess.run(["skopeo", "inspect", "--format", "{{.Digest}}", *opts, f"docker://{host}/abox:1.0.1"],
                              capture_output=True, text=True, check=True).stdout.strip() for host, opts in (reg1, reg2)}
    assert len(digests) == 1 and digests.pop().startswith("sha256:")


def curl_status(*args):
    return subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", *args], capture_output=True, text=True, check=False).stdout


def test_tls_registry_refuses_anonymous_and_wrong_password(fleet, converged):
    url = f"https://127.0.0.1:{fleet.reg1_port}/v2/"
    assert curl_status("--cacert", str(fleet.ca), url) == "401"
    assert curl_status("--cacert", str(fleet.ca), "-u", "fleet:nope", url) == "401"
    assert curl_status("--cacert", str(fleet.ca), "-u", f"fleet:{FLEET_PASSWORD}", url) == "200"


def test_client_trusts_ca_logs_in_and_pulls_with_skopeo(fleet, converged):
    host = f"127.0.0.1:{fleet.reg1_port}"
    code, ca = fleet.exec("client", ["cat", f"/etc/containers/certs.d/{host}/ca.crt"])
    assert code == 0 and "BEGIN CERTIFICATE" in ca
    # Also in the system store (python's default context verifies against it) and in containerd's hosts.toml.
    code, out = fleet.exec("client", ["python3", "-c", "import ssl, urllib.request, urllib.error\ntry:\n"
                                      f"  urllib.request.urlopen('https://{host}/v2/')\nexcept urllib.error.HTTPError as e:\n  print(e.code)"])
    assert code == 0 and out.strip() == "401", out
    code, toml = fleet.exec("client", ["cat", f"/etc/containerd/certs.d/{host}/hosts.toml"])
    assert code == 0 and f'server = "https://{host}"' in toml and f'ca = "/etc/containerd/certs.d/{host}/ca.crt"' in toml
    code, cfg = fleet.exec("client", ["cat", "/root/.docker/config.json"])
    assert code == 0 and host in json.loads(cfg)["auths"]
    assert FLEET_PASSWORD not in converged[0].stdout
    # The pulled image is in the client's own filesystem, with the config digest of the seeded image.
    code, out = fleet.exec("client", ["skopeo", "inspect", "--config", "oci:/var/lib/airgap/images/abox_1.0.1"])
    assert code == 0, out
    assert json.loads(out)["rootfs"]["diff_ids"]
    # A fresh pull inside the client verifies TLS against the trusted CA (no --tls-verify=false anywhere).
    code, out = fleet.exec("client", ["skopeo", "inspect", "--format", "{{.Digest}}", f"docker://{host}/abox:1.0.1"])
    assert code == 0 and out.strip().startswith("sha256:"), out
    # Without the CA (no certs.d directory, no system store), the same pull fails on the certificate.
    code, out = fleet.exec("client", ["env", "SSL_CERT_FILE=/nonexistent", "SSL_CERT_DIR=/nonexistent", "skopeo", "inspect",
                                      "--cert-dir", "/nonexistent", f"docker://{host}/abox:1.0.1"])
    assert code != 0 and "certificate" in out.lower(), out


def test_second_run_changes_nothing(converged):
    first, second, _inv = converged
    assert second.rc == 0, second.stdout[-4000:]
    assert sum(first.changed_on(h) for h in first.hosts) > 0
    changed = {h: second.changed_on(h) for h in second.hosts}
    assert set(changed) == {"reg1", "reg2", "client"}
    assert all(v == 0 for v in changed.values()), changed


def test_site_ends_with_the_catalog(converged):
    _first, second, _inv = converged
    assert second.tasks()[-1][0].split(" : ", 1)[-1] == "Print the catalog and tags"
    for host in ("reg1", "reg2"):
        msg = "\n".join(second.result("Print the catalog and tags", host)["msg"])
        assert "abox: 1.0.1" in msg and "tools/busyish: 2.0" in msg and "nginx: 1.25" in msg


def test_unreachable_registry_fails_early_naming_host(fleet, converged):
    inv = site_inventory(fleet, registry_client_registry=f"127.0.0.1:{free_port()}")
    res = run_playbook([{"name": "client", "hosts": "fleet", "gather_facts": False,
                         "roles": [{"role": "airgap.registry.registry_client", "registry_client_ca_cert_src": str(fleet.ca)}]}],
                       inventory=inv)
    assert res.rc != 0
    msgs = res.failures()
    assert set(msgs) == {"client"}, msgs
    assert msgs["client"].startswith("client: cannot use registry 127.0.0.1:")
    assert "registry_client_registry" in msgs["client"]


def test_wrong_password_fails_early_naming_host(fleet, converged):
    inv = site_inventory(fleet, registry_client_password="not-the-password")
    res = run_playbook([{"name": "client", "hosts": "fleet", "gather_facts": False,
                         "roles": ["airgap.registry.registry_client"]}], inventory=inv)
    assert res.rc != 0
    msgs = res.failures()
    assert set(msgs) == {"client"}, msgs
    assert msgs["client"].startswith(f"client: cannot use registry 127.0.0.1:{fleet.reg1_port}")
    assert "registry_client_username / registry_client_password" in msgs["client"]
    assert "not-the-password" not in res.stdout


def test_missing_tarball_directory_fails_early_naming_host(fleet, converged):
    inv = fleet.inventory({"reg2": {"registry_port": fleet.reg2_port, "registry_seed_tarballs_dir": "/srv/no-such-bundle"}}, {})
    res = run_playbook([{"name": "seed", "hosts": "registry_hosts", "gather_facts": False,
                         "roles": ["airgap.registry.registry_seed"]}], inventory=inv)
    assert res.rc != 0
    msgs = res.failures()
    assert set(msgs) == {"reg2"}, msgs
    assert msgs["reg2"].startswith("reg2: registry_seed_tarballs_dir '/srv/no-such-bundle' does not exist")
    assert "registry_seed_controller_dir" in msgs["reg2"]


def test_missing_controller_directory_fails_naming_host(fleet, converged):
    inv = fleet.inventory({"reg2": {"registry_port": fleet.reg2_port, "registry_seed_controller_dir": str(fleet.tmp / "nothing-here")}}, {})
    res = run_playbook([{"name": "seed", "hosts": "registry_hosts", "gather_facts": False,
                         "roles": ["airgap.registry.registry_seed"]}], inventory=inv)
    assert res.rc != 0
    msgs = res.failures()
    assert set(msgs) == {"reg2"}, msgs
    assert "registry_seed_controller_dir" in msgs["reg2"] and "does not exist" in msgs["reg2"]
