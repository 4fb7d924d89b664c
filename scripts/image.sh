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
# vic-peer:
#   vic-peer serve tcp|udp PORT [WORD]     answer every connection or datagram with
#                                          "WORD PEER-IP" (WORD defaults to "hello"); log each peer
#   vic-peer ask tcp|udp HOST:PORT [MSG]   send MSG, print the one-line answer; exit 1 without one
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

# build_peer OUT: build vic-peer as a static binary.
build_peer() {
	local out=$1 src
	src=$(mktemp -d "${TMPDIR:-/tmp}/vic-peer.XXXXXX")
	cat >"$src/main.go" <<'EOF'
// vic-peer answers and asks over TCP or UDP with one line naming the peer's address, so a test
// can see both reachability and the source address a packet arrived with (NAT).
package main

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"strings"
	"time"
)

func usage() {
	fmt.Fprintln(os.Stderr, "usage: vic-peer serve tcp|udp PORT [WORD] | vic-peer ask tcp|udp HOST:PORT [MSG]")
	os.Exit(2)
}

func main() {
	if len(os.Args) < 4 {
		usage()
	}
	verb, proto, addr := os.Args[1], os.Args[2], os.Args[3]
	arg := ""
	if len(os.Args) > 4 {
		arg = strings.Join(os.Args[4:], " ")
	}
	var err error
	switch {
	case verb == "serve" && proto == "tcp":
		err = serveTCP(addr, word(arg))
	case verb == "serve" && proto == "udp":
		err = serveUDP(addr, word(arg))
	case verb == "ask" && (proto == "tcp" || proto == "udp"):
		err = ask(proto, addr, arg)
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "vic-peer:", err)
		os.Exit(1)
	}
}

func word(w string) string {
	if w == "" {
		return "hello"
	}
	return w
}

func host(a net.Addr) string {
	h, _, err := net.SplitHostPort(a.String())
	if err != nil {
		return a.String()
	}
	return h
}

func serveTCP(port, w string) error {
	l, err := net.Listen("tcp4", ":"+port)
	if err != nil {
		return err
	}
	for {
		c, err := l.Accept()
		if err != nil {
			return err
		}
		fmt.Printf("tcp peer %s\n", host(c.RemoteAddr()))
		go func() {
			defer c.Close()
			fmt.Fprintf(c, "%s %s\n", w, host(c.RemoteAddr()))
		}()
	}
}

func serveUDP(port, w string) error {
	c, err := net.ListenPacket("udp4", ":"+port)
	if err != nil {
		return err
	}
	buf := make([]byte, 1500)
	for {
		_, peer, err := c.ReadFrom(buf)
		if err != nil {
			return err
		}
		fmt.Printf("udp peer %s\n", host(peer))
		if _, err := c.WriteTo([]byte(w+" "+host(peer)+"\n"), peer); err != nil {
			fmt.Fprintln(os.Stderr, "vic-peer:", err)
		}
	}
}

func ask(proto, addr, msg string) error {
	c, err := net.DialTimeout(proto+"4", addr, 3*time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(3 * time.Second))
	if msg == "" {
		msg = "ping"
	}
	if _, err := fmt.Fprintln(c, msg); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return fmt.Errorf("no answer from %s/%s: %w", addr, proto, err)
	}
	fmt.Print(line)
	return nil
}
EOF
	(cd "$src" && CGO_ENABLED=0 GOFLAGS='' go build -trimpath -ldflags '-s -w' -o "$out" main.go)
	rm -rf "$src"
}

mkdir -p bin
if [ -n "$force" ] || [ ! -x bin/vic-peer ]; then
	build_peer "$VIC_ROOT/bin/vic-peer"
fi

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
