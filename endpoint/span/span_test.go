package span

import (
	"net/netip"
	"reflect"
	"strings"
	"testing"
)

func TestRulesAreTheSameForAnyNetworks(t *testing.T) {
	var got []string
	for _, r := range Rules() {
		got = append(got, r.String())
	}
	want := []string{
		`chain output: oifname "vs-*" drop`,
		`chain forward: iifname "vw-*" meta protocol != { ip, arp } drop`,
		`chain forward: iifname "vw-*" iifname . ip saddr != @sources drop`,
		`chain forward: iifname "vw-*" iifname . arp saddr ip != @sources drop`,
		`chain forward: oifname "vw-*" meta protocol != { ip, arp } drop`,
		`chain forward: oifname "vw-*" oifname . ip saddr != @sources drop`,
		`chain forward: oifname "vw-*" oifname . arp saddr ip != @sources drop`,
		`chain forward: oifname . arp daddr ip @gateways drop`,
	}
	if g := strings.Join(got, "\n"); g != strings.Join(want, "\n") {
		t.Fatalf("rules:\n%s\nwant:\n%s", g, strings.Join(want, "\n"))
	}
}

func TestPlanKeepsNetworksApartAndGatewaysLocal(t *testing.T) {
	a, p := netip.MustParseAddr, netip.MustParsePrefix
	plan, err := PlanOf([]Net{
		{Port: "vs-bbb", Wire: "vw-bbb", Subnet: p("172.17.0.0/16"), Gateway: a("172.17.0.1")},
		{Port: "vs-aaa", Wire: "vw-aaa", Subnet: p("172.16.0.0/16"), Gateway: a("172.16.0.1")},
		{Port: "vs-ccc", Wire: "vw-ccc", Subnet: p("10.9.0.0/24"), Gateway: a("10.9.0.0")},
		{Port: "vs-ddd", Wire: "vw-ddd", Subnet: p("10.9.1.7/24"), Gateway: a("10.9.1.255")},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := Plan{
		// Each wire end lets through its subnet but the gateway; an end the plan does not
		// name has no element, so the lookup refuses all of it.
		Sources: []Source{
			{"vw-aaa", a("172.16.0.0"), a("172.16.0.0")},
			{"vw-aaa", a("172.16.0.2"), a("172.16.255.255")},
			{"vw-bbb", a("172.17.0.0"), a("172.17.0.0")},
			{"vw-bbb", a("172.17.0.2"), a("172.17.255.255")},
			{"vw-ccc", a("10.9.0.1"), a("10.9.0.255")},
			{"vw-ddd", a("10.9.1.0"), a("10.9.1.254")},
		},
		Gateways: []Gateway{
			{"vs-aaa", a("172.16.0.1")}, {"vw-aaa", a("172.16.0.1")},
			{"vs-bbb", a("172.17.0.1")}, {"vw-bbb", a("172.17.0.1")},
			{"vs-ccc", a("10.9.0.0")}, {"vw-ccc", a("10.9.0.0")},
			{"vs-ddd", a("10.9.1.255")}, {"vw-ddd", a("10.9.1.255")},
		},
	}
	if !reflect.DeepEqual(plan, want) {
		t.Fatalf("plan:\n%+v\nwant:\n%+v", plan, want)
	}
	if plan, err := PlanOf(nil); err != nil || !plan.Empty() {
		t.Fatalf("PlanOf(nil) = %+v, %v; want an empty plan: the table goes", plan, err)
	}
}

func TestPlanRefusesWhatIsNotASpan(t *testing.T) {
	good := Net{Port: "vs-aaa", Wire: "vw-aaa", Subnet: netip.MustParsePrefix("172.16.0.0/16"), Gateway: netip.MustParseAddr("172.16.0.1")}
	for _, mod := range []func(n *Net){
		func(n *Net) { n.Port = "eth0" },
		func(n *Net) { n.Wire = "vw-0123456789abc" },
		func(n *Net) { n.Subnet = netip.MustParsePrefix("fd00::/64") },
		func(n *Net) { n.Gateway = netip.MustParseAddr("172.18.0.1") },
	} {
		n := good
		mod(&n)
		if _, err := PlanOf([]Net{n}); err == nil {
			t.Fatalf("PlanOf(%+v) accepted it", n)
		}
	}
}
