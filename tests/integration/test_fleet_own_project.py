"""The collection used from a project of one's own, as README.md "Using the collection from your own project" says
(issue 16, item 12): built into a tarball, installed with ansible-galaxy from a requirements.yml, its roles and its
site playbook run by name from that project, not from this repository."""
import os
import re
import subprocess
import sys

import pytest
import yaml

from tests.helpers.registries import REPO_ROOT, free_port

BIN = os.path.dirname(sys.executable)


def readme_section():
    with open(os.path.join(REPO_ROOT, "README.md")) as fh:
        text = fh.read()
    match = re.search(r"^## Using the collection from your own project\n(.*?)(?=^## |\Z)", text, re.S | re.M)
    assert match, "README.md has no section on using the collection from one's own project"
    return match.group(1)


def user(cmd, cwd):
    """`cmd` as a user at a terminal in `cwd`: the venv on PATH, no ANSIBLE_* set, the project's ansible.cfg read."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    # This venv puts the repository's collection on sys.path (airgap_collections.pth, for `make`); a user's own
    # environment has no such path, so the test turns that scan off to see only what the project installs.
    env.update(PATH=BIN + os.pathsep + env.get("PATH", ""), ANSIBLE_NOCOLOR="1", ANSIBLE_COLLECTIONS_SCAN_SYS_PATH="false")
    return subprocess.run(["bash", "-ec", cmd], cwd=cwd, env=env, capture_output=True, text=True, timeout=900, check=False)


@pytest.fixture(scope="module")
def tarball(tmp_path_factory):
    out = tmp_path_factory.mktemp("dist")
    built = user(f"ansible-galaxy collection build {REPO_ROOT} --output-path {out}", cwd=str(out))
    assert built.returncode == 0, built.stderr
    (path,) = out.glob("airgap-registry-*.tar.gz")
    return path


@pytest.mark.parametrize("source", ["file", "git"])
def test_install_and_run_from_an_own_project(tarball, tmp_path, sample_tarballs, source):
    section = readme_section()
    blocks = re.findall(r"```yaml\n(.*?)```", section, re.S)
    requirements, own_playbook = yaml.safe_load(blocks[0]), yaml.safe_load(blocks[1])
    project = tmp_path / "my-project"
    project.mkdir()
    (project / "ansible.cfg").write_text("[defaults]\ncollections_path = ./collections\n")
    entry = requirements["collections"][0]
    if source == "file":
        entry["name"] = str(tarball)
    else:  # the commented-out git entry of the README, pointed at this repository's committed tree
        assert "type: git" in blocks[0] and "version: main" in blocks[0]
        entry = {"name": f"git+file://{REPO_ROOT}", "type": "git", "version": "HEAD"}
    (project / "requirements.yml").write_text(yaml.safe_dump({"collections": [entry]}))

    commands = [line.split("  #", 1)[0].strip() for block in re.findall(r"```sh\n(.*?)```", section, re.S)
                for line in block.splitlines() if line.strip()]
    install = user(commands[0], cwd=str(project))
    assert install.returncode == 0, install.stdout + install.stderr
    installed = project / "collections" / "ansible_collections" / "airgap" / "registry"
    assert (installed / "roles" / "registry" / "tasks" / "main.yml").is_file()
    assert (installed / "pyregistry" / "server.py").is_file()
    assert (installed / "playbooks" / "site.yml").is_file()
    if source == "git":
        return  # the same files as from the tarball: the runs below are done once, with the tarball's install

    name = f"own-{os.getpid()}-{source}"
    inventory = {"all": {"children": {"registry_hosts": {"hosts": {"localhost": {
        "ansible_connection": "local", "ansible_python_interpreter": sys.executable, "ansible_become": False,
        "registry_name": name, "registry_port": free_port(), "registry_config_dir": str(tmp_path / "etc"),
        "registry_storage_dir": str(tmp_path / "storage"), "registry_seed_tarballs_dir": str(sample_tarballs),
        "registry_pid_file": str(tmp_path / "run" / "registry.pid"), "registry_log_file": str(tmp_path / "run" / "registry.log"),
        # pyregistry comes from the installed collection, copied to the host as for a remote one
        "registry_pyregistry_install": "copy", "registry_pyregistry_dest": str(tmp_path / "opt"),
        "vault_registry_admin_password": "pw"}}}, "fleet": {"hosts": {}}}}}
    (project / "inventories" / "mysite").mkdir(parents=True)
    (project / "inventories" / "mysite" / "hosts.yml").write_text(yaml.safe_dump(inventory))
    own_playbook[0]["become"] = False
    (project / "my-registry.yml").write_text(yaml.safe_dump(own_playbook, sort_keys=False))

    try:
        planned = user(commands[1], cwd=str(project))
        assert "airgap.registry.site" in commands[1] and "--check" in commands[1]
        assert planned.returncode == 0, planned.stdout[-5000:] + planned.stderr[-2000:]
        assert not os.path.exists(tmp_path / "etc")
        for command in commands[2:]:
            run = user(command + " -v", cwd=str(project))
            assert run.returncode == 0, command + "\n" + run.stdout[-5000:] + run.stderr[-2000:]
            # The roles come from the installed collection, not from this repository.
            assert str(installed / "roles" / "registry") in run.stdout
            assert REPO_ROOT + "/roles" not in run.stdout
        assert (tmp_path / "opt" / "pyregistry" / "server.py").is_file()
    finally:
        user("ansible-playbook -i inventories/mysite my-registry.yml -e registry_state=absent", cwd=str(project))
