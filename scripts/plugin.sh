#!/usr/bin/env bash
# plugin.sh: build the vic drivers as a Docker managed (v2) plugin, the form Swarm mode accepts,
# in bin/plugin/ (make plugin). Offline: no registry, no image pull.
#
#   scripts/plugin.sh [DIR]      assemble DIR (default bin/plugin): config.json and rootfs/
#
# rootfs/ holds the static vic-endpoint, whose `plugin` mode is the entrypoint (it maps the
# plugin's settings to its flags: endpoint/cmd/vic-endpoint/plugin.go), and iptables-nft with
# its libraries and extensions, copied from this machine's Debian (vic-endpoint runs
# iptables-save and iptables-restore). That iptables layer is cached under
# $VIC_PLUGIN_CACHE (default /var/cache/docker-vic/plugin), keyed by the iptables package's
# version. config.json declares:
#   - the network and IPAM driver interfaces on vic.sock, host networking, the capabilities the
#     daemon uses (links, nftables and iptables, entering containers' namespaces, DHCP's raw
#     sockets);
#   - mounts: Docker's socket and its exec root /run/docker (its netns/, made at the first
#     container, holds the sandbox keys Docker sends; Docker's own mount of the plugin's socket
#     directory covers /run/docker/plugins), the state directory (host /var/lib/docker-vic, settable `state.source`) so
#     that the state outlives plugin upgrades and engine restarts, and a read-only configuration
#     directory (host /etc/docker-vic, settable `config.source`) for the credentials file or a
#     VCH document;
#   - the settings, as environment: VIC_VCH, VIC_TARGET, VIC_DATACENTER, VIC_THUMBPRINT,
#     VIC_INSECURE, VIC_CREDENTIALS, VIC_CONFIG, VIC_UPLINKS, VIC_LOG_LEVEL, VIC_DRIVER_NAME,
#     VIC_SWARM.
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"
cd "$VIC_ROOT"

OUT=${1:-$VIC_ROOT/bin/plugin}
CACHE=${VIC_PLUGIN_CACHE:-/var/cache/docker-vic/plugin}
VERSION=${VERSION:-0.1.0-dev}
XTABLES=/usr/sbin/xtables-nft-multi
EXTENSIONS=/usr/lib/x86_64-linux-gnu/xtables

[ -x "$XTABLES" ] || die "$XTABLES is missing: install iptables (scripts/setup.sh does)"
[ -d "$EXTENSIONS" ] || die "$EXTENSIONS is missing: the iptables package is incomplete"

# libraries FILE...: the shared libraries FILEs load, the dynamic loader included.
libraries() {
	ldd "$@" | awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// && $2 ~ /^\(/ {print $1}' | sort -u
}

# build_iptables DIR: iptables-nft, its extensions and their libraries, laid out as in Debian
# (merged /usr).
build_iptables() {
	local dir=$1 lib cmd
	mkdir -p "$dir/usr/sbin" "$dir/usr/lib/x86_64-linux-gnu" "$dir/usr/lib64" "$dir/etc"
	cp "$XTABLES" "$dir/usr/sbin/"
	for cmd in iptables iptables-save iptables-restore ip6tables ip6tables-save ip6tables-restore; do
		ln -s xtables-nft-multi "$dir/usr/sbin/$cmd"
	done
	cp -r "$EXTENSIONS" "$dir/usr/lib/x86_64-linux-gnu/"
	for lib in $(libraries "$XTABLES" "$EXTENSIONS"/*.so); do
		case $lib in
		*/ld-linux-x86-64.so.*) cp -L "$lib" "$dir/usr/lib64/${lib##*/}" ;;
		*) cp -L "$lib" "$dir/usr/lib/x86_64-linux-gnu/${lib##*/}" ;;
		esac
	done
	# Protocol and ether type names that rules may use.
	cp /etc/protocols /etc/ethertypes "$dir/etc/"
}

version=$(dpkg-query -W -f='${Version}' iptables 2>/dev/null || echo unknown)
layer=$CACHE/iptables-$version
if [ ! -f "$layer/.done" ]; then
	say "plugin: copying iptables $version from this machine into $layer"
	rm -rf "$layer"
	mkdir -p "$layer"
	build_iptables "$layer"
	touch "$layer/.done"
fi

say "plugin: building the static vic-endpoint"
mkdir -p bin
CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=$VERSION" -o bin/vic-endpoint-static ./endpoint/cmd/vic-endpoint

