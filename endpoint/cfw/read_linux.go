package cfw

import (
	"errors"
	"fmt"

	"github.com/google/nftables"
	"github.com/google/nftables/userdata"
	"golang.org/x/sys/unix"
)

// hookNames name the hooks of an ip table.
var hookNames = map[nftables.ChainHook]string{
	*nftables.ChainHookPrerouting:  "prerouting",
	*nftables.ChainHookInput:       "input",
	*nftables.ChainHookForward:     "forward",
	*nftables.ChainHookOutput:      "output",
	*nftables.ChainHookPostrouting: "postrouting",
}

// Read returns what the kernel holds of the firewall of endpoint name, in kernel order: for each
// chain a line "chain NAME: TYPE hook HOOK priority N policy P", then a line "NAME: COMMENT"
// for each of its rules (a rule without a comment, which Apply never makes, is "NAME: ?").
// It wraps ErrNoFirewall when there is no table and ErrNoSandbox when the namespace is gone.
func Read(sandbox, name string) ([]string, error) {
	if err := validName(name); err != nil {
		return nil, err
	}
	var lines []string
	err := inSandbox(sandbox, func(c *nftables.Conn) error {
		table := TableName(name)
		chains, err := c.ListChainsOfTableFamily(nftables.TableFamilyIPv4)
		if err != nil {
			return fmt.Errorf("listing chains in %s: %w", sandbox, err)
		}
		if _, err := c.ListTableOfFamily(table, nftables.TableFamilyIPv4); errors.Is(err, unix.ENOENT) {
			return fmt.Errorf("reading table ip %s in %s: %w", table, sandbox, ErrNoFirewall)
		} else if err != nil {
			return fmt.Errorf("reading table ip %s in %s: %w", table, sandbox, err)
		}
		for _, ch := range chains {
			if ch.Table.Name != table {
				continue
			}
			lines = append(lines, chainLine(ch))
			rules, err := c.GetRules(ch.Table, ch)
			if err != nil {
				return fmt.Errorf("listing rules of chain %s of table ip %s in %s: %w", ch.Name, table, sandbox, err)
			}
			for _, r := range rules {
				comment, ok := userdata.GetString(r.UserData, userdata.TypeComment)
				if !ok {
					comment = "?"
				}
				lines = append(lines, ch.Name+": "+comment)
			}
		}
		return nil
	})
	return lines, err
}

func chainLine(ch *nftables.Chain) string {
	s := "chain " + ch.Name + ": " + string(ch.Type)
	if ch.Hooknum != nil {
		s += " hook " + hookNames[*ch.Hooknum]
	}
	if ch.Priority != nil {
		s += fmt.Sprintf(" priority %d", *ch.Priority)
	}
	if ch.Policy != nil {
		policy := "drop"
		if *ch.Policy == nftables.ChainPolicyAccept {
			policy = "accept"
		}
		s += " policy " + policy
	}
	return s
}
