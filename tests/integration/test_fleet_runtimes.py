"""registry_client's upstream mirrors (issue 14) on the fleet test hosts: one play over five Debian hosts (containers
of the fleet image, each its own filesystem and processes, sharing only the loopback network, no internet), with a
real site registry (pyregistry over TLS with htpasswd on 127.0.0.1, its access log on) holding abox under the name
the seed's retag rule gives docker.io/library/abox:1.0.1.

- ctrd: containerd (a containerd started in the host) pulls docker.io/library/abox:1.0.1 with `ctr --hosts-dir`, by
  upstream name and by digest; skopeo too; a k3s configuration directory, so registries.yaml is written and checked
  against k3s's documented schema (there is no k3s to pull with: the report says unproven).
- skopeo: skopeo only (ctr and containerd removed): the registries.conf.d drop-in podman and CRI-O read.
- proxied: HTTPS_PROXY in the play's environment: containerd's NO_PROXY drop-in, restarted (by command: the hosts
  have no systemd) once.
- bare: no runtime at all: every runtime skipped, nothing written for them.
- wrongca: a CA that did not sign the registry's certificate: the host fails, the report names it and the fix.

Docker is not on these hosts (a dockerd inside a container is not cheap); the Docker path (daemon.json
registry-mirrors, docker pull by site name) is covered on localhost by test_role_client_mirrors.py.
"""
import json
import os
import re
import shutil
import subprocess

import pytest
import yaml

from ansible_collections.airgap.registry.plugins.module_utils.reference import retag
from tests.conftest import require
from tests.helpers.ansible import run_playbook
from tests.helpers.certs import make_tls
from tests.helpers.registries import REPO_ROOT, RegistryProcess, htpasswd_auth
from tests.integration.test_fleet_site import Fleet
from tests.integration.test_role_client_mirrors import check_k3s_registries

pytestmark = [pytest.mark.docker, pytest.mark.timeout(1200)]

UPSTREAMS = ["docker.io", "ghcr.io", "quay.io", "registry.k8s.io"]
IMAGE = "docker.io/library/abox:1.0.1"
USER, PASSWORD = "puller", "fl33t-pull-pw"
HOSTS = ("ctrd", "skopeo", "proxied", "bare", "wrongca")
PROXY = "http://127.0.0.1:9"
RESTARTS = "/root/containerd-restarts"
K3S = "/etc/rancher/k3s/registries.yaml"
NO_PROXY_DROP_IN = "/etc/systemd/system/containerd.service.d/50-airgap-registry-no-proxy.conf"
WRITTEN = ("/etc/containerd/certs.d/docker.io/hosts.toml", "/etc/containers/registries.conf.d/50-airgap-registry.conf", K3S,
           NO_PROXY_DROP_IN)


def sh(*argv):
    return subprocess.run(argv, capture_output=True, text=True, check=True, timeout=120).stdout


@pytest.fixture(scope="module")
def site(tmp_path_factory, sample_tarballs):
    """The site registry: pyregistry over TLS (CA and certificate from tests/helpers/certs.py) with htpasswd and the
    access log, holding abox:1.0.1 under retag(IMAGE) (hub_library true: library/abox)."""
    require(shutil.which("htpasswd") and shutil.which("skopeo"), "htpasswd and skopeo are needed on the controller")
    work = tmp_path_factory.mktemp("site")
    ca, cert, key = make_tls(work / "tls")
    other_ca = make_tls(work / "other", name="other")[0]
    reg = RegistryProcess("pyregistry", str(work / "registry"), config={
        "log": {"level": "info", "accesslog": {"disabled": False}},
        "http": {"tls": {"certificate": cert, "key": key}},
        "auth": htpasswd_auth(work, USER, PASSWORD)})
    reg.start(cafile=ca)
    certs = work / "certs"
    certs.mkdir()
    shutil.copy(ca, certs / "ca.crt")
    reg.site_image = retag(IMAGE, reg.host, hub_library=True)
    sh("skopeo", "copy", "-q", "--dest-cert-dir", str(certs), "--dest-creds", f"{USER}:{PASSWORD}",
       f"docker-archive:{sample_tarballs / 'abox_1.0.1.tar'}", f"docker://{reg.site_image}")
    reg.digest = sh("skopeo", "inspect", "--no-tags", "--cert-dir", str(certs), "--creds", f"{USER}:{PASSWORD}",
                    "--format", "{{.Digest}}", f"docker://{reg.site_image}").strip()
    reg.ca, reg.other_ca = ca, other_ca
    yield reg
    reg.stop()