rm -rf "$OUT"
root=$OUT/rootfs
mkdir -p "$root"
cp -a "$layer/." "$root/"
rm -f "$root/.done"
ln -s usr/sbin "$root/sbin"
ln -s usr/lib "$root/lib"
ln -s usr/lib64 "$root/lib64"
mkdir -p "$root"/{run/docker/plugins,proc,sys,dev,tmp,etc/docker-vic,var/lib/vic}
ln -s ../run "$root/var/run"
chmod 1777 "$root/tmp"
install -m 0755 bin/vic-endpoint-static "$root/vic-endpoint"
printf 'root:x:0:0:root:/:/vic-endpoint\n' >"$root/etc/passwd"
printf 'root:x:0:\n' >"$root/etc/group"
# The check that the copied iptables runs with the copied libraries only.
"$root/lib64/ld-linux-x86-64.so.2" --library-path "$root/usr/lib/x86_64-linux-gnu" "$root/usr/sbin/xtables-nft-multi" iptables --version >/dev/null ||
	die "the copied iptables does not run with its copied libraries"

# The description carries the version and a digest of the rootfs (paths, types, modes, link
# targets and contents), so that an engine can tell another build of the same version: the
# appliance replaces an installed plugin whose description differs from its own.
digest=$( (cd "$root" && find . -printf '%P %y %m %l\n' | LC_ALL=C sort && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum) | sha256sum | cut -c1-12)
cat >"$OUT/config.json" <<EOF
{
  "description": "docker-vic: the vic network and IPAM drivers of a VCH endpoint ($VERSION, rootfs $digest)",
  "documentation": "https://github.com/docker-vic/docker-vic#the-drivers-as-a-managed-plugin",
  "entrypoint": ["/vic-endpoint", "plugin"],
  "workdir": "/",
  "interface": {
    "types": ["docker.networkdriver/1.0", "docker.ipamdriver/1.0"],
    "socket": "vic.sock"
  },
  "network": {"type": "host"},
  "linux": {
    "capabilities": ["CAP_NET_ADMIN", "CAP_SYS_ADMIN", "CAP_NET_RAW", "CAP_NET_BIND_SERVICE"]
  },
  "mounts": [
    {"name": "docker", "description": "the Docker engine's API socket",
     "source": "/run/docker.sock", "destination": "/run/docker.sock", "type": "bind", "options": ["bind"]},
    {"name": "exec-root", "description": "the engine's exec root: its netns/ holds the sandbox keys Docker sends (made at the first container)",
     "source": "/run/docker", "destination": "/run/docker", "type": "bind", "options": ["rbind", "rslave"]},
    {"name": "state", "description": "the drivers' state, kept on the host across upgrades and restarts",
     "settable": ["source"],
     "source": "/var/lib/docker-vic", "destination": "/var/lib/vic", "type": "bind", "options": ["rbind", "rw"]},
    {"name": "config", "description": "read-only: the vSphere credentials file, or a VCH document for VIC_CONFIG",
     "settable": ["source"],
     "source": "/etc/docker-vic", "destination": "/etc/docker-vic", "type": "bind", "options": ["rbind", "ro"]}
  ],
  "env": [
    {"name": "VIC_VCH", "description": "the VCH this endpoint serves", "settable": ["value"], "value": ""},
    {"name": "VIC_TARGET", "description": "the vSphere URL, without the login", "settable": ["value"], "value": ""},
    {"name": "VIC_DATACENTER", "description": "the VCH's datacenter", "settable": ["value"], "value": ""},
    {"name": "VIC_THUMBPRINT", "description": "the vSphere certificate's thumbprint", "settable": ["value"], "value": ""},
    {"name": "VIC_INSECURE", "description": "true: do not verify the vSphere certificate", "settable": ["value"], "value": "false"},
    {"name": "VIC_CREDENTIALS", "description": "root-only file of the vSphere login, in the config mount", "settable": ["value"], "value": "/etc/docker-vic/credentials"},
    {"name": "VIC_CONFIG", "description": "instead of vSphere: a VCH document (docker vic inspect --format json) in the config mount", "settable": ["value"], "value": ""},
    {"name": "VIC_UPLINKS", "description": "PORTGROUP=INTERFACE pairs, comma-separated, overriding MAC matching", "settable": ["value"], "value": ""},
    {"name": "VIC_LOG_LEVEL", "description": "debug, info or warn", "settable": ["value"], "value": "info"},
    {"name": "VIC_DRIVER_NAME", "description": "the name this plugin is installed as, with its tag", "settable": ["value"], "value": "vic:latest"},
    {"name": "VIC_SWARM", "description": "true: this engine is a swarm node and vic networks have swarm scope", "settable": ["value"], "value": "false"}
  ]
}
EOF

say "plugin: built $OUT ($(du -sh "$OUT" | cut -f1))"
say "install it on each Docker engine of the VCH:"
say "  docker plugin create vic:latest $OUT"
say "  docker plugin set vic:latest VIC_VCH=NAME VIC_TARGET=URL VIC_THUMBPRINT=SHA1   # credentials: /etc/docker-vic/credentials"
say "  docker plugin enable vic:latest"
say "  docker network create -d vic:latest --ipam-driver vic:latest NAME"
