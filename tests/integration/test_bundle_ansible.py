"""Bundles in Ansible (issue 13): the image_bundle and image_bundle_have modules (check mode, a real run, a second run
that changes nothing), the registry_seed role seeding a split bundle, and playbooks/bundle.yml writing one bundle
that site.yml seeds into a real registry before writing the HAVE file next month's delta is built against."""
import os
import shutil
import subprocess

import pytest

from ansible_collections.airgap.registry.plugins.module_utils.bundle_layout import parse_have
from ansible_collections.airgap.registry.plugins.module_utils.registry_api import RegistryClient
from ansible_collections.airgap.registry.plugins.module_utils.seed import seed
from tests.helpers.ansible import run_module, run_playbook
from tests.helpers.site import BUNDLE, LOCALHOST, SITE, catalog, localhost_site

pytestmark = [pytest.mark.distribution]

SAMPLES = ("abox:1.0.1", "nginx:1.25", "tools/busyish:2.0")


@pytest.fixture
def source(start_registry, sample_tarballs):
    """A Distribution registry holding the three samples (they share their base layer)."""
    reg = start_registry("distribution")
    seed({"src": [str(sample_tarballs)], "registry": reg.host, "retries": 1})
    return reg


def digests(reg, names=SAMPLES):
    """{repo:tag: manifest digest} in a registry."""
    client = RegistryClient(reg if isinstance(reg, str) else reg.host, scheme="http")
    return {name: client.get_manifest(*name.rsplit(":", 1))[2] for name in names}


def module(name, args, **kw):
    result, run = run_module(f"airgap.registry.{name}", args, **kw)
    assert result and not result.get("failed"), run.stdout[-3000:] + run.stderr[-2000:]
    return result


def test_image_bundle_check_mode_then_create_then_nothing_to_do(source, tmp_path):
    output = tmp_path / "bundle.tar"
    args = {"images": [f"{source.host}/{name}" for name in SAMPLES], "output": str(output)}
    would = module("image_bundle", args, check=True, diff=True)
    assert would["changed"] is True and not output.exists() and not os.path.exists(f"{output}.partial")
    # 3 configs, 5 layers (the base layer once): what would be fetched, with its bytes
    assert would["blobs_fetched"] == 8 and would["bytes_fetched"] > 0
    assert would["summary"].startswith("3 images, 11 blobs") and "would fetch 8 blobs" in would["summary"]
    assert would["diff"]["before"] == {} and set(would["diff"]["after"]) == {f"{source.host}/{n}" for n in SAMPLES}

    made = module("image_bundle", args, diff=True)
    assert made["changed"] is True and output.is_file() and made["form"] == "tar"
    assert (made["blobs_fetched"], made["bytes_fetched"]) == (would["blobs_fetched"], would["bytes_fetched"])
    assert {i["reference"]: i["digest"] for i in made["images"]} == {f"{source.host}/{n}": d for n, d in digests(source).items()}

    mtime = output.stat().st_mtime_ns
    again = module("image_bundle", args, diff=True)
    assert again["changed"] is False and again["blobs_fetched"] == 0 and output.stat().st_mtime_ns == mtime
    assert again["diff"]["before"] == again["diff"]["after"] == made["diff"]["after"]
    check_again = module("image_bundle", args, check=True)
    assert check_again["changed"] is False and check_again["blobs_fetched"] == 0


def test_image_bundle_names_a_missing_image(source, tmp_path):
    result, _run = run_module("airgap.registry.image_bundle", {"images": [f"{source.host}/nope:1"], "output": str(tmp_path) + "/"})
    assert result.get("failed") and "nope" in result["msg"], result


