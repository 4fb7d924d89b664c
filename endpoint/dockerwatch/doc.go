// Package dockerwatch is the daemon's side of Docker's API, which it asks from goroutines of its
// own and never from a driver handler (a handler waiting on Docker can deadlock Docker): the
// Watcher reads the containers on vic networks, for their names and their container VMs, the
// Ensurer keeps one Docker network per configured container network, with a pool the vic IPAM
// driver knows, and ReadState reads what Docker has of the vic drivers when their state
// database is lost. Each takes the narrow part of the Docker client it uses, so that tests can
// hand it a fake.
package dockerwatch
