"""Reading ansible-playbook runs for the fleet and role tests: the default stdout callback with one-line JSON results,
parsed into per-host stats and task results (ansible-core 2.19 has no built-in json callback). Its own tests run
tiny real playbooks on localhost."""
import json
import re

from tests.helpers.ansible import run_playbook

# The default callback, verbose (so every result is printed), with one-line JSON results: parsed by Run below, whatever stdout callback the harness picks.
CALLBACK_ENV = {"ANSIBLE_STDOUT_CALLBACK": "default", "ANSIBLE_CALLBACK_RESULT_FORMAT": "json",
                "ANSIBLE_CALLBACK_FORMAT_PRETTY": "false", "ANSIBLE_DISPLAY_SKIPPED_HOSTS": "true", "ANSIBLE_NOCOLOR": "1",
                "ANSIBLE_VERBOSITY": "1"}
RESULT_LINE = re.compile(r"^(ok|changed|fatal|failed|skipping): \[([^\]]+)\]")
RECAP_LINE = re.compile(r"^(\S+)\s+: ((?:\w+=\d+\s*)+)$")


class Run:
    """One ansible-playbook run, parsed from the default callback's output: per-host stats and task results."""

    def __init__(self, res):
        self.rc = res.rc
        self.stdout = res.stdout
        self.stderr = res.stderr
        self.stats = {}
        self.results = []  # (task name without role prefix, host, status, result dict)
        task = None
        in_recap = False
        for line in res.stdout.splitlines():
            if line.startswith("TASK ["):
                task = line[6:line.rindex("]")].split(" : ", 1)[-1]
            elif line.startswith("PLAY RECAP"):
                in_recap = True
            elif in_recap and RECAP_LINE.match(line.strip()):
                host, counts = RECAP_LINE.match(line.strip()).groups()
                self.stats[host] = {k: int(v) for k, v in (kv.split("=") for kv in counts.split())}
            else:
                m = RESULT_LINE.match(line)
                if m and "{" in line:
                    data, _end = json.JSONDecoder().raw_decode(line[line.index("{", m.end()):])
                    self.results.append((task, m.group(2).split(" -> ")[0], m.group(1), data))

    def changed(self, host=None):
        return sum(s.get("changed", 0) for h, s in self.stats.items() if host in (None, h))

    def failures(self):
        """{host: msg} of the tasks that failed (not rescued tasks inside blocks: the last failure of each host)."""
        return {host: data.get("msg", "") for _task, host, status, data in self.results if status in ("fatal", "failed")}

    def result(self, task, host):
        """The last result of `task` on `host`."""
        found = [data for name, h, _status, data in self.results if name == task and h == host]
        if not found:
            raise KeyError(f"no result of {task!r} on {host}")
        return found[-1]


def play(playbook, inventory, **kwargs):
    """run_playbook with the parsable callback; returns a Run."""
    return Run(run_playbook(playbook, inventory=inventory, env=CALLBACK_ENV, **kwargs))


def test_parses_results_stats_and_failures():
    run = play([{"name": "p", "hosts": "localhost", "gather_facts": False, "tasks": [
        {"name": "Say", "ansible.builtin.debug": {"msg": ["a", "b => {c}"]}},
        {"name": "Touch", "ansible.builtin.command": "true", "changed_when": True},
        {"name": "Loop", "ansible.builtin.debug": {"msg": "{{ item }}"}, "loop": [1, 2]},
        {"name": "Boom", "ansible.builtin.fail": {"msg": "it broke: fix X"}},
    ]}], "localhost,")
    assert run.rc == 2
    assert run.result("Say", "localhost")["msg"] == ["a", "b => {c}"]
    assert [d["msg"] for name, _h, _s, d in run.results if name == "Loop"] == [1, 2]
    assert run.failures() == {"localhost": "it broke: fix X"}
    assert run.stats["localhost"]["changed"] == 1 and run.stats["localhost"]["failed"] == 1
    assert run.changed() == 1 and run.changed("elsewhere") == 0


def test_a_clean_run():
    run = play([{"name": "p", "hosts": "localhost", "gather_facts": False, "tasks": [
        {"name": "Say", "ansible.builtin.debug": {"msg": "hi"}}]}], "localhost,")
    assert run.rc == 0 and run.failures() == {} and run.changed() == 0
    assert run.results[-1][0] == "Say"
