// Package dockerwatch is the daemon's side of Docker's API, which it asks from goroutines of its
// own and never from a driver handler (a handler waiting on Docker can deadlock Docker): the
// Watcher reads the containers on vic networks, for their names and their container VMs, and the
// Ensurer keeps one Docker network per configured container network, with a pool the vic IPAM
// driver knows. Both take the narrow part of the Docker client they use, so that tests can hand
// them a fake.
package dockerwatch
