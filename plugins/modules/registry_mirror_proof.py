#!/usr/bin/python
# Copyright: (c) 2026, airgap.registry contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: registry_mirror_proof
short_description: Prove that each container runtime on a host pulls an upstream image name through the site registry
version_added: "0.2.0"
author:
  - airgap.registry contributors (@airgap-registry)
description:
  - For each runtime given, resolves O(image) (an upstream name such as C(docker.io/library/nginx:1.25)) and then the
    same image by digest, with the runtime's own client and the configuration the M(airgap.registry.registry_client)
    role wrote - C(skopeo) with the containers-registries.conf drop-ins (what podman and CRI-O read),
    C(ctr --hosts-dir) for containerd, C(docker pull) for Docker, C(k3s crictl)/C(rke2) C(crictl) for k3s/RKE2.
  - Never fails on a runtime that cannot pull; each gets a line saying what worked (trusted, mirrored, pulled by
    digest) or what failed and what to fix. Credentials are passed to the clients, never returned.
  - Reports changed=false (it checks; pulled images are kept in the runtimes' stores).
extends_documentation_fragment:
  - airgap.registry.attributes
attributes:
  check_mode:
    support: full
    details: Pulls exactly as in a normal run; pulling changes no configuration.
  diff_mode:
    support: none
  idempotent:
    support: full
    details: Only checks; never reports a change.
options:
  image:
    description: The image by its upstream name, C(REGISTRY/PATH:TAG).
    type: str
    required: true
  site_image:
    description: The same image by its site registry name (what the retag rule gave it), for Docker with non-Docker Hub names.
    type: str
    required: true
  registry:
    description: The site registry, C(HOST:PORT).
    type: str
    required: true
  runtimes:
    description: Runtimes to prove, among C(docker), C(containerd), C(containers), C(k3s), C(rke2).
    type: list
    elements: str
    required: true
  docker_mirrored:
    description: Docker's C(registry-mirrors) should resolve O(image) (a Docker Hub name with the site registry as mirror).
    type: bool
    default: false
  hosts_dir:
    description: containerd's hosts directory.
    type: path
    default: /etc/containerd/certs.d
  containerd_address:
    description: containerd's socket.
    type: path
    default: /run/containerd/containerd.sock
  namespace:
    description: containerd namespace the proof pulls into.
    type: str
    default: airgap
  containerd_unpack:
    description:
      - C(true) pulls with C(ctr images pull) (fetch, then unpack into containerd's default snapshotter); C(false) only
        fetches with C(ctr content fetch) (the same resolution through the hosts directory, the same image record, no
        snapshot), for hosts where containerd cannot mount (an unprivileged container).
    type: bool
    default: true
  authfile:
    description: Docker client config (credentials) for skopeo and docker; default the clients' own.
    type: path
  username:
    description: Registry user for ctr and crictl.
    type: str
  password:
    description: Its password.
    type: str
  environment:
    description: Extra environment for the clients (for example C(HOME) for a per-user registries.conf.d).
    type: dict
    default: {}
  timeout:
    description: Seconds each client command may take.
    type: int
    default: 120
"""

EXAMPLES = r"""
- name: Prove the runtimes resolve docker.io names through the site registry
  airgap.registry.registry_mirror_proof:
    image: docker.io/library/nginx:1.25
    site_image: reg.example:5443/library/nginx:1.25
    registry: reg.example:5443
    runtimes: [containerd, containers]
"""

RETURN = r"""
results:
  description: One entry per runtime.
  type: list
  elements: dict
  returned: always
  contains:
    runtime: {description: The runtime., type: str}
    status: {description: "C(ok), C(failed) or C(unproven).", type: str}
    trusted: {description: The client reached the site registry over TLS with the CA (or plain http)., type: bool}
    mirrored: {description: The upstream name resolved through the site registry., type: bool}
    by_digest: {description: The image pulled again by digest., type: bool}
    digest: {description: The manifest digest., type: str}
    detail: {description: What happened., type: str}
    fix: {description: What to fix when it failed., type: str}
"""

import os  # noqa: E402
import re  # noqa: E402
import shutil  # noqa: E402

from ansible.module_utils.basic import AnsibleModule  # noqa: E402

DIGEST_RE = re.compile(r"sha256:[0-9a-f]{64}")


def _name(ref: str) -> str:
    """REGISTRY/PATH of a REGISTRY/PATH[:TAG][@DIGEST]."""
    ref = ref.split("@", 1)[0]
    slash = ref.rfind("/")
    colon = ref.rfind(":")
    return ref[:colon] if colon > slash else ref


def diagnose(text: str, registry: str, runtime: str, hosts_dir: str) -> str:
    """What to fix, from a client's error output."""
    low = text.lower()
    where = {"containerd": f"{hosts_dir}/<upstream>/hosts.toml",
             "containers": "/etc/containers/registries.conf.d/50-airgap-registry.conf",
             "docker": "/etc/docker/daemon.json registry-mirrors",
             "k3s": "/etc/rancher/k3s/registries.yaml", "rke2": "/etc/rancher/rke2/registries.yaml"}[runtime]
    if "x509" in low or "certificate" in low or "tls:" in low:
        return (f"the client does not trust {registry}'s certificate: give the CA that signed it "
                "(registry_client_ca_cert*) and check the ca.crt the role wrote for this runtime")
    if "unauthorized" in low or "authentication required" in low or "401" in low or "denied" in low:
        return "the registry refused the credentials: set registry_client_username / registry_client_password"
    if "manifest unknown" in low or "not found" in low or "404" in low:
        return (f"{registry} does not have the image at the path the mirror asks for: seed it (registry_seed) "
                "with the same hub_library as registry_client_hub_library")
    if registry.lower() not in low and ("dial tcp" in low or "lookup" in low or "no such host" in low or "timeout" in low):
        return f"the runtime went to the upstream, not to {registry}: check {where} (registry_client_upstreams)"
    if "connection refused" in low or "dial tcp" in low or "no route" in low:
        return f"{registry} does not answer from this host: check that it runs and that the host reaches it (NO_PROXY)"
    return f"check {where} and the registry's log"


class Proof:
    def __init__(self, module: AnsibleModule) -> None:
        self.m = module
        self.p = module.params
        self.env = dict(os.environ)
        self.env.update({k: str(v) for k, v in (self.p["environment"] or {}).items()})

    def run(self, argv: list[str], debug: bool = False) -> tuple[int, str] | tuple[int, str, str]:
        """(rc, output) of a client; with debug (rc, stdout, debug log): the log's level=debug lines kept apart."""
        rc, out, err = self.m.run_command(["timeout", str(self.p["timeout"])] + argv, environ_update=self.env,
                                          check_rc=False)
        out, err = out or "", err or ""
        if self.p["password"]:
            out, err = out.replace(self.p["password"], "********"), err.replace(self.p["password"], "********")
        if debug:
            log = "\n".join(line for line in err.splitlines() if "level=debug" in line)
            errors = "\n".join(line for line in err.splitlines() if "level=debug" not in line)
            return rc, out + errors, log
        return rc, out + err

    def line(self, runtime: str, **kw) -> dict:
        entry = {"runtime": runtime, "status": "ok", "trusted": False, "mirrored": False, "by_digest": False,
                 "digest": "", "detail": "", "fix": ""}
        entry.update(kw)
        return entry

    def failed(self, runtime: str, step: str, text: str, **kw) -> dict:
        last = " ".join(text.strip().splitlines()[-3:])[-600:]
        return self.line(runtime, status="failed", detail=f"{step}: {last}",
                         fix=diagnose(text, self.p["registry"], runtime, self.p["hosts_dir"]), **kw)

    def containers(self) -> dict:
        image = self.p["image"]
        auth = ["--authfile", self.p["authfile"]] if self.p["authfile"] else []
        if not shutil.which("skopeo"):
            return self.line("containers", status="unproven", detail="skopeo is not installed",
                             fix="install skopeo to prove podman/CRI-O's registries.conf (the files are written)")
        rc, text, log = self.run(["skopeo", "--debug", "inspect", "--no-tags", "--format", "{{.Digest}}"] + auth + [f"docker://{image}"],
                                 debug=True)
        tried = re.findall(r'Trying to access \\?"([^"\\]+)', log)
        mirrored = any(t.startswith(self.p["registry"] + "/") for t in tried)
        digests = DIGEST_RE.findall(text.strip().splitlines()[-1] if rc == 0 and text.strip() else "")
        if rc != 0 or not digests:
            return self.failed("containers", f"skopeo inspect docker://{image}", text, mirrored=mirrored)
        if not mirrored or any(not t.startswith(self.p["registry"] + "/") for t in tried):
            return self.line("containers", status="failed", digest=digests[0], trusted=True,
                             detail=f"skopeo resolved {image} through {tried}, not only {self.p['registry']}",
                             fix="check /etc/containers/registries.conf.d (registry_client_upstreams): no upstream may be tried")
        digest = digests[0]
        rc, text = self.run(["skopeo", "inspect", "--no-tags", "--format", "{{.Digest}}"] + auth + [f"docker://{_name(image)}@{digest}"])
        if rc != 0:
            return self.failed("containers", f"skopeo inspect by digest {digest}", text, trusted=True, mirrored=True, digest=digest)
        return self.line("containers", trusted=True, mirrored=True, by_digest=True, digest=digest,
                         detail=f"skopeo: {image} -> {tried[-1]}, then by digest")

    def containerd(self) -> dict:
        image = self.p["image"]
        if not shutil.which("ctr"):
            return self.line("containerd", status="unproven", detail="ctr is not installed", fix="install ctr to prove containerd")
        base = ["ctr", "--address", self.p["containerd_address"], "-n", self.p["namespace"]]
        user = ["--user", f"{self.p['username']}:{self.p['password']}"] if self.p["username"] else []
        verb = ["images", "pull"] if self.p["containerd_unpack"] else ["content", "fetch"]
        pull = base + verb + ["--hosts-dir", self.p["hosts_dir"]] + user
        rc, text = self.run(pull + [image])
        if rc != 0:
            return self.failed("containerd", f"ctr {' '.join(verb)} --hosts-dir {self.p['hosts_dir']} {image}", text)
        rc, listing = self.run(base + ["images", "ls", f"name=={image}"])
        digests = DIGEST_RE.findall(listing)
        if rc != 0 or not digests:
            return self.failed("containerd", "ctr images ls", listing, trusted=True, mirrored=True)
        digest = digests[0]
        rc, text = self.run(pull + [f"{_name(image)}@{digest}"])
        if rc != 0:
            return self.failed("containerd", f"ctr pull by digest {digest}", text, trusted=True, mirrored=True, digest=digest)
        return self.line("containerd", trusted=True, mirrored=True, by_digest=True, digest=digest,
                         detail=f"ctr {' '.join(verb)} --hosts-dir {self.p['hosts_dir']}: {image} and @{digest} "
                                f"(namespace {self.p['namespace']})")

    def docker(self) -> dict:
        if not shutil.which("docker"):
            return self.line("docker", status="unproven", detail="docker is not installed", fix="")
        image = self.p["image"] if self.p["docker_mirrored"] else self.p["site_image"]
        if self.p["authfile"]:
            self.env["DOCKER_CONFIG"] = os.path.dirname(self.p["authfile"])
        rc, text = self.run(["docker", "pull", image])
        if rc != 0:
            return self.failed("docker", f"docker pull {image}", text)
        digests = DIGEST_RE.findall(" ".join(line for line in text.splitlines() if line.startswith("Digest:")))
        if not digests:
            return self.failed("docker", "docker pull printed no digest", text, trusted=True)
        digest = digests[0]
        rc, text2 = self.run(["docker", "pull", f"{_name(image)}@{digest}"])
        note = ("" if self.p["docker_mirrored"] else
                f"Docker resolves only Docker Hub names through registry-mirrors: {self.p['image']} must be referenced "
                f"as {self.p['site_image']} on Docker hosts")
        if rc != 0:
            return self.failed("docker", f"docker pull by digest {digest}", text2, trusted=True,
                               mirrored=self.p["docker_mirrored"], digest=digest)
        return self.line("docker", trusted=True, mirrored=self.p["docker_mirrored"], by_digest=True, digest=digest,
                         detail=f"docker pull {image} and @{digest}", fix=note)

    def kube(self, runtime: str) -> dict:
        binary = shutil.which(runtime)
        crictl = [binary, "crictl"] if binary and runtime == "k3s" else (
            [shutil.which("crictl"), "--runtime-endpoint", "unix:///run/k3s/containerd/containerd.sock"]
            if shutil.which("crictl") else None)
        if not crictl:
            return self.line(runtime, status="unproven", detail="registries.yaml written; no crictl to pull with",
                             fix=f"after {runtime} restarts: {runtime} crictl pull {self.p['image']}")
        rc, text = self.run(crictl + ["pull", self.p["image"]])
        if rc != 0:
            return self.failed(runtime, f"crictl pull {self.p['image']}", text)
        digests = DIGEST_RE.findall(text)
        return self.line(runtime, trusted=True, mirrored=True, digest=digests[0] if digests else "",
                         detail=f"crictl pull {self.p['image']}")


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "image": {"type": "str", "required": True},
            "site_image": {"type": "str", "required": True},
            "registry": {"type": "str", "required": True},
            "runtimes": {"type": "list", "elements": "str", "required": True},
            "docker_mirrored": {"type": "bool", "default": False},
            "hosts_dir": {"type": "path", "default": "/etc/containerd/certs.d"},
            "containerd_address": {"type": "path", "default": "/run/containerd/containerd.sock"},
            "namespace": {"type": "str", "default": "airgap"},
            "containerd_unpack": {"type": "bool", "default": True},
            "authfile": {"type": "path"},
            "username": {"type": "str"},
            "password": {"type": "str", "no_log": True},
            "environment": {"type": "dict", "default": {}},
            "timeout": {"type": "int", "default": 120},
        },
        supports_check_mode=True,
    )
    if module.check_mode:
        module.exit_json(changed=False, results=[], skipped=True, msg="check mode: nothing pulled")
    proof = Proof(module)
    results = []
    for runtime in module.params["runtimes"]:
        if runtime == "containers":
            results.append(proof.containers())
        elif runtime == "containerd":
            results.append(proof.containerd())
        elif runtime == "docker":
            results.append(proof.docker())
        elif runtime in ("k3s", "rke2"):
            results.append(proof.kube(runtime))
        else:
            module.fail_json(msg=f"unknown runtime {runtime!r}")
    module.exit_json(changed=False, results=results)


if __name__ == "__main__":
    main()
