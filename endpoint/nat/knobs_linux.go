package nat

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/vishvananda/netlink"
)

// procSys is where sysctls live; the network ones are those of the calling thread's namespace.
const procSys = "/proc/sys"

// EnableRouteLocalnet sets net.ipv4.conf.BRIDGE.route_localnet=1, which lets the kernel route
// packets from 127.0.0.1 (loopback DNAT, -p on 127.0.0.1) out of the bridge. Call it for every
// non-internal bridge network once its bridge exists; it is idempotent.
func EnableRouteLocalnet(bridge string) error {
	if err := validateLinkName(bridge); err != nil {
		return err
	}
	p := filepath.Join(procSys, "net/ipv4/conf", bridge, "route_localnet")
	if err := os.WriteFile(p, []byte("1\n"), 0o644); err != nil {
		return fmt.Errorf("enabling route_localnet on bridge %q: %w", bridge, err)
	}
	return nil
}

// EnableHairpin turns hairpin mode on for a bridge port (the host end of an endpoint's veth,
// already enslaved to the bridge), so a container reaches its own published port through the
// public address. h selects the namespace; pass &netlink.Handle{} for the current one.
func EnableHairpin(h *netlink.Handle, port string) error {
	link, err := h.LinkByName(port)
	if err != nil {
		return fmt.Errorf("enabling hairpin on bridge port %q: %w", port, err)
	}
	if err := h.LinkSetHairpin(link, true); err != nil {
		return fmt.Errorf("enabling hairpin on bridge port %q: %w", port, err)
	}
	return nil
}