def test_image_bundle_have_writes_once_and_follows_the_registry(source, tmp_path, sample_tarballs):
    output = tmp_path / "out" / "HAVE.json"
    output.parent.mkdir()
    args = {"registry": source.host, "output": str(output), "scheme": "http"}
    would = module("image_bundle_have", args, check=True)
    assert would["changed"] is True and not list(output.parent.iterdir())
    wrote = module("image_bundle_have", args, diff=True)
    assert wrote["changed"] is True and (wrote["repositories"], wrote["tags"]) == (3, 3)
    doc = parse_have(output.read_bytes(), str(output))
    assert doc["repositories"] == {name.rsplit(":", 1)[0]: {name.rsplit(":", 1)[1]: d} for name, d in digests(source).items()}
    assert wrote["diff"]["after"] == digests(source)

    mtime = output.stat().st_mtime_ns
    again = module("image_bundle_have", args)
    assert again["changed"] is False and output.stat().st_mtime_ns == mtime
    seed({"src": [str(sample_tarballs / "abox_1.0.1.tar")], "registry": source.host, "rename": {"abox": "abox:1.0.2"}})
    moved = module("image_bundle_have", args, diff=True)
    assert moved["changed"] is True and moved["tags"] == 4 and set(moved["diff"]["after"]) - set(moved["diff"]["before"]) == {"abox:1.0.2"}
    assert "1.0.2" in parse_have(output.read_bytes(), str(output))["repositories"]["abox"]


def seed_role(**role_vars):
    return [{"name": "seed", "hosts": "localhost", "gather_facts": False,
             "roles": [{"role": "airgap.registry.registry_seed", **role_vars}]}]


def test_role_seeds_a_split_bundle_and_is_idempotent(source, start_registry, tmp_path):
    output = tmp_path / "media" / "images.tar"
    output.parent.mkdir()
    args = {"images": [f"{source.host}/{name}" for name in SAMPLES], "output": str(output), "split_size": "300K"}
    assert module("image_bundle", args)["changed"] is True
    assert module("image_bundle", args)["changed"] is False
    parts = sorted(p.name for p in output.parent.iterdir())
    assert "images.tar" not in parts and len([p for p in parts if ".part" in p]) > 1, parts
    target = start_registry("pyregistry")
    role = {"registry_seed_registry": target.host, "registry_seed_bundle": str(output)}
    would = run_playbook(seed_role(**role), check=True)
    assert would.rc == 0 and would.result("Seed the registry from the tarballs")["changed"] is True, would.stdout[-4000:]
    first = run_playbook(seed_role(**role))
    assert first.rc == 0, first.stdout[-4000:]
    assert digests(target) == digests(source)
    assert first.result("Print the catalog and tags")["msg"] == [f"registry {target.host}: 3 repositories", "  abox: 1.0.1",
                                                                 "  nginx: 1.25", "  tools/busyish: 2.0"]
    again = run_playbook(seed_role(**role))
    assert again.rc == 0 and again.changed == 0, again.stdout[-4000:]

    missing = run_playbook(seed_role(**{**role, "registry_seed_bundle": str(tmp_path / "elsewhere.tar")}))
    assert missing.rc != 0
    assert "registry_seed_bundle" in missing.failures()["localhost"] and "elsewhere.tar.part001" in missing.failures()["localhost"]


def test_role_seeds_a_bundle_tar_found_among_the_controller_tarballs(source, start_registry, tmp_path, sample_tarballs):
    controller = tmp_path / "controller"
    controller.mkdir()
    module("image_bundle", {"images": [f"{source.host}/{name}" for name in SAMPLES[:2]], "output": str(controller / "images.tar")})
    shutil.copy(sample_tarballs / "tools_busyish_2.0.tar", controller)
    target = start_registry("distribution")
    run = run_playbook(seed_role(registry_seed_registry=target.host, registry_seed_controller_dir=str(controller),
                                 registry_seed_tarballs_dir=str(tmp_path / "host")))
    assert run.rc == 0, run.stdout[-4000:]
    assert digests(target) == digests(source)


@pytest.fixture
def site_vars():
    """Extra vars that move the localhost registry (site.yml's inventories/localhost) to a free port and its own
    directories; taken down at teardown."""
    yield from localhost_site("bundle-site")


