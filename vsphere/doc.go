// Package vsphere is what both docker-vic binaries need of vSphere: the session (the target
// read from flags and the environment, VIC_* first and then the GOVC_* variables govc users
// already have, the server's certificate checked against a thumbprint, the login) and the
// inventory (one scan of a datacenter: its VMs, port groups and VCHs). The CLI plugin builds
// the VCH lifecycle on it; the vic-endpoint daemon reads its VCH and keeps container VMs with it.
// It needs nothing of Linux.
package vsphere
