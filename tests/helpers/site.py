"""site.yml on the localhost inventory (what `make run` does), moved to a free port and its own directories."""
import json
import os
import shutil
import urllib.request

from tests.helpers.ansible import run_playbook
from tests.helpers.registries import REPO_ROOT, free_port

LOCALHOST = os.path.join(REPO_ROOT, "inventories", "localhost")
SITE = os.path.join(REPO_ROOT, "playbooks", "site.yml")
BUNDLE = os.path.join(REPO_ROOT, "playbooks", "bundle.yml")


def localhost_site(prefix):
    """A fixture body: yields extra vars ({registry_port, registry_name: PREFIX-PID}) that move the localhost registry
    to a free port; afterwards site.yml takes it down (registry_state absent) and its directories are removed."""
    name = f"{prefix}-{os.getpid()}"
    extra = {"registry_port": free_port(), "registry_name": name}
    yield extra
    run_playbook(SITE, inventory=LOCALHOST, extra_vars={**extra, "registry_state": "absent", "registry_seed_enabled": False})
    for path in (f"/var/lib/airgap/{name}", f"/etc/airgap/{name}"):
        shutil.rmtree(path, ignore_errors=True)


def catalog(port):
    """The repositories (list of names) of the plain-HTTP registry on 127.0.0.1:`port`."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/v2/_catalog", timeout=10) as resp:
        return json.load(resp)["repositories"]
