"""The seed's plan, survey and direct transport apart, against a fake registry client (no network)."""
import hashlib
import json
import os
import subprocess
import sys
import threading

import pytest

from ansible_collections.airgap.registry.plugins.module_utils.seed import Seeder
from ansible_collections.airgap.registry.plugins.module_utils.seed_plan import BlobKey, load_plan
from ansible_collections.airgap.registry.plugins.module_utils.seed_report import NullProgress, TargetResult
from ansible_collections.airgap.registry.plugins.module_utils.seed_transfer import DirectTransport, survey
from tests.helpers.registries import REPO_ROOT

OPTS = {"registry": "reg:5000", "layers": "preserve", "hub_library": False, "rename": None}


@pytest.fixture(scope="module")
def samples(tmp_path_factory):
    out = tmp_path_factory.mktemp("split-samples")
    subprocess.run([sys.executable, os.path.join(REPO_ROOT, "scripts", "make_samples.py"), str(out)], check=True, capture_output=True)
    return out


class FakeClient:
    """Answers like a registry holding `manifests` ({(repo, tag): body}) and `blobs` ({(repo, digest): size})."""

    def __init__(self, manifests=None, blobs=None):
        self.manifests = dict(manifests or {})
        self.blobs = dict(blobs or {})
        self.calls = []
        self.lock = threading.Lock()

    def _call(self, *what):
        with self.lock:
            self.calls.append(what)

    def head_manifest(self, repo, tag):
        self._call("head_manifest", repo, tag)
        body = self.manifests.get((repo, tag))
        return None if body is None else {"digest": "sha256:" + hashlib.sha256(body).hexdigest(), "media_type": "x", "size": len(body)}

    def get_manifest(self, repo, ref):
        self._call("get_manifest", repo, ref)
        body = next(b for (r, _t), b in self.manifests.items() if r == repo and "sha256:" + hashlib.sha256(b).hexdigest() == ref)
        return body, "x", ref

    def blob_size(self, repo, digest):
        self._call("blob_size", repo, digest)
        return self.blobs.get((repo, digest))

    def mount_blob(self, repo, digest, from_repo=None):
        self._call("mount_blob", repo, digest)
        return False

    def put_manifest(self, repo, tag, body, media_type):
        self._call("put_manifest", repo, tag)
        self.manifests[(repo, tag)] = body
        return "sha256:" + hashlib.sha256(body).hexdigest()


def test_plan_lists_each_blob_once(samples):
    plan = load_plan({**OPTS, "src": [str(samples)]})
    plan.schedule_blobs()
    assert len(plan.targets) == 3
    shared = [key for key, targets in plan.waiting.items() if len(targets) == 3]
    assert len(shared) == 1 and shared[0].kind == "layer" and shared[0].want == "none"
    assert sum(1 for key in plan.jobs if key.kind == "config") == 3
    assert all(isinstance(key, BlobKey) and plan.jobs[key].key == key for key in plan.jobs)


def test_survey_of_an_up_to_date_registry_is_one_head_per_target(samples):
    plan = load_plan({**OPTS, "src": [str(samples)]})
    manifests = {(t.repo, t.tag): plan.planned_manifest(t.image)[0] for t in plan.targets}
    client = FakeClient(manifests)
    survey(client, plan, 2, threading.Event())
    assert sorted(c[0] for c in client.calls) == ["head_manifest"] * 3
    assert not any(t.push for t in plan.targets)
    assert all(t.result.digest == t.existing for t in plan.targets)
    assert len(plan.known) == 5  # the shared base layer, abox 1, busyish 2, nginx 1
    DirectTransport(client, {"check_mode": False, "parallel": 2}, NullProgress(), threading.Event()).transfer(plan)
    assert len(client.calls) == 3 and plan.jobs == {}


def test_direct_check_mode_counts_what_would_be_sent(samples):
    plan = load_plan({**OPTS, "src": [str(samples / "abox_1.0.1.tar")]})
    client = FakeClient()
    done = []

    class Seen(NullProgress):
        def target_done(self, result):
            done.append(result)
    survey(client, plan, 1, threading.Event())
    DirectTransport(client, {"check_mode": True, "parallel": 1, "chunk_size": None}, Seen(), threading.Event()).transfer(plan)
    (result,) = done
    assert isinstance(result, TargetResult) and result.changed and result.blobs_pushed == 3
    assert result.bytes_to_send == sum(job.size for job in plan.jobs.values()) and result.bytes_sent == 0
    assert not any(c[0] == "put_manifest" for c in client.calls)
    assert result.as_dict()["bytes_to_send"] == result.bytes_to_send


def test_the_observer_hears_the_target_count(samples):
    counts = []

    class Count(NullProgress):
        def targets_planned(self, count):
            counts.append(count)
    seeder = Seeder({"src": [str(samples)], "registry": "reg:5000"}, Count())
    seeder.load()
    seeder.load()
    assert counts == [3]


def test_manifest_of_a_legacy_tarball_is_docker_schema_2(samples):
    plan = load_plan({**OPTS, "src": [str(samples / "abox_1.0.1.tar")]})
    (target,) = plan.targets
    body, media_type = plan.planned_manifest(target.image)
    doc = json.loads(body)
    assert media_type == doc["mediaType"] == "application/vnd.docker.distribution.manifest.v2+json"
    assert doc["config"]["digest"] == target.image.config_digest
    assert [layer["digest"] for layer in doc["layers"]] == [layer.digest for layer in target.image.layers]
