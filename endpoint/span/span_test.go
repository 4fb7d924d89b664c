package span

import (
	"net/netip"
	"strings"
	"testing"
)

func TestRulesKeepNetworksApartAndGatewaysLocal(t *testing.T) {
	rules, err := Rules([]Net{
		{Port: "vs-bbb", Wire: "vw-bbb", Subnet: netip.MustParsePrefix("172.17.0.0/16"), Gateway: netip.MustParseAddr("172.17.0.1")},
		{Port: "vs-aaa", Wire: "vw-aaa", Subnet: netip.MustParsePrefix("172.16.0.0/16"), Gateway: netip.MustParseAddr("172.16.0.1")},
	})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range rules {
		got = append(got, r.String())
	}
	want := []string{
		`chain output: oifname "vs-*" drop`,
		`chain forward: oifname "vs-aaa" arp daddr ip 172.16.0.1 drop`,
		`chain forward: iifname "vw-aaa" meta protocol != { ip, arp } drop`,
		`chain forward: iifname "vw-aaa" ip saddr != 172.16.0.0/16 drop`,
		`chain forward: iifname "vw-aaa" arp saddr ip != 172.16.0.0/16 drop`,
		`chain forward: iifname "vw-aaa" ip saddr 172.16.0.1 drop`,
		`chain forward: iifname "vw-aaa" arp saddr ip 172.16.0.1 drop`,
		`chain forward: oifname "vw-aaa" meta protocol != { ip, arp } drop`,
		`chain forward: oifname "vw-aaa" ip saddr != 172.16.0.0/16 drop`,
		`chain forward: oifname "vw-aaa" arp saddr ip != 172.16.0.0/16 drop`,
		`chain forward: oifname "vw-aaa" ip saddr 172.16.0.1 drop`,
		`chain forward: oifname "vw-aaa" arp saddr ip 172.16.0.1 drop`,
		`chain forward: oifname "vw-aaa" arp daddr ip 172.16.0.1 drop`,
	}
	if g := strings.Join(got[:len(want)], "\n"); g != strings.Join(want, "\n") {
		t.Fatalf("rules:\n%s\nwant:\n%s", g, strings.Join(want, "\n"))
	}
	closed := []string{
		`chain forward: iifname "vw-*" iifname != "vw-aaa" iifname != "vw-bbb" drop`,
		`chain forward: oifname "vw-*" oifname != "vw-aaa" oifname != "vw-bbb" drop`,
	}
	if g := strings.Join(got[len(got)-2:], "\n"); g != strings.Join(closed, "\n") {
		t.Fatalf("the rules end with:\n%s\nwant the unknown wire ends closed:\n%s", g, strings.Join(closed, "\n"))
	}
	if len(got) != 1+2*(len(want)-1)+2 || !strings.Contains(got[len(got)-3], `"vw-bbb" arp daddr ip 172.17.0.1`) {
		t.Fatalf("the second network's rules are missing or out of order:\n%s", strings.Join(got, "\n"))
	}
	if rules, err := Rules(nil); err != nil || rules != nil {
		t.Fatalf("Rules(nil) = %v, %v; want no rules: the table goes", rules, err)
	}
}

func TestRulesRefuseWhatIsNotASpan(t *testing.T) {
	good := Net{Port: "vs-aaa", Wire: "vw-aaa", Subnet: netip.MustParsePrefix("172.16.0.0/16"), Gateway: netip.MustParseAddr("172.16.0.1")}
	for _, mod := range []func(n *Net){
		func(n *Net) { n.Port = "eth0" },
		func(n *Net) { n.Wire = "vw-0123456789abc" },
		func(n *Net) { n.Subnet = netip.MustParsePrefix("fd00::/64") },
		func(n *Net) { n.Gateway = netip.MustParseAddr("172.18.0.1") },
	} {
		n := good
		mod(&n)
		if _, err := Rules([]Net{n}); err == nil {
			t.Fatalf("Rules(%+v) accepted it", n)
		}
	}
}
