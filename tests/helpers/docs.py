"""Commands of a docs page section, run as written (with the page's example inventory path replaced by a test's)."""
import os
import re
import subprocess
import sys

from tests.helpers.registries import REPO_ROOT

BIN = os.path.dirname(sys.executable)


def section_commands(page, title):
    """The lines of the ```sh blocks of the `## title` section of docs/`page`, continuation lines joined."""
    with open(os.path.join(REPO_ROOT, "docs", page)) as fh:
        text = fh.read()
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", text, re.S | re.M)
    assert match, f"docs/{page} has no section '## {title}'"
    commands = []
    for block in re.findall(r"```sh\n(.*?)```", match.group(1), re.S):
        for raw in block.replace("\\\n", " ").splitlines():
            line = raw.split("  #", 1)[0].strip()
            if line and not line.startswith("#"):
                commands.append(line)
    assert commands, f"docs/{page} section '{title}' has no sh commands"
    return commands


def run_as_written(command, inventory=None, env=None, timeout=900):
    """Run one documented command with bash in the repository root, as a user with the venv on PATH would."""
    if inventory:
        command = command.replace("inventories/mysite", inventory)
    run_env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    run_env.update({"PATH": BIN + os.pathsep + run_env.get("PATH", ""), "ANSIBLE_NOCOLOR": "1", **(env or {})})
    return subprocess.run(["bash", "-ec", command], cwd=REPO_ROOT, env=run_env, capture_output=True, text=True,
                          timeout=timeout, check=False)