def start_containerd(fl, name):
    """containerd in host `name` (no systemd there); waits until ctr reaches it."""
    fl.containers[name].exec_run(["sh", "-c", "containerd >/var/log/containerd.log 2>&1"], detach=True)
    code, out = fl.exec(name, ["sh", "-c", "for i in $(seq 100); do ctr version >/dev/null 2>&1 && exit 0; sleep 0.1; done; "
                                           "cat /var/log/containerd.log; exit 1"])
    assert code == 0, f"containerd did not start in {name}: {out[-2000:]}"


@pytest.fixture(scope="module")
def fleet(docker_client, sample_tarballs, tmp_path_factory):
    """The five hosts up with sshd, each with the runtimes its scenario says; removed at the end of the module."""
    build = subprocess.run([os.path.join(REPO_ROOT, "scripts", "fleet-image.sh")], capture_output=True, text=True, check=False)
    require(build.returncode == 0, f"fleet image could not be built: {build.stderr[-2000:]}")
    fl = Fleet(docker_client, tmp_path_factory.mktemp("fleet"), sample_tarballs)
    try:
        for name in HOSTS:
            fl.start(name)
        for name in ("ctrd", "proxied"):
            start_containerd(fl, name)
        assert fl.exec("ctrd", ["mkdir", "-p", "/etc/rancher/k3s"])[0] == 0
        assert fl.exec("skopeo", ["sh", "-c", "rm -f /usr/bin/ctr /usr/bin/containerd*"])[0] == 0
        assert fl.exec("bare", ["sh", "-c", "rm -f /usr/bin/ctr /usr/bin/containerd* /usr/bin/skopeo"])[0] == 0
        yield fl
    finally:
        fl.remove()


def inventory(fl, site, report):
    common = {
        "registry_client_registry": site.host,
        "registry_client_ca_cert_src": site.ca,
        "registry_client_username": USER,
        "registry_client_password": PASSWORD,
        "registry_client_upstreams": UPSTREAMS,
        "registry_client_hub_library": True,
        "registry_client_runtimes": "auto",
        "registry_client_proof_image": IMAGE,
        # Docker here runs containers without the right to mount: containerd cannot unpack into a snapshot, so ctr
        # fetches (the same resolution through the hosts directory, the same image record) instead of pulling.
        "registry_client_proof_containerd_unpack": False,
        "registry_client_report_path": str(report),
        "registry_client_k3s_restart_command": "sh -c 'echo k3s >> /root/k3s-restarts'",
        "registry_client_containerd_restart_command": f"sh -c 'echo containerd >> {RESTARTS}'",
    }
    hosts = {name: {} for name in HOSTS}
    hosts["proxied"] = {"fleet_environment": {"HTTPS_PROXY": PROXY, "NO_PROXY": "localhost,.corp"}}
    hosts["wrongca"] = {"registry_client_ca_cert_src": site.other_ca}
    return fl.inventory({}, hosts, extra=common)


PLAY = [{"name": "Fleet runtimes use the site registry", "hosts": "fleet", "gather_facts": False,
         "environment": "{{ fleet_environment | default({}) }}",
         "roles": [{"role": "airgap.registry.registry_client"}]}]


# Pipelining: one ssh round trip per task instead of several (five hosts, three runs).
SPEED = {"ANSIBLE_PIPELINING": "True"}


def why(run):
    return f"{run.failures()} {run.stdout[-3000:]} {run.stderr[-2000:]}"[-6000:]


@pytest.fixture(scope="module")
def runs(fleet, site, tmp_path_factory):
    """check+diff, the first run, the second run: {name: PlaybookResult}, and the report path."""
    report = tmp_path_factory.mktemp("report") / "fleet-report.json"
    inv = inventory(fleet, site, report)
    out = {"check": run_playbook(PLAY, inventory=inv, check=True, diff=True, timeout=900, env=SPEED)}
    out["check_files"] = {h: [p for p in WRITTEN if fleet.exec(h, ["test", "-e", p])[0] == 0] for h in HOSTS}
    out["first"] = run_playbook(PLAY, inventory=inv, diff=True, timeout=900, env=SPEED)
    out["report"] = json.loads(report.read_text())
    out["log_after_first"] = open(site.log_path, errors="replace").read()
    out["second"] = run_playbook(PLAY, inventory=inv, diff=True, timeout=900, env=SPEED)
    return out


