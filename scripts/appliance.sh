#!/usr/bin/env bash
# appliance.sh: build bin/appliance.iso, the boot image of a VCH's endpoint VM.
#
#   scripts/appliance.sh [OUT.iso]       (make appliance)
#
# Three layers, each cached under $VIC_APPLIANCE_CACHE (default /var/cache/docker-vic/appliance):
#   debian  Debian bookworm from appliance/packages.list (mmdebstrap, minbase) as a tarball,
#           keyed by the list and its recipe: built once, then offline. The .debs are kept too,
#           so a rebuild downloads only what changed.
#   root    that root slimmed (SLIM) as a squashfs, with the kernel and the few modules the
#           initramfs needs to find it; keyed by the debian layer and this recipe.
#   iso   isolinux, the kernel, an initramfs holding vic-init (its stage 1 mounts the CD, the
#         squashfs and an overlay on tmpfs, then switches root), and on the CD the squashfs with
#         vic-init and vic-endpoint next to it, and the managed plugin (scripts/plugin.sh, the
#         same VERSION) in vic/plugin/ for the endpoints of a VCH of several. Keyed by the root,
#         the two static binaries and the plugin, so it is rebuilt only when the list or the Go
#         code changed.
# Downloads retry: the package mirrors can be unreachable for minutes.
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"

OUT=${1:-$VIC_ROOT/bin/appliance.iso}
CACHE=${VIC_APPLIANCE_CACHE:-/var/cache/docker-vic/appliance}
LIST=$VIC_ROOT/appliance/packages.list
SOURCES=${VIC_APPLIANCE_SOURCES:-/etc/apt/sources.list.d/debian.sources}
VERSION=${VERSION:-0.1.0-dev}
# COMP is the squashfs compressor: lz4 reads fastest on a slow CPU (the daemons start 3 to 5 s
# sooner under qemu TCG than with zstd, for an ISO of 180 MB instead of 128 MB).
COMP=${VIC_APPLIANCE_COMP:-lz4}
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

# The hooks and formats in single quotes are expanded by mmdebstrap and dpkg-query, not here.
# shellcheck disable=SC2016

# build_debian TAR: the Debian root from the package list as a tarball. The .debs are synced
# with $CACHE/debs, so a rebuild downloads only what changed.
build_debian() {
	local tar=$1 root
	root=$(mktemp -d "$CACHE/debian.XXXXXX")
	mkdir -p "$CACHE/debs"
	retry 5 mmdebstrap --variant=minbase --mode=root --include="$(packages)" \
		--aptopt='Acquire::Retries "5"' --aptopt='Acquire::http::Timeout "30"' \
		--dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-include=/usr/share/doc/*/copyright' \
		--dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/info/*' \
		--dpkgopt='path-exclude=/usr/share/locale/*' --dpkgopt='path-exclude=/usr/share/lintian/*' \
		--setup-hook='mkdir -p "$1"/var/cache/apt/archives' \
		--setup-hook="sync-in $CACHE/debs /var/cache/apt/archives/" \
		--customize-hook="sync-out /var/cache/apt/archives $CACHE/debs" \
		--customize-hook='rm -rf "$1"/var/cache/apt/archives/*.deb' \
		--skip=cleanup/apt/cache \
		bookworm "$root" "$SOURCES" || die "mmdebstrap failed 5 times: is the Debian mirror reachable?"
	rm -f "$CACHE"/debs/lock && rm -rf "$CACHE"/debs/partial
	tar --zstd -C "$root" -cf "$tar.tmp" . && mv "$tar.tmp" "$tar"
	rm -rf "$root"
}

# Slimming: what the appliance never runs. tiny-initramfs pulls perl in (the root has no
# initramfs of its own); docker.io ships libnetwork's test tools (dnet, ovrouter); dockerd
# 20.10 uses containerd's runc v2 shim only; the docker CLI is used from the clients. Modules
# for hardware and file systems no VM of a VCH has are left out.
SLIM=(boot/* var/lib/apt/lists/* var/cache/apt/* var/cache/debconf/*-old var/log/* tmp/* etc/machine-id
	usr/share/doc/* usr/share/man usr/share/locale/* usr/share/perl usr/share/perl5 usr/lib/x86_64-linux-gnu/perl
	usr/lib/x86_64-linux-gnu/libperl.so* usr/bin/dnet usr/sbin/ovrouter usr/bin/ctr usr/bin/containerd-stress
	usr/bin/containerd-shim usr/bin/containerd-shim-runc-v1 usr/bin/docker
	"usr/lib/modules/*/kernel/drivers/"{infiniband,comedi,target,md,gpu,media,hid,usb,staging,isdn,bluetooth}
	"usr/lib/modules/*/kernel/fs/"{xfs,btrfs,nfs,nfsd,smb,cifs,ceph,ocfs2,gfs2,f2fs,jfs,nilfs2,reiserfs,ubifs,afs,ntfs3,dlm}
	"usr/lib/modules/*/kernel/net/"{sunrpc,ceph,bluetooth,wireless,mac80211,rds,tipc,sctp})

