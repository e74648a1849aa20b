"""A copy of inventories/example adapted to this machine (docs/fleet.md's "make it yours" step, done by a test): every
host is 127.0.0.1 with ansible_connection=local, every path under a tmp dir, the registry on a free port."""
import base64
import json
import os
import shutil
import ssl
import sys
import urllib.request

import yaml

from tests.helpers.registries import REPO_ROOT

EXAMPLE = os.path.join(REPO_ROOT, "inventories", "example")
ADMIN = b"admin:change-me-admin"  # the example's admin login (group_vars/registry_hosts.yml)


def edit(path, **changes):
    """Set top-level keys of a YAML file (order kept)."""
    with open(path) as fh:
        data = yaml.safe_load(fh)
    data.update(changes)
    with open(path, "w") as fh:
        yaml.safe_dump(data, fh, sort_keys=False)


def local_example(tmp, tarballs, name, port, fleet_hosts=None, **fleet_vars):
    """Copy inventories/example to TMP/mysite (returned, a str) and point it at this machine: registry `name` on
    `port`, its config in TMP/etc, storage in TMP/storage, seeded from `tarballs`; the clients pull with skopeo into
    TMP/images and trust TMP/etc/tls/ca.crt.  `fleet_hosts`: the client host names kept (all when None);
    `fleet_vars`: more group_vars/fleet.yml settings."""
    inventory = os.path.join(str(tmp), "mysite")
    shutil.copytree(EXAMPLE, inventory)
    with open(os.path.join(inventory, "hosts.yml")) as fh:
        hosts = yaml.safe_load(fh)
    hosts["all"]["vars"] = {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}
    if fleet_hosts is not None:
        fleet = hosts["all"]["children"]["fleet"]
        fleet["hosts"] = {host: fleet["hosts"][host] for host in fleet_hosts}
    for group in hosts["all"]["children"].values():
        for host in group["hosts"].values():
            host["ansible_host"] = "127.0.0.1"
    with open(os.path.join(inventory, "hosts.yml"), "w") as fh:
        yaml.safe_dump(hosts, fh, sort_keys=False)
    config_dir = os.path.join(str(tmp), "etc")
    gv = os.path.join(inventory, "group_vars")
    edit(os.path.join(gv, "all.yml"), fleet_registry_host="127.0.0.1", fleet_registry_port=port)
    edit(os.path.join(gv, "registry_hosts.yml"), registry_name=name, registry_config_dir=config_dir,
         registry_storage_dir=os.path.join(str(tmp), "storage"), registry_seed_controller_dir=str(tarballs),
         registry_seed_tarballs_dir=os.path.join(str(tmp), "tarballs"))
    edit(os.path.join(gv, "fleet.yml"), registry_client_ca_cert_host_path=os.path.join(config_dir, "tls", "ca.crt"),
         registry_client_pull_with="skopeo", registry_client_skopeo_dir=os.path.join(str(tmp), "images"), **fleet_vars)
    return inventory


def tls_catalog(config_dir, port):
    """The repositories of the example's registry on 127.0.0.1:`port` (TLS with CONFIG_DIR/tls/ca.crt, admin login)."""
    req = urllib.request.Request(f"https://127.0.0.1:{port}/v2/_catalog")
    req.add_header("Authorization", "Basic " + base64.b64encode(ADMIN).decode())
    ca = os.path.join(config_dir, "tls", "ca.crt")
    with urllib.request.urlopen(req, timeout=10, context=ssl.create_default_context(cafile=ca)) as resp:
        return json.load(resp)["repositories"]
