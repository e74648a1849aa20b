#!/usr/bin/env bash
# Build the fleet host image `airgap-fleet-host:bookworm` from a Debian rootfs made with debootstrap, without any
# image registry: debootstrap -> tar -> `docker import`. The fleet tests and the molecule `fleet` scenario run one
# container per host from it (network_mode host, sshd on its own 127.0.0.1 port).
# Idempotent: an image whose package label matches is left alone; FLEET_IMAGE_REBUILD=1 forces a rebuild.
set -euo pipefail
image=${FLEET_IMAGE:-airgap-fleet-host:bookworm}
# The Debian mirror this machine's apt already uses (FLEET_MIRROR overrides).
apt_mirror() {
  { grep -hE '^URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '{print $2}'
    grep -hE '^deb ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null | awk '{print $2}'; } |
    grep -E '/debian/?$' | head -1 || true
}
mirror=${FLEET_MIRROR:-$(apt_mirror)}
[ -n "$mirror" ] || { echo "fleet-image: no Debian mirror in apt's sources; set FLEET_MIRROR" >&2; exit 1; }
# python3 + the bundled registry's deps (aiohttp, yaml, bcrypt), the modules' deps on a registry host (cryptography,
# passlib), skopeo for the client, containerd (ctr and a containerd the fleet runtime tests start by hand: the
# hosts have no systemd), openssh-server so Ansible reaches each host over ssh on 127.0.0.1.
# The list is the image's label: a changed list rebuilds the image.
packages=python3,python3-aiohttp,python3-yaml,python3-bcrypt,python3-cryptography,python3-passlib,skopeo,containerd,openssh-server,ca-certificates,procps

if [ -z "${FLEET_IMAGE_REBUILD:-}" ] &&
   [ "$(docker image inspect -f '{{ index .Config.Labels "airgap.fleet.packages" }}' "$image" 2>/dev/null)" = "$packages" ]; then
  echo "fleet-image: $image present"
  exit 0
fi

command -v debootstrap >/dev/null || { apt-get update -qq && apt-get install -y -qq debootstrap >/dev/null; }
work=$(mktemp -d /var/tmp/fleet-rootfs.XXXXXX)
trap '[ -n "${FLEET_KEEP:-}" ] || rm -rf "$work"' EXIT
root=$work/rootfs
debootstrap --variant=minbase bookworm "$root" "$mirror" >"$work/debootstrap.log" 2>&1 || {
  tail -30 "$work/debootstrap.log" >&2
  echo "fleet-image: debootstrap failed (mirror $mirror)" >&2
  exit 1
}
# debootstrap does not resolve virtual packages (skopeo, cryptography need some): apt inside the rootfs does.
cp /etc/resolv.conf "$root/etc/resolv.conf"
printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d" && chmod 0755 "$root/usr/sbin/policy-rc.d"
chroot "$root" apt-get update -qq >"$work/apt.log" 2>&1 &&
  DEBIAN_FRONTEND=noninteractive chroot "$root" apt-get install -y -qq --no-install-recommends ${packages//,/ } >>"$work/apt.log" 2>&1 || {
  tail -30 "$work/apt.log" >&2
  echo "fleet-image: apt-get install in the rootfs failed" >&2
  exit 1
}
chroot "$root" apt-get clean
rm -f "$root/usr/sbin/policy-rc.d"
# sshd: host keys baked in, root login by key only, privilege separation dir present.
chroot "$root" ssh-keygen -A >/dev/null
mkdir -p "$root/run/sshd" "$root/root/.ssh"
chmod 0700 "$root/root/.ssh"
cat >"$root/etc/ssh/sshd_config.d/fleet.conf" <<'CONF'
PermitRootLogin prohibit-password
PasswordAuthentication no
UsePAM no
UseDNS no
CONF
rm -rf "$root/var/cache/apt/archives/"*.deb "$root/var/lib/apt/lists/"*
tar -C "$root" --numeric-owner -cf "$work/rootfs.tar" .
docker import \
  --change "LABEL airgap.fleet.packages=$packages" \
  --change 'CMD ["/bin/bash"]' \
  "$work/rootfs.tar" "$image" >/dev/null
echo "fleet-image: built $image ($(docker image inspect -f '{{.Size}}' "$image") bytes)"
