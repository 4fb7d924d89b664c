package liveconfig

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/docker-vic/docker-vic/vsphere"
)

// credentialKeys are the settings a credentials file may hold.
var credentialKeys = map[string]bool{
	vsphere.EnvUser: true, vsphere.EnvPassword: true,
	vsphere.EnvGovcUsername: true, vsphere.EnvGovcPassword: true,
}

// readCredentials reads a root-only file of KEY=VALUE lines (blank lines and # comments
// allowed). A file that group or others can access is refused: it holds a password.
func readCredentials(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("reading the credentials file: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("reading the credentials file: %w", err)
	}
	if perm := st.Mode().Perm(); perm&0o077 != 0 {
		return nil, fmt.Errorf("credentials file %s is open to group or others (mode %04o): make it root-only with chmod 600", path, perm)
	}
	out := map[string]string{}
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		k = strings.TrimSpace(k)
		if !ok || !credentialKeys[k] {
			return nil, fmt.Errorf("credentials file %s line %d: want %s, %s, %s or %s=VALUE", path, n,
				vsphere.EnvUser, vsphere.EnvPassword, vsphere.EnvGovcUsername, vsphere.EnvGovcPassword)
		}
		out[k] = strings.Trim(strings.TrimSpace(v), `"'`)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading the credentials file %s: %w", path, err)
	}
	if len(out) == 0 {
		return nil, errors.New("credentials file " + path + " holds no credentials")
	}
	return out, nil
}
