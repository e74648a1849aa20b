"""The Docker engine through the real docker CLI, for the tests."""
import re
import subprocess


def docker_push(image, target):
    """`docker tag` + `docker push`; returns the manifest digest docker reports; the target tag is removed again."""
    subprocess.run(["docker", "tag", image, target], check=True)
    try:
        out = subprocess.run(["docker", "push", target], check=True, capture_output=True, text=True).stdout
    finally:
        subprocess.run(["docker", "rmi", target], check=False, capture_output=True)
    return re.search(r"digest: (sha256:[0-9a-f]{64})", out).group(1)
