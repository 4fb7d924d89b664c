package main

import (
	"context"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/docker-vic/docker-vic/vsphere"
)

// defaultContainersFormat is the table `docker vic containers` prints.
const defaultContainersFormat = "table {{.Name}}\t{{.ContainerID}}\t{{.State}}\t{{.Endpoint}}\t{{.NICs}}"

// containerVMRow is one container VM: templates see its fields, --format json prints it.
type containerVMRow struct {
	ID          string
	Name        string
	ContainerID string
	State       string
	// Endpoint is the endpoint VM that runs the container.
	Endpoint string
	NICs     string
}

var containerVMHeader = containerVMRow{ID: "VM ID", Name: "VM", ContainerID: "CONTAINER ID", State: "STATE", Endpoint: "ENDPOINT", NICs: "NICS"}

// containersOptions are the flags of `docker vic containers`.
type containersOptions struct {
	conn   vsphere.Options
	format string
}

func newContainersCommand(getDeps func() *deps) *cobra.Command {
	var opts containersOptions
	cmd := &cobra.Command{
		Use:   "containers [OPTIONS] VCH",
		Short: "List the container VMs of a Virtual Container Host in vSphere",
		Long: "List the VM that stands for each container of a VCH in vSphere: its name, the container it\n" +
			"follows, its power state, the endpoint VM that runs the container and its network cards\n" +
			"(port group and the container's MAC).",
		Args: exactlyOneVCH,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runContainers(cmd.Context(), getDeps(), args[0], &opts)
		},
	}
	flags := cmd.Flags()
	flags.StringVar(&opts.format, "format", "", "Format the output: table, json or a Go template (`table TEMPLATE` adds a header)")
	registerConnectionFlags(flags, &opts.conn)
	cmd.ValidArgsFunction = completeVCHNames(getDeps, &opts.conn, 1)
	return cmd
}

func runContainers(ctx context.Context, d *deps, name string, opts *containersOptions) error {
	m, logout, err := d.manager(ctx, opts.conn)
	if err != nil {
		return err
	}
	defer logout()
	inv, err := m.Scan(ctx)
	if err != nil {
		return err
	}
	vms, err := inv.ContainerVMsOf(name)
	if err != nil {
		return err
	}
	return writeContainerVMs(d.out, opts.format, vms)
}

func writeContainerVMs(out io.Writer, format string, vms []vsphere.ContainerVM) error {
	if format == "" || format == formatTable {
		format = defaultContainersFormat
	}
	rows := make([]containerVMRow, len(vms))
	for i, v := range vms {
		nics := make([]string, len(v.NICs))
		for j, n := range v.NICs {
			nics[j] = n.PortGroup + "=" + n.MAC
		}
		id := v.ContainerID
		if len(id) > 12 && format != formatJSON {
			id = id[:12]
		}
		rows[i] = containerVMRow{ID: v.ID, Name: v.Name, ContainerID: id, State: v.PowerState, Endpoint: v.Endpoint, NICs: strings.Join(nics, ",")}
	}
	return writeRows(out, format, containerVMHeader, rows)
}
