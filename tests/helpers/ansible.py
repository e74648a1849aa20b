"""Run real Ansible (ansible-playbook with the harness's airgap_json stdout callback) against localhost from tests."""
import json
import os
import subprocess
import sys
import tempfile

import yaml

from tests.helpers.registries import REPO_ROOT

BIN = os.path.dirname(sys.executable)


class PlaybookResult:
    """Parsed output of one ansible-playbook run."""

    def __init__(self, proc, data):
        self.rc = proc.returncode
        self.stdout = proc.stdout
        self.stderr = proc.stderr
        self.data = data

    @property
    def hosts(self):
        """The hosts in the play recap, sorted."""
        return sorted(self.data.get("stats", {}))

    def stats_for(self, host):
        """The recap counts of `host` (ok, changed, failures, unreachable, skipped, rescued, ignored)."""
        return self.data.get("stats", {}).get(host, {})

    def changed_on(self, host):
        return self.stats_for(host).get("changed", 0)

    @property
    def stats(self):
        return self.stats_for("localhost")

    @property
    def changed(self):
        return self.changed_on("localhost")

    @property
    def failed(self):
        return self.stats.get("failures", 0) + self.stats.get("unreachable", 0) or (self.rc != 0)

    def tasks(self, host="localhost"):
        """[(task name, result for `host`)] in order; a role's task name carries the `role : ` prefix."""
        return [(task["task"]["name"], task["hosts"].get(host, {}))
                for play in self.data.get("plays", []) for task in play.get("tasks", [])]

    def result(self, name=None, host="localhost"):
        """The result on `host` of the (last) task named `name`, with or without its role prefix (default: the last task)."""
        tasks = self.tasks(host)
        if name is None:
            return tasks[-1][1]
        found = [res for full, res in tasks if name in (full, full.split(" : ", 1)[-1])]
        if not found:
            raise KeyError(f"no task {name!r} in {[t for t, _ in tasks]}")
        return ([res for res in found if res] or found)[-1]

    def failures(self):
        """{host: msg} of the last failed (or unreachable) task of each host; a loop gives the msg of its last failed item."""
        msgs = {}
        for play in self.data.get("plays", []):
            for task in play.get("tasks", []):
                for host, res in task["hosts"].items():
                    if res.get("failed") or res.get("unreachable"):
                        items = [item for item in res.get("results") or [] if isinstance(item, dict) and item.get("failed")]
                        msgs[host] = (items[-1] if items else res).get("msg", "")
        return msgs


def run_playbook(playbook, extra_vars=None, *, check=False, diff=False, inventory=None, env=None, timeout=900):
    """Run `playbook` (a path, or a list of plays to write out) against localhost; return a PlaybookResult."""
    with tempfile.TemporaryDirectory() as tmp:
        if not isinstance(playbook, str):
            path = os.path.join(tmp, "play.yml")
            with open(path, "w") as fh:
                yaml.safe_dump(playbook, fh, sort_keys=False)
            playbook = path
        cmd = [os.path.join(BIN, "ansible-playbook"), playbook, "-i", inventory or "localhost,", "-c", "local"]
        if extra_vars:
            vars_path = os.path.join(tmp, "vars.json")
            with open(vars_path, "w") as fh:
                json.dump(extra_vars, fh)
            cmd += ["-e", "@" + vars_path]
        if check:
            cmd.append("--check")
        if diff:
            cmd.append("--diff")
        run_env = {
            **os.environ,
            "ANSIBLE_STDOUT_CALLBACK": "airgap_json",
            "ANSIBLE_CALLBACK_PLUGINS": os.path.join(REPO_ROOT, "tests", "helpers", "callback_plugins"),
            "ANSIBLE_COLLECTIONS_PATH": os.path.join(REPO_ROOT, ".venv", "collections"),
            "ANSIBLE_ROLES_PATH": os.path.join(REPO_ROOT, "roles"),
            "ANSIBLE_PYTHON_INTERPRETER": sys.executable,
            "ANSIBLE_LOCALHOST_WARNING": "false",
            "ANSIBLE_INVENTORY_UNPARSED_WARNING": "false",
            "ANSIBLE_NOCOLOR": "1",
            **(env or {}),
        }
        proc = subprocess.run(cmd, check=False, capture_output=True, text=True, env=run_env, cwd=REPO_ROOT, timeout=timeout)
    try:
        data = json.loads(proc.stdout[proc.stdout.index("{"):])
    except ValueError:
        data = {}
    return PlaybookResult(proc, data)


def failed(result):
    """Whether a task result is a failure: `failed`, or the `msg` the collection's modules set only on failure."""
    return bool(result.get("failed") or "msg" in result)


def run_module(module, args, check=False, diff=False, env=None):
    """Run one module as a single task on localhost; return (task result dict, PlaybookResult)."""
    play = [{"name": "t", "hosts": "localhost", "gather_facts": False,
             "tasks": [{"name": "module", module: args, "register": "out", "ignore_errors": True}]}]
    res = run_playbook(play, check=check, diff=diff, env=env)
    return res.result("module"), res
