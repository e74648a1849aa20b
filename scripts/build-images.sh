#!/usr/bin/env bash
# Build, without any image registry, the images the tests use:
#   registry:2.8.3        - Debian's docker-registry binary (CNCF Distribution 2.8.x) with libc, and Debian's static
#                           busybox (busybox-static) as /bin/busybox for the health probe
#                           (busybox wget http://127.0.0.1:5001/debug/health), docker-imported
#   airgap-nginx:bookworm - Debian's nginx (nginx-light) binary with its libraries, docker-imported (the swarm front)
#   sample images         - scripts/make_samples.py tarballs, docker-loaded
# Idempotent: an image that exists is left alone, unless its content label (airgap.image.content: a hash of
# its config and the Debian package versions it is made from) differs from what this script would build now.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
image=${REGISTRY_IMAGE:-registry:2.8.3}
nginx_image=${NGINX_IMAGE:-airgap-nginx:bookworm}

# copy_binary ROOT SOURCE TARGET: install the host binary SOURCE as ROOT/TARGET with its shared libraries and loader,
# at the paths ldd names.
copy_binary() {
  local root=$1 source=$2 target=$3 lib
  mkdir -p "$root$(dirname "$target")"
  install -m 0755 "$source" "$root$target"
  for lib in $(ldd "$source" | grep -oE '/[^ ]+'); do
    mkdir -p "$root$(dirname "$lib")"
    cp -L "$lib" "$root$lib"
  done
}

# The registry's config: plugins/module_utils/deploy_service.py BASE_CONFIG holds the same settings. http.debug.addr
# serves /debug/health (200, or 503 when the storage driver check fails) on loopback only, for the health probe.
registry_config=$(cat <<'YML'
version: 0.1
log:
  fields:
    service: registry
storage:
  cache:
    blobdescriptor: inmemory
  filesystem:
    rootdirectory: /var/lib/registry
http:
  addr: :5000
  debug:
    addr: 127.0.0.1:5001
  headers:
    X-Content-Type-Options: [nosniff]
health:
  storagedriver:
    enabled: true
    interval: 10s
    threshold: 3
YML
)
label=airgap.image.content
content=$(printf '%s\n' "$registry_config" "$(dpkg-query -W docker-registry busybox-static)" | sha256sum | cut -c1-16)
built=$(docker image inspect --format "{{ index .Config.Labels \"$label\" }}" "$image" 2>/dev/null || true)
if [ "$built" != "$content" ]; then
  [ -x /bin/busybox ] || { echo "build-images: /bin/busybox missing: install busybox-static (scripts/setup-system.sh)" >&2; exit 1; }
  root=$(mktemp -d)
  trap 'rm -rf "$root"' EXIT
  mkdir -p "$root/bin" "$root/etc/docker/registry" "$root/var/lib/registry" "$root/tmp" "$root/etc/ssl/certs"
  copy_binary "$root" /usr/bin/docker-registry /bin/registry
  install -m 0755 /bin/busybox "$root/bin/busybox"
  [ -f /etc/ssl/certs/ca-certificates.crt ] && cp /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/"
  printf '%s\n' "$registry_config" >"$root/etc/docker/registry/config.yml"
  tar -C "$root" -cf "$root.tar" .
  docker import \
    --change "LABEL $label=$content" \
    --change 'ENTRYPOINT ["registry"]' \
    --change 'CMD ["serve", "/etc/docker/registry/config.yml"]' \
    --change 'EXPOSE 5000' \
    --change 'VOLUME ["/var/lib/registry"]' \
    --change 'ENV PATH=/bin' \
    "$root.tar" "$image" >/dev/null
  rm -f "$root.tar"
  echo "build-images: built $image from $(docker-registry --version 2>/dev/null | head -1)"
else
  echo "build-images: $image present"
fi

if ! docker image inspect "$nginx_image" >/dev/null 2>&1; then
  root=$(mktemp -d)
  trap 'rm -rf "$root"' EXIT
  copy_binary "$root" /usr/sbin/nginx /usr/sbin/nginx
  mkdir -p "$root/etc/nginx" "$root/var/lib/nginx/body" "$root/var/lib/nginx/proxy" "$root/var/log/nginx" "$root/run" \
           "$root/var/lock" "$root/tmp" "$root/usr/share/nginx/html"
  # workers run as nobody (nginx's default user); the master reads the config, certificate and key as root first
  printf 'root:x:0:0:root:/root:/bin/false\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$root/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\nnobody:x:65534:\n' >"$root/etc/group"
  chmod 1777 "$root/tmp"
  chown -R 65534:65534 "$root/var/lib/nginx"
  # A placeholder config: the registry_swarm role's front mounts its own nginx.conf (a docker secret) over it.
  cat >"$root/etc/nginx/nginx.conf" <<'CONF'
worker_processes auto;
error_log stderr;
events { worker_connections 1024; }
http {
  access_log off;
  server {
    listen 5000;
    location / { return 404; }
  }
}
CONF
  tar -C "$root" -cf "$root.tar" .
  docker import \
    --change 'ENTRYPOINT ["/usr/sbin/nginx", "-g", "daemon off;"]' \
    --change 'EXPOSE 5000' \
    "$root.tar" "$nginx_image" >/dev/null
  rm -f "$root.tar"
  echo "build-images: built $nginx_image from $(/usr/sbin/nginx -v 2>&1 | head -1)"
else
  echo "build-images: $nginx_image present"
fi

samples=${AIRGAP_SAMPLES_DIR:-/var/lib/airgap-test/samples}
python3 "$here/make_samples.py" "$samples" >/dev/null
for tarball in "$samples"/*.tar; do
  ref=$(python3 -c 'import json,sys,tarfile; t=tarfile.open(sys.argv[1]); print(json.load(t.extractfile("manifest.json"))[0]["RepoTags"][0])' "$tarball")
  docker image inspect "$ref" >/dev/null 2>&1 || docker load -q -i "$tarball" >/dev/null
done
echo "build-images: sample images loaded from $samples"