def test_bundle_playbook_then_site_seeds_it_and_writes_the_have_file(source, site_vars, tmp_path, sample_tarballs):
    images_file = tmp_path / "images.txt"
    images_file.write_text("# the fleet's images\n" + "".join(f"{source.host}/{name}\n" for name in SAMPLES))
    carried = tmp_path / "usb"
    carried.mkdir()
    bundle_vars = {"bundle_kind": "bundle", "bundle_source": "registry", "bundle_registry_image": "",
                   "bundle_images_file": str(images_file), "bundle_output": str(carried / "2026-11.tar")}
    planned = run_playbook(BUNDLE, extra_vars=bundle_vars, check=True)
    assert planned.rc == 0 and planned.changed == 1 and not list(carried.iterdir()), planned.stdout[-4000:]
    made = run_playbook(BUNDLE, extra_vars=bundle_vars)
    assert made.rc == 0 and made.changed == 1, made.stdout[-4000:]
    assert sorted(p.name for p in carried.iterdir()) == ["2026-11.tar"]
    assert made.result("Report the bundle")["msg"].startswith(f"{carried / '2026-11.tar'}: 3 images, 11 blobs")
    again = run_playbook(BUNDLE, extra_vars=bundle_vars)
    assert again.rc == 0 and again.changed == 0, again.stdout[-4000:]

    have_file = tmp_path / "controller" / "HAVE.json"
    site = {**site_vars, "registry_seed_bundle": str(carried / "2026-11.tar"), "registry_seed_have_file": str(have_file),
            "registry_seed_have_host_file": str(tmp_path / "host" / "HAVE.json")}
    seeded = run_playbook(SITE, inventory=LOCALHOST, extra_vars=site)
    assert seeded.rc == 0, seeded.stdout[-4000:]
    port = site_vars["registry_port"]
    assert catalog(port) == ["abox", "nginx", "tools/busyish"]
    assert digests(f"127.0.0.1:{port}") == digests(source)
    have = parse_have(have_file.read_bytes(), str(have_file))
    assert have["repositories"] == {name.rsplit(":", 1)[0]: {name.rsplit(":", 1)[1]: d} for name, d in digests(source).items()}
    rerun = run_playbook(SITE, inventory=LOCALHOST, extra_vars=site)
    assert rerun.rc == 0 and rerun.changed == 0, rerun.stdout[-4000:]

    # Next month: one new image; the delta carries its blobs only (the base layer is at the site) and seeds.
    seed({"src": [str(sample_tarballs / "abox_1.0.1.tar")], "registry": source.host, "rename": {"abox": "apps/abox:2.0"}})
    images_file.write_text(images_file.read_text() + f"{source.host}/apps/abox:2.0\n")
    delta_vars = {**bundle_vars, "bundle_have": str(have_file), "bundle_output": str(carried / "2026-12.tar")}
    delta = run_playbook(BUNDLE, extra_vars=delta_vars)
    assert delta.rc == 0, delta.stdout[-4000:]
    written = delta.result("Write the other images into one bundle")
    assert written["delta"]["blobs"] and written["bytes_total"] < made.result("Write the other images into one bundle")["bytes_total"]
    seeded = run_playbook(SITE, inventory=LOCALHOST, extra_vars={**site, "registry_seed_bundle": str(carried / "2026-12.tar")})
    assert seeded.rc == 0, seeded.stdout[-4000:]
    assert digests(f"127.0.0.1:{port}", ["apps/abox:2.0"]) == digests(source, ["apps/abox:2.0"])
    assert "apps/abox" in parse_have(have_file.read_bytes(), str(have_file))["repositories"]
    pulled = subprocess.run(["skopeo", "inspect", "--tls-verify=false", f"docker://127.0.0.1:{port}/apps/abox:2.0"],
                            capture_output=True, text=True, check=False)
    assert pulled.returncode == 0, pulled.stderr


@pytest.mark.docker
def test_bundle_playbook_from_the_engine_names_images_in_full(sample_images, tmp_path):
    extra = {"bundle_kind": "bundle", "bundle_dir": str(tmp_path), "bundle_registry_image": "", "bundle_images": list(SAMPLES)}
    made = run_playbook(BUNDLE, extra_vars=extra)
    assert made.rc == 0 and made.changed == 1, made.stdout[-4000:]
    written = made.result("Write the other images into one bundle")
    assert sorted(i["reference"] for i in written["images"]) == [
        "docker.io/library/abox:1.0.1", "docker.io/library/nginx:1.25", "docker.io/tools/busyish:2.0"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["images.tar"]
    again = run_playbook(BUNDLE, extra_vars=extra)
    assert again.rc == 0 and again.changed == 0, again.stdout[-4000:]
