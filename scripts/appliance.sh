#!/usr/bin/env bash
# appliance.sh: build bin/appliance.iso, the boot image of a VCH's endpoint VM.
#
#   scripts/appliance.sh [OUT.iso]       (make appliance)
#
# Two layers, each cached under $VIC_APPLIANCE_CACHE (default /var/cache/docker-vic/appliance):
#   root  Debian bookworm from appliance/packages.list (mmdebstrap, minbase), slimmed, as a zstd
#         squashfs, with the kernel and the few modules the initramfs needs to find it. Keyed by
#         the package list and the recipe below: built once, then offline. The .debs are kept
#         too, so a rebuild downloads only what changed.
#   iso   isolinux, the kernel, an initramfs holding vic-init (its stage 1 mounts the CD, the
#         squashfs and an overlay on tmpfs, then switches root), and on the CD the squashfs with
#         vic-init and vic-endpoint next to it. Keyed by the root and the two static binaries, so
#         it is rebuilt only when the list or the Go code changed.
# Downloads retry: the package mirrors can be unreachable for minutes.
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"

OUT=${1:-$VIC_ROOT/bin/appliance.iso}
CACHE=${VIC_APPLIANCE_CACHE:-/var/cache/docker-vic/appliance}
LIST=$VIC_ROOT/appliance/packages.list
SOURCES=${VIC_APPLIANCE_SOURCES:-/etc/apt/sources.list.d/debian.sources}
VERSION=${VERSION:-0.1.0-dev}
# The initramfs loads these (and what they depend on) to reach the squashfs on the CD. The cloud
# kernel has no AHCI: the CD drive must be on the IDE controller (PIIX), as qemu's pc machine
# and vSphere's default CD-ROM put it.
STAGE1_MODULES=(ata_piix ata_generic sr_mod isofs loop squashfs overlay)

# packages: the names in the list, comma-separated.
packages() { sed -e 's/#.*//' -e 's/[[:space:]]//g' "$LIST" | grep -v '^$' | paste -sd, -; }

# retry N CMD...: run CMD up to N times, waiting longer after each failure.
retry() {
	local n=$1 i
	shift
	for ((i = 1; ; i++)); do
		"$@" && return 0
		[ "$i" -ge "$n" ] && return 1
		say "appliance: attempt $i of $n failed; retrying in $((i * 20)) s"
		sleep $((i * 20))
	done
}