def lines_of(report, host):
    """{runtime: entry} of `host` in the JSON fleet report (notes left out)."""
    return {e["runtime"]: e for e in report["hosts"][host] if e["status"] != "note"}


def test_check_mode_plans_without_failing_or_writing(runs):
    check = runs["check"]
    assert set(check.failures()) == {"wrongca"}, why(check)
    assert runs["check_files"] == {h: [] for h in HOSTS}
    assert check.changed_on("ctrd") > 0


def test_only_the_wrong_ca_host_fails_and_no_secret_is_shown(runs):
    first = runs["first"]
    assert set(first.failures()) == {"wrongca"}, why(first)
    assert set(first.hosts) == set(HOSTS)
    for run in (runs["check"], first, runs["second"]):
        assert PASSWORD not in run.stdout + run.stderr


def test_report_has_one_line_per_host_and_runtime(runs, site):
    report = runs["report"]
    assert report["registry"] == site.host and set(report["hosts"]) == set(HOSTS)
    want = {
        "ctrd": {"docker": "absent", "containerd": "ok", "containers": "ok", "k3s": "unproven", "rke2": "absent"},
        "skopeo": {"docker": "absent", "containerd": "absent", "containers": "ok", "k3s": "absent", "rke2": "absent"},
        "proxied": {"docker": "absent", "containerd": "ok", "containers": "ok", "k3s": "absent", "rke2": "absent"},
        "bare": dict.fromkeys(("docker", "containerd", "containers", "k3s", "rke2"), "absent"),
    }
    for host, statuses in want.items():
        lines = lines_of(report, host)
        assert {rt: e["status"] for rt, e in lines.items()} == statuses, json.dumps(lines, indent=1)
        for runtime, entry in lines.items():
            assert entry["line"].startswith(f"{host} {runtime}: "), entry["line"]
            assert entry["line"] in report["lines"]
            if entry["status"] == "ok":
                assert entry["mirrored"] and entry["by_digest"] and entry["digest"] == site.digest, entry
                assert entry["line"] == f"{host} {runtime}: trusted, mirrored, pulled by digest {site.digest}"
            if entry["status"] == "absent":
                assert "skipped" in entry["line"]
    (bad,) = report["hosts"]["wrongca"]
    assert bad["status"] == "failed"
    assert bad["line"].startswith(f"wrongca all runtimes: FAILED: cannot use registry {site.host}"), bad["line"]
    assert "Give the CA that signed the registry's certificate" in bad["fix"]
    assert any(line in runs["first"].stdout for line in report["lines"])


def test_ctr_pulls_the_upstream_name_through_the_site_registry(runs, fleet, site):
    code, listing = fleet.exec("ctrd", ["ctr", "-n", "airgap", "images", "ls"])
    assert code == 0, listing
    names = {line.split()[0]: line for line in listing.splitlines()[1:]}
    assert site.digest in names[IMAGE], listing
    assert f"docker.io/library/abox@{site.digest}" in names, listing
    # The hosts.toml ctr used: the site registry as the only host, the CA the role wrote.
    code, toml = fleet.exec("ctrd", ["cat", "/etc/containerd/certs.d/docker.io/hosts.toml"])
    assert code == 0 and f'server = "https://{site.host}"' in toml and f"[host.\"https://{site.host}\"]" in toml, toml
    # The mirror served it: containerd's requests for the retagged path are in the registry's access log, by tag and
    # by digest (nothing else could have answered: no upstream is reachable from these hosts).
    log = runs["log_after_first"]
    path = site.site_image.split("/", 1)[1].replace(":", "/manifests/")
    # containerd names the upstream it resolved for in ?ns=.
    assert re.search(rf'"(GET|HEAD) /v2/{re.escape(path)}\?ns=docker.io HTTP/1.1" 200 .*"containerd/', log), log[-3000:]
    assert re.search(rf'"(GET|HEAD) /v2/library/abox/manifests/{site.digest}\?ns=docker.io HTTP/1.1" 200 .*"containerd/', log), log[-3000:]


