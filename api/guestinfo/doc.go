// Package guestinfo is the contract between `docker vic create` and the endpoint appliance:
// the guestinfo keys of the endpoint VM, which side owns each, what their values hold, the
// sealing of secrets to the guest's own key, and the line protocol of the qemu transport.
//
// On vSphere the keys are the endpoint VM's extraConfig entries under guestinfo.vic., read and
// written from inside the guest through VMware's backdoor. Under qemu (the tests' harness) the
// guest finds an fw_cfg entry naming a virtio-serial port, and speaks Wire's lines on it; the
// harness answers from the vcsim VM's extraConfig. Both transports meet in Channel.
//
// Only public material and ciphertext ever reach a key: the guest makes its private key at
// first boot and publishes a certificate request; the CLI signs it and seals the vSphere
// credentials the endpoint needs to the request's public key (Seal, Open).
package guestinfo
