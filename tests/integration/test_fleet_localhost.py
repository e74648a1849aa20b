"""What `make run` does (site.yml with inventories/localhost), on a free port and its own directories, and the bundle
playbook feeding it: save the images on the connected side, seed them on the other, pull them back through docker."""
import os
import subprocess

import pytest

from tests.helpers.ansible import run_playbook
from tests.helpers.site import BUNDLE, LOCALHOST, SITE, catalog, localhost_site

pytestmark = [pytest.mark.docker]

@pytest.fixture
def site_vars():
    """Extra vars that move the localhost registry to a free port and its own directories; removed at teardown."""
    yield from localhost_site("fleet-site")


def test_site_on_localhost_is_rerunnable_and_leaves_the_registry_running(site_vars, sample_tarballs):
    extra = {**site_vars, "registry_seed_tarballs_dir": str(sample_tarballs)}
    first = run_playbook(SITE, inventory=LOCALHOST, extra_vars=extra)
    assert first.rc == 0, first.stdout[-4000:]
    # The playbook has exited; the registry still answers and holds the samples.
    assert catalog(extra["registry_port"]) == ["abox", "nginx", "tools/busyish"]
    assert first.tasks()[-1][0].split(" : ", 1)[-1] == "Print the catalog and tags"
    assert first.result()["msg"][1:] == ["  abox: 1.0.1", "  nginx: 1.25", "  tools/busyish: 2.0"]
    second = run_playbook(SITE, inventory=LOCALHOST, extra_vars=extra)
    assert second.rc == 0, second.stdout[-4000:]
    assert second.changed == 0, second.stdout[-4000:]
    pushed = second.result("Seed the registry from the tarballs", "localhost")["images"]
    assert len(pushed) == 3 and sum(i["bytes_sent"] for i in pushed) == 0
    assert catalog(extra["registry_port"]) == ["abox", "nginx", "tools/busyish"]


def test_bundle_then_seed_then_pull(site_vars, sample_images, tmp_path, docker_client):
    bundle_dir = tmp_path / "bundle"
    saved = run_playbook(BUNDLE, extra_vars={"bundle_dir": str(bundle_dir), "bundle_images": ["abox:1.0.1", "nginx:1.25"]})
    assert saved.rc == 0, saved.stdout[-4000:]
    assert sorted(p.name for p in bundle_dir.iterdir()) == ["abox_1.0.1.tar", "nginx_1.25.tar", "registry_2.8.3.tar"]
    assert saved.result("List the tarballs", "localhost")["msg"][0].endswith("/registry_2.8.3.tar")
    again = run_playbook(BUNDLE, extra_vars={"bundle_dir": str(bundle_dir), "bundle_images": ["abox:1.0.1", "nginx:1.25"]})
    assert again.rc == 0 and again.changed == 0, again.stdout[-4000:]

    extra = {**site_vars, "registry_seed_controller_dir": str(bundle_dir), "registry_seed_tarballs_dir": str(tmp_path / "carried")}
    seeded = run_playbook(SITE, inventory=LOCALHOST, extra_vars=extra)
    assert seeded.rc == 0, seeded.stdout[-4000:]
    port = extra["registry_port"]
    assert catalog(port) == ["abox", "nginx", "registry"]
    target = f"127.0.0.1:{port}/registry:2.8.3"
    try:
        subprocess.run(["docker", "pull", "-q", target], check=True, capture_output=True)
        assert docker_client.images.get(target).id == docker_client.images.get("registry:2.8.3").id
    finally:
        subprocess.run(["docker", "rmi", target], check=False, capture_output=True)


def test_site_check_mode_on_a_fresh_host_changes_nothing(site_vars, sample_tarballs):
    name = site_vars["registry_name"]
    run = run_playbook(SITE, inventory=LOCALHOST, extra_vars={**site_vars, "registry_seed_tarballs_dir": str(sample_tarballs)}, check=True)
    assert run.rc == 0, run.stdout[-4000:]
    note = run.result("Say what check mode cannot know", "localhost")["msg"]
    assert note.startswith(f"check mode: registry 127.0.0.1:{site_vars['registry_port']} is not running yet")
    assert not os.path.exists(f"/var/lib/airgap/{name}") and not os.path.exists(f"/etc/airgap/{name}")
    with pytest.raises(OSError):
        catalog(site_vars["registry_port"])
