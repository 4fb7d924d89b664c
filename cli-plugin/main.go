// Command docker-vic is the Docker CLI plugin that manages Virtual Container Hosts on vSphere:
// `docker vic create`, `ls`, `inspect`, `configure`, `rm`, `version`, `port` and `ps`.
package main

import (
	"io"
	"os"
	"time"

	"github.com/docker/cli/cli-plugins/metadata"
	"github.com/docker/cli/cli-plugins/plugin"
	"github.com/docker/cli/cli/command"
	dockerconfig "github.com/docker/cli/cli/config"
	"github.com/spf13/cobra"
)

// version is the plugin's version, set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	plugin.Run(func(dockerCLI command.Cli) *cobra.Command {
		return newVicCommand(func() *deps { return dockerDeps(dockerCLI) })
	}, metadata.Metadata{
		SchemaVersion:    "0.1.0",
		Vendor:           "docker-vic",
		Version:          version,
		ShortDescription: "Manage Virtual Container Hosts on vSphere",
	})
}

// deps are what the subcommands need from the outside world, narrowed so that tests run them
// against the vSphere simulator and a context store in a temporary directory.
type deps struct {
	out, err io.Writer
	vsphere  connector
	contexts contextStore
	// configDir is the Docker configuration directory (${DOCKER_CONFIG:-~/.docker}).
	configDir string
	// docker returns the Docker API client, initialized only by the commands that use it.
	docker func() containerLister
	// isoPaths are where create looks for the installed appliance image.
	isoPaths []string
	// dialDocker opens connections to a new VCH's Docker API (nil: the network); bootPoll is
	// how often create reads the booting appliance's guestinfo (0: every second).
	dialDocker dialFunc
	bootPoll   time.Duration
}

// dockerDeps builds the dependencies from an initialized Docker CLI.
func dockerDeps(dockerCLI command.Cli) *deps {
	return &deps{
		out:       dockerCLI.Out(),
		err:       dockerCLI.Err(),
		vsphere:   newSessionConnector(os.Getenv, dockerCLI.In().FD(), dockerCLI.Err()),
		contexts:  dockerCLI.ContextStore(),
		configDir: dockerconfig.Dir(),
		docker:    func() containerLister { return dockerCLI.Client() },
		isoPaths:  defaultISOPaths(dockerconfig.Dir()),
	}
}

// newVicCommand returns `docker vic` with its subcommands. getDeps is called when a subcommand
// runs, after the Docker CLI is initialized.
func newVicCommand(getDeps func() *deps) *cobra.Command {
	cmd := &cobra.Command{
		Use:           "vic",
		Short:         "Manage Virtual Container Hosts on vSphere",
		SilenceUsage:  true,
		SilenceErrors: true,
		Args:          cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return cmd.Help()
		},
	}
	// A flag that does not parse is an error like any other: one sentence, exit status 1.
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return err })
	cmd.AddCommand(
		newCreateCommand(getDeps),
		newListCommand(getDeps),
		newInspectCommand(getDeps),
		newConfigureCommand(getDeps),
		newRemoveCommand(getDeps),
		newVersionCommand(getDeps),
		newPortCommand(getDeps), newPsCommand(getDeps), newContainersCommand(getDeps),
	)
	return cmd
}
