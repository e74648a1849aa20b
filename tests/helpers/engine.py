"""The Docker engine (docker CLI) and containerd (ctr) as the tests drive them."""
import contextlib
import os
import re
import shutil
import subprocess
import uuid

from tests.conftest import require


def docker_push(image, target):
    """`docker tag` + `docker push`; returns the manifest digest docker reports; the target tag is removed again."""
    subprocess.run(["docker", "tag", image, target], check=True)
    try:
        out = subprocess.run(["docker", "push", target], check=True, capture_output=True, text=True).stdout
    finally:
        subprocess.run(["docker", "rmi", target], check=False, capture_output=True)
    return re.search(r"digest: (sha256:[0-9a-f]{64})", out).group(1)


CONTAINERD_SOCKETS = ("/run/containerd/containerd.sock", "/var/run/docker/containerd/containerd.sock")


@contextlib.contextmanager
def ctr_namespace():
    """Yields the `ctr --address SOCKET -n NAMESPACE` command (a list) for a fresh containerd namespace: containerd of
    its own, else the one dockerd runs.  On exit every image and content blob of the namespace is removed, then the
    namespace.  A missing ctr or containerd socket is a failed precondition (conftest.require)."""
    require(shutil.which("ctr"), "containerd's ctr is not installed")
    sockets = [s for s in CONTAINERD_SOCKETS if os.path.exists(s)]
    require(sockets, "no containerd socket")
    namespace = f"airgap-test-{uuid.uuid4().hex[:8]}"
    ctr = ["ctr", "--address", sockets[0], "-n", namespace]
    try:
        yield ctr
    finally:
        for name in subprocess.run([*ctr, "images", "ls", "-q"], capture_output=True, text=True, check=False).stdout.split():
            subprocess.run([*ctr, "images", "rm", name], check=False, capture_output=True)
        for digest in subprocess.run([*ctr, "content", "ls", "-q"], capture_output=True, text=True, check=False).stdout.split():
            subprocess.run([*ctr, "content", "rm", digest], check=False, capture_output=True)
        subprocess.run([*ctr[:3], "namespaces", "rm", namespace], check=False, capture_output=True)


def ctr_pull_all_platforms(ref):
    """`ctr images pull --all-platforms --plain-http REF` in a fresh namespace (see ctr_namespace); returns the image
    names ctr lists afterwards.  AssertionError with ctr's stderr when the pull fails."""
    with ctr_namespace() as ctr:
        run = subprocess.run([*ctr, "images", "pull", "--all-platforms", "--plain-http", ref], check=False, capture_output=True,
                             text=True, timeout=120)
        assert run.returncode == 0, run.stderr[-2000:]
        return subprocess.run([*ctr, "images", "ls", "-q"], capture_output=True, text=True, check=True).stdout.split()
