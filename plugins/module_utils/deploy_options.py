# Copyright: (c) 2026, airgap.registry contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The argument spec registry_container and registry_swarm_service share (documented once, in doc_fragments/deploy.py),
and the run both modules do: check the parameters, reach the engine, deploy, report."""
from __future__ import annotations

import copy
from typing import Any, Callable, Dict

from ansible_collections.airgap.registry.plugins.module_utils.docker_common import DeployError, DockerException, docker_client, docker_sdk_missing

COMMON_ARGUMENT_SPEC: Dict[str, Dict[str, Any]] = dict(
    name=dict(type="str", default="registry"),
    image=dict(type="str", default="registry:2.8.3"),
    published_port=dict(type="int", default=5000),
    storage_path=dict(type="path"),
    tls_cert=dict(type="path"),
    tls_key=dict(type="path", no_log=False),
    htpasswd_path=dict(type="path"),
    htpasswd_realm=dict(type="str", default="Registry Realm", no_log=False),
    env=dict(type="dict"),
    docker_host=dict(type="str"),
)
REQUIRED_TOGETHER = [("tls_cert", "tls_key")]


def argument_spec(**own: Dict[str, Any]) -> Dict[str, Dict[str, Any]]:
    """The shared options plus a module's own (`wait_timeout` has each module's default)."""
    spec = copy.deepcopy(COMMON_ARGUMENT_SPEC)
    spec.update(own)
    return spec


def run_deploy(module: Any, deploy: Callable[[Any, Dict[str, Any], bool], Dict[str, Any]]) -> None:
    """Check the shared parameters, deploy through the engine with `deploy(client, params, check_mode)`, exit or fail."""
    docker_sdk_missing(module)
    if not 0 < module.params["published_port"] < 65536:
        module.fail_json(msg=f"published_port must be between 1 and 65535, got {module.params['published_port']}")
    try:
        client = docker_client(module.params["docker_host"])
        result = deploy(client, module.params, module.check_mode)
    except DeployError as exc:
        module.fail_json(msg=str(exc), **exc.result)
    except DockerException as exc:
        module.fail_json(msg=f"Docker engine error: {exc}")
    module.exit_json(**result)
