"""Single-node swarm for the tests: make it active, remove a test's service and its labelled secrets."""
import subprocess
import time

SERVICE_LABEL = "airgap.registry.service"


def ensure_swarm(client):
    """Initialise a single-node swarm when none is active (it is left active: others use it too)."""
    if client.info()["Swarm"]["LocalNodeState"] != "active":
        subprocess.run(["docker", "swarm", "init", "--advertise-addr", "127.0.0.1"], check=True, capture_output=True)


def remove_service(client, name):
    """Remove service `name` and the secrets labelled with it (retrying while a task shutting down still holds them)."""
    for service in client.services.list(filters={"name": name}):
        if service.name == name:
            service.remove()
    for secret in client.secrets.list(filters={"label": f"{SERVICE_LABEL}={name}"}):
        for _ in range(60):
            try:
                secret.remove()
                break
            except Exception:  # noqa: BLE001 - still held by a task shutting down
                time.sleep(0.5)
