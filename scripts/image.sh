#!/usr/bin/env bash
# image.sh: build the local test image vic-busybox:test, since no registry is reachable here.
# Its rootfs holds Debian's static busybox with its applet links, a web root /www for
# `httpd -h /www`, and vic-peer, a small static Go tool for TCP and UDP checks that busybox's nc
# cannot do (no UDP, no peer address). vic-peer is also left in bin/ for use on the host, in the
# testbed's namespaces. Idempotent: an existing image is kept.
#
#   scripts/image.sh            build vic-busybox:test unless it exists
#   scripts/image.sh --force    build it again
#
# vic-peer (scripts/vic-peer) says what it does in its package comment.
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"
cd "$VIC_ROOT"

image=${VIC_IMAGE:-vic-busybox:test}
force=
case ${1:-} in
--force) force=1 ;;
'') ;;
*) die "usage: scripts/image.sh [--force]" ;;
esac

busybox=/bin/busybox
[ -x "$busybox" ] || die "$busybox is missing: install busybox-static (scripts/setup.sh does)"
file -L "$busybox" 2>/dev/null | grep -q 'dynamically linked' && die "$busybox is not static: install busybox-static"

mkdir -p bin
# Always: go's build cache makes it instant when scripts/vic-peer has not changed.
CGO_ENABLED=0 go build -trimpath -ldflags '-s -w' -o bin/vic-peer ./scripts/vic-peer

if [ -z "$force" ] && docker image inspect "$image" >/dev/null 2>&1; then
	say "image.sh: $image is there"
	exit 0
fi

root=$(mktemp -d "${TMPDIR:-/tmp}/vic-image.XXXXXX")
trap 'rm -rf "$root"' EXIT
mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,etc,tmp,www,proc,sys,dev,root}
chmod 1777 "$root/tmp"
cp "$busybox" "$root/bin/busybox"
cp bin/vic-peer "$root/bin/vic-peer"
# Every applet as a link to /bin/busybox, where busybox itself would install it.
"$busybox" --list-full | while read -r applet; do
	[ -e "$root/$applet" ] || ln -s /bin/busybox "$root/$applet"
done
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' >"$root/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' >"$root/etc/group"
printf 'hello from vic-busybox\n' >"$root/www/index.html"
tar -C "$root" -c . | docker import -c 'CMD ["sh"]' -c 'ENV PATH=/bin:/sbin:/usr/bin:/usr/sbin' - "$image" >/dev/null
say "image.sh: built $image"