# build_root TAR DIR: from the Debian tarball, the kernel, the stage-1 modules and the slimmed
# root as a squashfs ($COMP) in DIR.
build_root() {
	local tar=$1 dir=$2 root=$2/root kver m p
	mkdir -p "$root"
	tar --zstd -C "$root" -xf "$tar"
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
	for p in "${SLIM[@]}"; do
		# shellcheck disable=SC2086 # the patterns are globs
		rm -rf "${root:?}"/$p
	done
	chroot "$root" depmod -a "$kver"
	echo vic >"$root/etc/hostname"
	mksquashfs "$root" "$dir/root.squashfs" -comp "$COMP" -noappend -no-progress -quiet \
		-e "$root/proc" -e "$root/sys" -e "$root/dev"
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
	cp -a "$bin/plugin" "$tree/vic/plugin"
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

for tool in mmdebstrap mksquashfs xorriso; do
	command -v "$tool" >/dev/null || die "$tool is missing: run scripts/setup.sh"
done
[ "$(id -u)" -eq 0 ] || die "building the appliance needs root (mmdebstrap --mode=root, chroot)"
mkdir -p "$CACHE" "$(dirname "$OUT")"
start=$(date +%s)
# One build at a time per cache; what a killed build left is removed.
exec 9>"$CACHE/lock"
flock 9
rm -rf --one-file-system "$CACHE"/root-*.tmp "$CACHE"/iso.* "$CACHE"/debian.* "$CACHE"/debian-*.tmp

# The Debian layer, then the root layer.
debian_key=$( (cat "$LIST"; declare -f build_debian packages) | sha256sum | cut -c1-16)
DEBIAN=$CACHE/debian-$debian_key.tar.zst
if [ ! -f "$DEBIAN" ]; then
	say "appliance: installing Debian $debian_key from appliance/packages.list (minutes)"
	build_debian "$DEBIAN"
	ls -t "$CACHE"/debian-*.tar.zst | tail -n +3 | xargs -r rm -f # keep the two newest
fi
root_key=$( (echo "$debian_key $COMP ${STAGE1_MODULES[*]} ${SLIM[*]}"; declare -f build_root) | sha256sum | cut -c1-16)
ROOTDIR=$CACHE/root-$root_key
if [ ! -f "$ROOTDIR/root.squashfs" ]; then
	say "appliance: slimming and squashing the root $root_key ($COMP)"
	rm -rf "$ROOTDIR.tmp" && mkdir -p "$ROOTDIR.tmp"
	build_root "$DEBIAN" "$ROOTDIR.tmp"
	mv "$ROOTDIR.tmp" "$ROOTDIR"
	ls -dt "$CACHE"/root-* | tail -n +3 | xargs -r rm -rf # keep the two newest
fi

# The Go binaries, static. -trimpath makes them depend on the code only, so their hash says
# whether the Go code changed.
bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
(cd "$VIC_ROOT" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=$VERSION" -o "$bin/vic-init" ./appliance/cmd/vic-init &&
	CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=$VERSION" -o "$bin/vic-endpoint" ./endpoint/cmd/vic-endpoint)
# The managed plugin: its config.json's description carries the digest of its rootfs.
VERSION=$VERSION bash "$VIC_ROOT/scripts/plugin.sh" "$bin/plugin" >/dev/null
iso_key=$( (echo "$root_key"; declare -f build_iso; sha256sum "$bin"/vic-init "$bin"/vic-endpoint "$bin"/plugin/config.json | cut -d' ' -f1) | sha256sum | cut -c1-16)
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
