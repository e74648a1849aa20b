"""wait_v2 names the last network error (not "last status: None"), and DeployError carries the module's extra result."""
import pytest

from ansible_collections.airgap.registry.plugins.module_utils.docker_common import DeployError, v2_probe, wait_v2
from tests.helpers.registries import free_port


def test_wait_v2_names_the_last_network_error():
    port = free_port()
    assert v2_probe(f"http://127.0.0.1:{port}")[0] is None
    with pytest.raises(DeployError) as info:
        wait_v2(f"http://127.0.0.1:{port}", 1)
    msg = str(info.value)
    assert "last status: None" not in msg
    assert "last error: [Errno 111] Connection refused" in msg, msg
    assert info.value.result == {"last_status": None, "last_error": "[Errno 111] Connection refused"}


def test_deploy_error_without_extra_result():
    assert DeployError("plain").result == {}
