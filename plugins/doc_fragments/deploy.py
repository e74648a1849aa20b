# Copyright: (c) 2026, airgap.registry contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Options shared by registry_container and registry_swarm_service (see deploy_options.COMMON_ARGUMENT_SPEC)."""
from __future__ import annotations


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  name:
    description: Name of the container or service; a service's secrets are named after it too.
    type: str
    default: registry
  image:
    description:
      - Registry image. It must be present in the Docker engine (on the nodes, for a service) unless registry_container
        is asked to pull it.
      - Distribution 3.x images (by their C(org.opencontainers.image.version) label, else their tag) read their config
        from C(/etc/distribution/config.yml), older ones from C(/etc/docker/registry/config.yml).
    type: str
    default: registry:2.8.3
  published_port:
    description: Port the registry is published on.
    type: int
    default: 5000
  storage_path:
    description:
      - Host directory bind-mounted at C(/var/lib/registry); created when missing (for a service, when it runs on the
        local node).
    type: path
  tls_cert:
    description:
      - Host path of the server certificate (PEM). A container mounts it read-only at C(/certs/tls.crt); a service gets
        it as the secret C(<name>-cert-<sha256[:12]>) mounted at C(/run/secrets/tls.crt).
    type: path
  tls_key:
    description:
      - Host path of the server private key (PEM). A container mounts it read-only at C(/certs/tls.key); a service gets
        it as the secret C(<name>-key-<sha256[:12]>) mounted at C(/run/secrets/tls.key).
    type: path
  htpasswd_path:
    description:
      - Host path of a bcrypt htpasswd file; turns on htpasswd authentication. A container mounts it read-only at
        C(/auth/htpasswd); a service gets it as the secret C(<name>-htpasswd-<sha256[:12]>) mounted at
        C(/run/secrets/htpasswd), so that a changed file rolls the service like a rotated certificate.
    type: path
  htpasswd_realm:
    description: Realm of the htpasswd authentication.
    type: str
    default: Registry Realm
  env:
    description: Extra environment of the registry, normally C(REGISTRY_*) settings.
    type: dict
  docker_host:
    description:
      - Docker engine address (for example C(unix:///var/run/docker.sock)), of a manager for a service; default from
        C(DOCKER_HOST) or the local socket.
    type: str
"""