def test_skopeo_resolves_the_upstream_name_with_the_drop_in_only(runs, fleet, site):
    code, conf = fleet.exec("skopeo", ["cat", "/etc/containers/registries.conf.d/50-airgap-registry.conf"])
    assert code == 0 and 'prefix = "docker.io"' in conf and f'location = "{site.host}' in conf, conf
    code, out = fleet.exec("skopeo", ["skopeo", "inspect", "--no-tags", "--format", "{{.Digest}}", "docker://docker.io/library/abox:1.0.1"])
    assert code == 0 and out.strip() == site.digest, out
    code, out = fleet.exec("skopeo", ["skopeo", "inspect", "--no-tags", "--format", "{{.Digest}}", "docker://ghcr.io/acme/none:1"])
    assert code != 0 and site.host in out, out  # an image the site lacks fails at the site, never at ghcr.io
    assert re.search(r'"GET /v2/library/abox/manifests/1.0.1 HTTP/1.1" 200 .*"(containers|skopeo)/', runs["log_after_first"])


def test_proxy_host_gets_the_no_proxy_drop_in_and_pulls(runs, fleet, site):
    code, text = fleet.exec("proxied", ["cat", NO_PROXY_DROP_IN])
    want = f"localhost,.corp,127.0.0.1,{site.host}"
    assert code == 0 and f'Environment="NO_PROXY={want}" "no_proxy={want}"' in text, text
    assert fleet.exec("proxied", ["cat", RESTARTS])[1] == "containerd\n"
    assert lines_of(runs["report"], "proxied")["containerd"]["status"] == "ok"
    for host in ("ctrd", "skopeo", "bare"):
        assert fleet.exec(host, ["test", "-e", NO_PROXY_DROP_IN])[0] != 0, host


def test_missing_runtime_is_skipped_and_nothing_is_written_for_it(runs, fleet):
    for path in WRITTEN:
        assert fleet.exec("bare", ["test", "-e", path])[0] != 0, path
    assert fleet.exec("skopeo", ["test", "-e", "/etc/containerd/certs.d/docker.io"])[0] != 0
    assert fleet.exec("wrongca", ["test", "-e", "/etc/containerd/certs.d/docker.io"])[0] != 0


def test_k3s_registries_yaml_follows_the_documented_schema(runs, fleet, site):
    code, text = fleet.exec("ctrd", ["cat", K3S])
    assert code == 0, text
    doc = yaml.safe_load(text)
    assert set(doc["mirrors"]) == set(UPSTREAMS)
    assert doc["mirrors"]["docker.io"] == {"endpoint": [f"https://{site.host}"]}
    assert doc["configs"][site.host]["auth"] == {"username": USER, "password": PASSWORD}
    ca_file = doc["configs"][site.host]["tls"]["ca_file"]
    code, pem = fleet.exec("ctrd", ["cat", ca_file])
    assert code == 0 and pem == open(site.ca).read()
    local = fleet.tmp / "k3s-ca.crt"
    local.write_text(pem)
    doc["configs"][site.host]["tls"]["ca_file"] = str(local)  # the schema check looks for the file on this machine
    check_k3s_registries(doc)
    assert fleet.exec("ctrd", ["stat", "-c", "%a", K3S])[1].strip() == "600"
    assert fleet.exec("ctrd", ["cat", "/root/k3s-restarts"])[1] == "k3s\n"


def test_second_run_changes_nothing(runs, fleet):
    first, second = runs["first"], runs["second"]
    assert set(second.failures()) == {"wrongca"}, why(second)
    assert all(first.changed_on(h) > 0 for h in ("ctrd", "skopeo", "proxied")), {h: first.changed_on(h) for h in HOSTS}
    changed = {h: [name for name, res in second.tasks(h) if res.get("changed")] for h in HOSTS if h != "wrongca"}
    assert changed == {h: [] for h in changed} and all(second.changed_on(h) == 0 for h in changed), changed
    assert fleet.exec("proxied", ["cat", RESTARTS])[1] == "containerd\n"
    assert fleet.exec("ctrd", ["cat", "/root/k3s-restarts"])[1] == "k3s\n"
