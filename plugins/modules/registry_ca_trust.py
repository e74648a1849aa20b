#!/usr/bin/python
# Copyright: (c) 2026, airgap.registry contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
---
module: registry_ca_trust
short_description: Check a registry's CA certificate, then trust it (write it to certs.d or the system store)
version_added: 0.1.0
description:
  - Validates the CA before any file is replaced - PEM text holding certificates, each a CA certificate
    (basicConstraints CA) in its validity period, and (O(verify)) one that verifies the TLS certificate the registry
    serves for O(registry). A CA that fails any check writes nothing, so a good CA already in place stays.
  - Then writes it to every path of O(dest) (atomically, mode 0644, parent directories created), or with
    O(state=absent) removes those files and their C(HOST:PORT) directory when it is left empty.
  - Used by the C(registry_client) role for C(/etc/docker/certs.d/HOST:PORT/ca.crt), C(/etc/containers/certs.d/...),
    containerd and the system store.
author:
  - airgap.registry contributors (@airgap-registry)
requirements:
  - cryptography (for the CA and validity checks; without it the PEM is only loaded as a trust anchor)
extends_documentation_fragment:
  - airgap.registry.attributes
attributes:
  check_mode:
    support: full
    details: Runs every check (the registry's TLS too; a registry that does not answer yet only warns) and reports the files it would write or remove.
  diff_mode:
    support: full
    details: Shows each file's PEM before and after (certificates are public).
  idempotent:
    support: full
options:
  pem:
    description: The CA certificate(s), PEM text. Required with O(state=present).
    type: str
  source:
    description: Where the PEM came from (a variable and file), for error messages.
    type: str
    default: the CA
  dest:
    description: Files to write (or remove).
    type: list
    elements: path
    default: []
  registry:
    description:
      - The registry as C(HOST:PORT), whose TLS certificate the CA must verify.
      - With O(state=absent), a parent directory named like it is removed when left empty.
    type: str
  verify:
    description:
      - Check that the CA verifies the registry's certificate (and its name) before writing.
      - In check mode a registry that does not answer yet only gives a warning.
    type: bool
    default: true
  state:
    description: V(present) checks and writes, V(absent) removes.
    type: str
    choices: [present, absent]
    default: present
"""

EXAMPLES = r"""
- name: Trust the registry's CA for docker and podman, after checking it verifies the registry
  airgap.registry.registry_ca_trust:
    pem: "{{ lookup('ansible.builtin.file', 'files/registry-ca.crt') }}"
    source: files/registry-ca.crt
    registry: registry1.site-a.example:5443
    dest:
      - /etc/docker/certs.d/registry1.site-a.example:5443/ca.crt
      - /etc/containers/certs.d/registry1.site-a.example:5443/ca.crt

- name: Stop trusting it
  airgap.registry.registry_ca_trust:
    state: absent
    registry: registry1.site-a.example:5443
    dest:
      - /etc/docker/certs.d/registry1.site-a.example:5443/ca.crt
"""

RETURN = r"""
written:
  description: The files written (or that would be written in check mode).
  returned: always
  type: list
  elements: str
removed:
  description: The files removed (or that would be removed in check mode).
  returned: always
  type: list
  elements: str
registry_unreachable:
  description: Whether the check failed because O(registry) did not answer (nothing was written then).
  returned: when state is present
  type: bool
subjects:
  description: Subjects of the CA certificates.
  returned: when state is present
  type: list
  elements: str
"""

import base64  # noqa: E402
import datetime  # noqa: E402
import os  # noqa: E402
import re  # noqa: E402
import socket  # noqa: E402
import ssl  # noqa: E402

from ansible.module_utils.basic import AnsibleModule  # noqa: E402

from ansible_collections.airgap.registry.plugins.module_utils.atomic_file import write_bytes_atomically  # noqa: E402

try:
    from cryptography import x509
    HAS_CRYPTOGRAPHY = True
except ImportError:
    HAS_CRYPTOGRAPHY = False

PEM_BLOCK = re.compile(r"-----BEGIN CERTIFICATE-----\s*(.*?)\s*-----END CERTIFICATE-----", re.S)


class CAError(Exception):
    """The CA is unusable or does not verify the registry; the message is meant for the user."""


def parse_pem(pem: str | None, source: str) -> list[bytes]:
    """The DER certificates of `pem`; CAError naming `source` when it holds none or a broken one."""
    text = pem or ""
    if "-----BEGIN" in text and "CERTIFICATE-----" not in text:
        kind = re.search(r"-----BEGIN ([A-Z ]+)-----", text)
        raise CAError(f"{source} is not a certificate but a PEM {kind.group(1).lower() if kind else 'block'}")
    blocks = PEM_BLOCK.findall(text)
    if not blocks:
        raise CAError(f"{source} is not a PEM certificate (no -----BEGIN CERTIFICATE----- block)")
    ders = []
    for block in blocks:
        try:
            ders.append(base64.b64decode("".join(block.split()), validate=True))
        except ValueError:
            raise CAError(f"{source} holds a PEM certificate block that is not valid base64") from None
    return ders


def check_ca(ders: list[bytes], source: str) -> list[str]:
    """Subjects of the certificates; CAError when one is unreadable, not a CA, or out of its validity period."""
    if not HAS_CRYPTOGRAPHY:
        try:
            ssl.create_default_context(cadata="\n".join(ssl.DER_cert_to_PEM_cert(d) for d in ders))
        except ssl.SSLError as exc:
            raise CAError(f"{source} is not a usable certificate: {exc}") from None
        return []
    subjects = []
    now = datetime.datetime.now(datetime.timezone.utc)
    for der in ders:
        try:
            cert = x509.load_der_x509_certificate(der)
        except ValueError as exc:
            raise CAError(f"{source} holds a certificate that cannot be read: {exc}") from None
        subject = cert.subject.rfc4514_string()
        try:
            is_ca = cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
        except x509.ExtensionNotFound:
            is_ca = cert.issuer == cert.subject and cert.version == x509.Version.v1  # an old self-signed v1 root
        if not is_ca:
            raise CAError(f"{source} holds {subject}, which is not a CA certificate (basicConstraints CA:FALSE or absent): "
                          "give the CA that signed the registry's certificate, not the registry's own certificate")
        after = getattr(cert, "not_valid_after_utc", None) or cert.not_valid_after.replace(tzinfo=datetime.timezone.utc)
        before = getattr(cert, "not_valid_before_utc", None) or cert.not_valid_before.replace(tzinfo=datetime.timezone.utc)
        if after < now:
            raise CAError(f"{source} holds {subject}, which expired on {after:%Y-%m-%d}")
        if before > now:
            raise CAError(f"{source} holds {subject}, which is valid only from {before:%Y-%m-%d}")
        subjects.append(subject)
    return subjects


def split_registry(registry: str) -> tuple[str, int]:
    """(host, port) of HOST:PORT, [IPv6]:PORT or HOST (port 443)."""
    match = re.match(r"^\[([^\]]+)\](?::(\d+))?$", registry) or re.match(r"^([^:]+)(?::(\d+))?$", registry)
    if not match:
        raise CAError(f"registry {registry!r} is not HOST:PORT")
    return match.group(1), int(match.group(2) or 443)


class Unreachable(Exception):
    """Nothing answered at the registry's address."""


def verify_registry(ders: list[bytes], registry: str, source: str, timeout: float = 10) -> None:
    """CAError when the CA does not verify the certificate `registry` serves; Unreachable when nothing answers."""
    host, port = split_registry(registry)
    context = ssl.create_default_context(cadata="\n".join(ssl.DER_cert_to_PEM_cert(d) for d in ders))
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            with context.wrap_socket(sock, server_hostname=host):
                return
    except ssl.SSLCertVerificationError as exc:
        raise CAError(f"the CA from {source} does not verify the certificate registry {registry} serves: "
                      f"{exc.verify_message or exc}") from None
    except ssl.SSLError as exc:
        raise CAError(f"TLS with registry {registry} failed while checking the CA from {source}: {exc}") from None
    except OSError as exc:
        raise Unreachable(f"cannot reach registry {registry} to check the CA from {source} against it: {exc.strerror or exc}") from None


def read(path: str) -> bytes | None:
    """The bytes of `path`, or None when it does not exist."""
    try:
        with open(path, "rb") as fh:
            return fh.read()
    except FileNotFoundError:
        return None


def write(module: AnsibleModule, path: str, data: bytes) -> None:
    """Write `data` to `path` atomically (0644), creating its directory (0755) when missing."""
    parent = os.path.dirname(path)
    if not os.path.isdir(parent):
        os.makedirs(parent, mode=0o755)
    write_bytes_atomically(path, data, 0o644)  # through a symbolic link, which stays a link (issue 10.12)


def argument_spec() -> dict:
    """The module's options (see DOCUMENTATION)."""
    return {
        "pem": {"type": "str"},
        "source": {"type": "str", "default": "the CA"},
        "dest": {"type": "list", "elements": "path", "default": []},
        "registry": {"type": "str"},
        "verify": {"type": "bool", "default": True},
        "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
    }


def remove(module: AnsibleModule) -> dict:
    """state=absent: remove the files of `dest` (and the registry's directory left empty); the module's result."""
    p = module.params
    result = {"changed": False, "written": [], "removed": []}
    before, after = {}, {}
    for path in p["dest"]:
        if os.path.lexists(path):
            result["removed"].append(path)
            before[path] = "present"
            after[path] = "absent"
            if not module.check_mode:
                os.unlink(path)
                parent = os.path.dirname(path)
                if p["registry"] and os.path.basename(parent) == p["registry"] and os.path.isdir(parent) and not os.listdir(parent):
                    os.rmdir(parent)
    result["changed"] = bool(result["removed"])
    if module._diff:
        result["diff"] = {"before": before, "after": after}
    return result


def check(module: AnsibleModule, result: dict) -> None:
    """Parse and check the CA (and, with verify, against the registry); fail the task with `result` when it is refused."""
    p = module.params
    result["registry_unreachable"] = False
    try:
        ders = parse_pem(p["pem"], p["source"])
        result["subjects"] = check_ca(ders, p["source"])
        if p["verify"] and p["registry"]:
            try:
                verify_registry(ders, p["registry"], p["source"])
            except Unreachable as exc:
                if not module.check_mode:
                    result["registry_unreachable"] = True
                    raise CAError(f"{exc}; nothing was written. Start the registry first, or set verify: false (registry_client_ca_verify in the role) "
                                  "to trust the CA without checking it") from None
                module.warn(f"{exc} (check mode: the CA is checked as a certificate only)")
    except CAError as exc:
        module.fail_json(msg=f"{exc}; nothing was written, the current CA files are kept", **result)


def install(module: AnsibleModule) -> dict:
    """state=present: check the CA, then write it to each file of `dest` that differs; the module's result."""
    p = module.params
    result = {"changed": False, "written": [], "removed": []}
    before, after = {}, {}
    check(module, result)
    data = (p["pem"].strip() + "\n").encode()
    for path in p["dest"]:
        current = read(path)
        if current != data:
            result["written"].append(path)
            before[path] = current.decode("utf-8", "replace") if current is not None else ""
            after[path] = data.decode()
            if not module.check_mode:
                write(module, path, data)
    result["changed"] = bool(result["written"])
    if module._diff:
        result["diff"] = [{"before_header": path, "after_header": path, "before": before[path], "after": after[path]} for path in result["written"]]
    return result


def main() -> None:
    """Run the module: install or remove the CA in the container engines' trust directories."""
    module = AnsibleModule(
        argument_spec=argument_spec(),
        required_if=[("state", "present", ("pem",))],
        supports_check_mode=True,
    )
    result = remove(module) if module.params["state"] == "absent" else install(module)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
