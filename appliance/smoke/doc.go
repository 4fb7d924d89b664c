// Package smoke boots the appliance ISO under qemu and checks, from a network namespace the
// test makes, that the Docker API answers over TLS with a client certificate of the CA that
// signed the guest's request, and refuses another. It runs when VIC_APPLIANCE_ISO names the ISO
// (make appliance-smoke) and as root; otherwise it skips.
package smoke
