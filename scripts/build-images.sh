#!/usr/bin/env bash
# Build, without any image registry, the images the tests use:
#   registry:2.8.3  - Debian's docker-registry binary (CNCF Distribution 2.8.x) with libc, docker-imported
#   sample images   - scripts/make_samples.py tarballs, docker-loaded
# Idempotent: an image that exists is left alone.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
image=${REGISTRY_IMAGE:-registry:2.8.3}

if ! docker image inspect "$image" >/dev/null 2>&1; then
  root=$(mktemp -d)
  trap 'rm -rf "$root"' EXIT
  mkdir -p "$root/bin" "$root/etc/docker/registry" "$root/var/lib/registry" "$root/tmp" "$root/etc/ssl/certs"
  install -m 0755 /usr/bin/docker-registry "$root/bin/registry"
  # The binary's shared libraries and loader, at the paths ldd names.
  for lib in $(ldd /usr/bin/docker-registry | grep -oE '/[^ ]+'); do
    mkdir -p "$root$(dirname "$lib")"
    cp -L "$lib" "$root$lib"
  done
  [ -f /etc/ssl/certs/ca-certificates.crt ] && cp /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/"
  cat >"$root/etc/docker/registry/config.yml" <<'YML'
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
  headers:
    X-Content-Type-Options: [nosniff]
health:
  storagedriver:
    enabled: true
    interval: 10s
    threshold: 3
YML
  tar -C "$root" -cf "$root.tar" .
  docker import \
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

samples=${AIRGAP_SAMPLES_DIR:-/var/lib/airgap-test/samples}
python3 "$here/make_samples.py" "$samples" >/dev/null
for tarball in "$samples"/*.tar; do
  ref=$(python3 -c 'import json,sys,tarfile; t=tarfile.open(sys.argv[1]); print(json.load(t.extractfile("manifest.json"))[0]["RepoTags"][0])' "$tarball")
  docker image inspect "$ref" >/dev/null 2>&1 || docker load -q -i "$tarball" >/dev/null
done
echo "build-images: sample images loaded from $samples"
