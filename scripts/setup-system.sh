#!/usr/bin/env bash
# Install the Debian packages the test suite needs, when they are missing. Idempotent.
set -euo pipefail
need=()
for pair in dockerd:docker.io docker-registry:docker-registry skopeo:skopeo htpasswd:apache2-utils \
            curl:curl jq:jq openssl:openssl wrk:wrk hey:hey debootstrap:debootstrap rsync:rsync ssh:openssh-client \
            nginx:nginx-light; do
  cmd=${pair%%:*} pkg=${pair#*:}
  command -v "$cmd" >/dev/null 2>&1 || [ -x "/usr/sbin/$cmd" ] || need+=("$pkg")
done
# pyregistry on Debian's own Python (what fleet hosts run): its libraries as Debian packages; busybox-static: the
# registry image's health probe (scripts/build-images.sh).
for pkg in python3-aiohttp python3-yaml python3-bcrypt busybox-static; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
  echo "setup-system: installing ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
echo "setup-system: all packages present"