# build_root DIR: the slimmed Debian root in DIR/root, then its squashfs, kernel and stage-1
# modules in DIR. The .debs are synced with $CACHE/debs.
build_root() {
	local dir=$1 root=$1/root kver m
	mkdir -p "$CACHE/debs"
	retry 5 mmdebstrap --variant=minbase --mode=root --include="$(packages)" \
		--aptopt='Acquire::Retries "5"' --aptopt='Acquire::http::Timeout "30"' \
		--dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-include=/usr/share/doc/*/copyright' \
		--dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/info/*' \
		--dpkgopt='path-exclude=/usr/share/locale/*' --dpkgopt='path-exclude=/usr/share/lintian/*' \
		--setup-hook='mkdir -p "$1"/var/cache/apt/archives' \
		--setup-hook="sync-in $CACHE/debs /var/cache/apt/archives/" \
		--customize-hook="sync-out /var/cache/apt/archives $CACHE/debs" \
		--skip=cleanup/apt/cache \
		bookworm "$root" "$SOURCES" || die "mmdebstrap failed 5 times: is the Debian mirror reachable?"
	rm -f "$CACHE"/debs/lock && rm -rf "$CACHE"/debs/partial

	kver=$(basename "$(ls -d "$root"/lib/modules/*)")
	cp "$root/boot/vmlinuz-$kver" "$dir/vmlinuz"
	# The modules of stage 1, in load order, paths relative to /lib/modules/KVER.
	mkdir -p "$dir/modules"
	: >"$dir/modules/order"
	for m in "${STAGE1_MODULES[@]}"; do
		chroot "$root" modprobe -S "$kver" --show-depends "$m" >"$dir/deps" || die "kernel $kver has no module $m"
		while read -r verb path _; do
			[ "$verb" = insmod ] || continue
			path=${path#"/lib/modules/$kver/"}
			grep -qxF "$path" "$dir/modules/order" && continue
			mkdir -p "$dir/modules/$(dirname "$path")"
			cp "$root/lib/modules/$kver/$path" "$dir/modules/$path"
			echo "$path" >>"$dir/modules/order"
		done <"$dir/deps"
	done
	rm "$dir/deps"
	chroot "$root" dpkg-query -W -f='${Package} ${Version}\n' >"$dir/manifest"

	# Slim: no kernel or initrd in the root (they are on the CD), no apt lists, caches or logs.
	rm -rf "$root"/boot/* "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/* "$root"/var/cache/debconf/*-old \
		"$root"/var/log/* "$root"/usr/share/doc/* "$root"/usr/share/man "$root"/usr/share/locale/* \
		"$root"/tmp/* "$root"/etc/machine-id
	# busybox offers sh, vi and friends at /bin/busybox; ip comes from iproute2.
	echo vic >"$root/etc/hostname"
	mksquashfs "$root" "$dir/root.squashfs" -comp zstd -noappend -quiet -e "$root/proc" -e "$root/sys" -e "$root/dev"
	rm -rf "$root"
}

# build_iso DIR BIN: the ISO DIR/appliance.iso from the root layer $ROOTDIR and the binaries in BIN.
build_iso() {
	local dir=$1 bin=$2 tree=$1/tree init=$1/initramfs
	mkdir -p "$tree/isolinux" "$tree/boot" "$tree/vic" "$init/lib/modules"
	cp /usr/lib/ISOLINUX/isolinux.bin /usr/lib/syslinux/modules/bios/ldlinux.c32 "$tree/isolinux/"
	cat >"$tree/isolinux/isolinux.cfg" <<-'EOF'
		DEFAULT vic
		PROMPT 0
		TIMEOUT 0
		LABEL vic
		  KERNEL /boot/vmlinuz
		  INITRD /boot/initrd.gz
		  APPEND quiet panic=10 console=tty0 console=ttyS0,115200n8
	EOF
	cp "$ROOTDIR/vmlinuz" "$tree/boot/vmlinuz"
	cp "$ROOTDIR/root.squashfs" "$bin/vic-init" "$bin/vic-endpoint" "$tree/vic/"
	echo "$VERSION" >"$tree/vic/version"
	# The initramfs: vic-init as /init, the console for its output, the stage-1 modules and
	# their order.
	cp "$bin/vic-init" "$init/init"
	mkdir -p "$init/dev" && mknod -m 600 "$init/dev/console" c 5 1
	cp -r "$ROOTDIR/modules/." "$init/lib/modules/"
	(cd "$init" && find . -mindepth 1 | LC_ALL=C sort | busybox cpio -o -H newc -R 0:0 2>/dev/null) | gzip -9 >"$tree/boot/initrd.gz"
	xorriso -as mkisofs -quiet -o "$dir/appliance.iso" -V DOCKER-VIC -J -R \
		-b isolinux/isolinux.bin -c isolinux/boot.cat -no-emul-boot -boot-load-size 4 -boot-info-table \
		-isohybrid-mbr /usr/lib/ISOLINUX/isohdpfx.bin "$tree"
}

command -v mmdebstrap >/dev/null && command -v mksquashfs >/dev/null && command -v xorriso >/dev/null ||
	die "mmdebstrap, squashfs-tools and xorriso are missing: run scripts/setup.sh"
[ "$(id -u)" -eq 0 ] || die "building the appliance needs root (mmdebstrap --mode=root, chroot)"
mkdir -p "$CACHE" "$(dirname "$OUT")"
start=$(date +%s)
# One build at a time per cache; what a killed build left is removed.
exec 9>"$CACHE/lock"
flock 9
rm -rf "$CACHE"/root-*.tmp "$CACHE"/iso.*

# The root layer.
root_key=$( (cat "$LIST"; declare -f build_root packages; echo "${STAGE1_MODULES[*]}") | sha256sum | cut -c1-16)
ROOTDIR=$CACHE/root-$root_key
if [ ! -f "$ROOTDIR/root.squashfs" ]; then
	say "appliance: building the Debian root $root_key from appliance/packages.list (minutes)"
	rm -rf "$ROOTDIR.tmp" && mkdir -p "$ROOTDIR.tmp"
	build_root "$ROOTDIR.tmp"
	mv "$ROOTDIR.tmp" "$ROOTDIR"
	# Keep the two newest roots.
	ls -dt "$CACHE"/root-* | tail -n +3 | xargs -r rm -rf
fi

# The Go binaries, static. -trimpath makes them depend on the code only, so their hash says
# whether the Go code changed.
bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
(cd "$VIC_ROOT" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=$VERSION" -o "$bin/vic-init" ./appliance/cmd/vic-init &&
	CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=$VERSION" -o "$bin/vic-endpoint" ./endpoint/cmd/vic-endpoint)
iso_key=$( (echo "$root_key"; declare -f build_iso; sha256sum "$bin"/vic-init "$bin"/vic-endpoint | cut -d' ' -f1) | sha256sum | cut -c1-16)
ISO=$CACHE/iso-$iso_key.iso
if [ ! -f "$ISO" ]; then
	say "appliance: building the ISO $iso_key"
	work=$(mktemp -d "$CACHE/iso.XXXXXX")
	build_iso "$work" "$bin"
	mv "$work/appliance.iso" "$ISO"
	rm -rf "$work"
	# Keep the last few ISOs only.
	find "$CACHE" -maxdepth 1 -name 'iso-*.iso' ! -newer "$ISO" ! -path "$ISO" -printf '%T@ %p\n' |
		sort -rn | tail -n +4 | cut -d' ' -f2- | xargs -r rm -f
fi
cp "$ISO" "$OUT.tmp" && mv "$OUT.tmp" "$OUT"
cp "$ROOTDIR/manifest" "${OUT%.iso}.manifest"
say "appliance: $OUT ($(du -m "$OUT" | cut -f1) MB, root $root_key, iso $iso_key) in $(($(date +%s) - start)) s"
