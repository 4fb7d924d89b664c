package dockerwatch

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/client"
)

// The engine tests drive the real Docker engine of the machine with its own bridge driver and
// default IPAM (the vic drivers need not run): the networks they make are named testNetPrefix*,
// on subnets of 203.0.113.192/26, and removed before and after each test.
const testNetPrefix = "vic-cn-test-"

// testDocker is what the network tests ask of Docker: the Ensurer's calls and those of a user.
type testDocker interface {
	NetworkAPI
	NetworkInspect(ctx context.Context, id string, o client.NetworkInspectOptions) (client.NetworkInspectResult, error)
	NetworkRemove(ctx context.Context, id string, o client.NetworkRemoveOptions) (client.NetworkRemoveResult, error)
}

// eachDocker runs test against the fake Docker, then against the machine's engine.
func eachDocker(t *testing.T, test func(t *testing.T, api testDocker)) {
	t.Run("fake", func(t *testing.T) { test(t, newFakeDocker()) })
	t.Run("engine", func(t *testing.T) { test(t, dockerForTest(t)) })
}

// dockerForTest returns a client of the machine's Docker, skipping when it does not answer
// unless VIC_REQUIRE_PRIVILEGED=1, and removes the test networks before and after the test.
func dockerForTest(t *testing.T) *client.Client {
	t.Helper()
	api, err := client.New(client.FromEnv, client.WithAPIVersionNegotiation())
	if err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, err = api.Ping(ctx, client.PingOptions{})
		cancel()
	}
	if err != nil {
		if os.Getenv("VIC_REQUIRE_PRIVILEGED") == "1" {
			t.Fatalf("docker does not answer and VIC_REQUIRE_PRIVILEGED=1: %v", err)
		}
		t.Skipf("docker does not answer: %v", err)
	}
	removeTestNetworks(t, api)
	t.Cleanup(func() {
		removeTestNetworks(t, api)
		api.Close()
	})
	return api
}

func removeTestNetworks(t *testing.T, api *client.Client) {
	t.Helper()
	ctx := context.Background()
	res, err := api.NetworkList(ctx, client.NetworkListOptions{Filters: make(client.Filters).Add("name", testNetPrefix)})
	if err != nil {
		t.Fatalf("listing the test networks: %v", err)
	}
	for _, n := range res.Items {
		if !strings.HasPrefix(n.Name, testNetPrefix) {
			continue
		}
		if _, err := api.NetworkRemove(ctx, n.ID, client.NetworkRemoveOptions{}); err != nil {
			t.Errorf("removing test network %q: %v", n.Name, err)
		}
	}
}

// TestNetworksRunStopsWithoutDocker: with no Docker at all, Run backs off quietly until ctx ends.
func TestNetworksRunStopsWithoutDocker(t *testing.T) {
	api, err := client.New(client.WithHost("unix://" + t.TempDir() + "/no-docker.sock"))
	if err != nil {
		t.Fatal(err)
	}
	defer api.Close()
	e, logs := testEnsurer(api, testNetA)
	ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancel()
	e.Run(ctx, time.Hour) // returns when ctx ends

	out := logs.String()
	if strings.Contains(out, "level=INFO") || strings.Contains(out, "level=WARN") {
		t.Errorf("waiting for docker logged above debug:\n%s", out)
	}
	if got := strings.Count(out, "docker does not answer yet"); got < 2 || got > 4 {
		t.Errorf("%d pings in 1.5 s, want a backoff of 2 to 4:\n%s", got, out)
	}
}
