package nat

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strings"
)

// Runner runs one command (iptables-save, iptables-restore) with stdin and returns its
// standard output. Tests wrap it to count calls or to run inside a network namespace.
type Runner interface {
	Run(ctx context.Context, stdin []byte, name string, args ...string) ([]byte, error)
}

// ExecRunner runs commands with os/exec, each prefixed by Wrap when set (for instance
// ip netns exec NS, see NamespaceRunner).
type ExecRunner struct {
	Wrap []string
}

// NamespaceRunner runs commands inside the named network namespace with `ip netns exec`: a
// fresh process enters the namespace, so no Go thread ever changes namespace.
func NamespaceRunner(ns string) ExecRunner {
	return ExecRunner{Wrap: []string{"ip", "netns", "exec", ns}}
}

// Run implements Runner. The error names the command and carries its standard error.
func (e ExecRunner) Run(ctx context.Context, stdin []byte, name string, args ...string) ([]byte, error) {
	argv := append(append(append([]string(nil), e.Wrap...), name), args...)
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.Bytes(), fmt.Errorf("running %s: %w: %s", name, err, strings.TrimSpace(stderr.String()))
	}
	return stdout.Bytes(), nil
}
