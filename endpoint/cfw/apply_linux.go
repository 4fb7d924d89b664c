package cfw

import (
	"errors"
	"fmt"
	"io/fs"

	"github.com/google/nftables"
	"github.com/google/nftables/userdata"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// ErrNoSandbox is returned, wrapped, when the sandbox path is gone or is no network namespace:
// the container is gone.
var ErrNoSandbox = errors.New("the container's network namespace is gone")

// ErrNoFirewall is returned, wrapped, by Read when the namespace holds no table for the endpoint.
var ErrNoFirewall = errors.New("no container network firewall")

// Apply sets the firewall of endpoint name (at most 12 characters) inside the network namespace
// at sandbox (Docker's SandboxKey): the rules of table "vic-"+name are replaced as a whole, in
// one transaction, whether or not the table existed. Its chains are kept: deleting base chains
// makes the kernel wait for every CPU (and drop conntrack from a namespace it set up).
func Apply(sandbox, name string, r Rules) error {
	if err := validName(name); err != nil {
		return err
	}
	if err := r.Validate(); err != nil {
		return err
	}
	table := &nftables.Table{Name: TableName(name), Family: nftables.TableFamilyIPv4}
	return inSandbox(sandbox, func(c *nftables.Conn) error {
		c.AddTable(table)
		c.FlushTable(table) // every rule of every chain; none when the table is new
		for _, spec := range plan(r) {
			addChain(c, table, spec)
		}
		if err := c.Flush(); err != nil {
			return fmt.Errorf("setting container network firewall table ip %s in %s: %w", table.Name, sandbox, err)
		}
		return nil
	})
}

func addChain(c *nftables.Conn, table *nftables.Table, spec chainSpec) {
	accept := nftables.ChainPolicyAccept
	ch := c.AddChain(&nftables.Chain{Name: spec.name, Table: table, Type: spec.typ,
		Hooknum: spec.hook, Priority: spec.priority, Policy: &accept})
	for _, r := range spec.rules {
		c.AddRule(&nftables.Rule{Table: table, Chain: ch, Exprs: r.exprs,
			UserData: userdata.AppendString(nil, userdata.TypeComment, r.comment)})
	}
}

// Remove deletes the firewall of endpoint name. It is not an error when there is none, nor when
// the namespace is gone.
func Remove(sandbox, name string) error {
	if err := validName(name); err != nil {
		return err
	}
	table := &nftables.Table{Name: TableName(name), Family: nftables.TableFamilyIPv4}
	err := inSandbox(sandbox, func(c *nftables.Conn) error {
		c.AddTable(table)
		c.DelTable(table)
		if err := c.Flush(); err != nil {
			return fmt.Errorf("removing container network firewall table ip %s in %s: %w", table.Name, sandbox, err)
		}
		return nil
	})
	if errors.Is(err, ErrNoSandbox) {
		return nil
	}
	return err
}

// inSandbox runs fn on a netlink connection made inside the namespace at path, closed after.
func inSandbox(path string, fn func(c *nftables.Conn) error) error {
	c, err := connect(path)
	if err != nil {
		return err
	}
	defer c.CloseLasting()
	return fn(c)
}

// connect opens a lasting nf_tables connection inside the namespace at path.
func connect(path string) (*nftables.Conn, error) {
	h, err := netns.GetFromPath(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("opening network namespace %s: %w", path, ErrNoSandbox)
	}
	if err != nil {
		return nil, fmt.Errorf("opening network namespace %s: %w", path, err)
	}
	defer h.Close() // the lasting socket is made in the namespace at once
	// A sandbox whose namespace was unmounted leaves a plain file behind.
	var st unix.Statfs_t
	if err := unix.Fstatfs(int(h), &st); err != nil {
		return nil, fmt.Errorf("opening network namespace %s: %w", path, err)
	}
	if st.Type != unix.NSFS_MAGIC {
		return nil, fmt.Errorf("opening network namespace %s: %w", path, ErrNoSandbox)
	}
	c, err := nftables.New(nftables.AsLasting(), nftables.WithNetNSFd(int(h)))
	if err != nil {
		return nil, fmt.Errorf("connecting to nf_tables in %s: %w", path, err)
	}
	return c, nil
}
