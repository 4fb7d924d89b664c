package guestinfo

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/docker-vic/docker-vic/config"
)

func TestSealOpensOnlyWithTheKeyAndLabel(t *testing.T) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	want := Credentials{User: "ops@vsphere.local", Password: "s3cret pass"}
	sealed, err := SealCredentials(&key.PublicKey, want)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(sealed, want.Password) || strings.Contains(sealed, want.User) {
		t.Fatalf("sealed value shows the credentials: %s", sealed)
	}
	got, err := OpenCredentials(key, sealed)
	if err != nil || got != want {
		t.Fatalf("OpenCredentials = %+v, %v; want %+v", got, err, want)
	}
	if _, err := OpenCredentials(other, sealed); err == nil {
		t.Error("another key opened the credentials")
	}
	if _, err := Open(key, "another label", sealed); err == nil {
		t.Error("another label opened the credentials")
	}
	tampered := sealed[:len(sealed)-2] + "AA"
	if _, err := OpenCredentials(key, tampered); err == nil {
		t.Error("a tampered value opened")
	}
	again, _ := SealCredentials(&key.PublicKey, want)
	if again == sealed {
		t.Error("two seals of the same credentials are equal: the ephemeral key or nonce is reused")
	}
}

// mapStore is the host's keys in a map.
type mapStore struct {
	mu sync.Mutex
	m  map[string]string
}

func (s *mapStore) Get(_ context.Context, k string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.m[k], nil
}

func (s *mapStore) Set(_ context.Context, k, v string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m[k] = v
	return nil
}

func TestWireCarriesValuesAndKeepsCLIKeysReadOnly(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	host, guest := net.Pipe()
	store := &mapStore{m: map[string]string{KeyCert: "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"}}
	go ServeWire(ctx, host, store) //nolint:errcheck // ends with the pipe
	ch := NewWireChannel(guest)
	defer ch.Close()

	got, err := ch.Get(ctx, KeyCert)
	if err != nil || got != store.m[KeyCert] {
		t.Fatalf("Get(cert) = %q, %v", got, err)
	}
	if _, err := ch.Get(ctx, KeyCredentials); !errors.Is(err, ErrNoValue) {
		t.Errorf("Get(unset) error = %v, want ErrNoValue", err)
	}
	st := Status{Phase: PhaseReady, Boot: 1, Message: "line one\nline two"}
	if err := ch.Set(ctx, KeyStatus, st.Encode()); err != nil {
		t.Fatal(err)
	}
	if back, err := DecodeStatus(store.m[KeyStatus]); err != nil || back.Message != st.Message || back.Phase != PhaseReady {
		t.Errorf("status stored = %+v, %v", back, err)
	}
	if err := ch.Set(ctx, KeyCSR, ""); err != nil {
		t.Errorf("setting an empty value: %v", err)
	}
	// A guest that skips WireChannel's own check still cannot set a CLI key.
	if a := answer(ctx, "set "+KeyCert+" QUJD", store); !strings.HasPrefix(a, "err readonly") {
		t.Errorf("host answered %q to a set of a CLI key", a)
	}
	// The VCH's hidden copy of its configuration is not the guest's to read, as on vSphere.
	store.m[config.HiddenKeyConfig] = `{"name":"vch1"}`
	if _, err := ch.Get(ctx, config.HiddenKeyConfig); !errors.Is(err, ErrNoValue) {
		t.Errorf("Get(%s) error = %v, want ErrNoValue", config.HiddenKeyConfig, err)
	}
	if err := ch.Set(ctx, KeyConfig, "{}"); !errors.Is(err, ErrReadOnly) {
		t.Errorf("Set(config) error = %v, want ErrReadOnly", err)
	}
	for _, bad := range []string{"", "get", "get a b", "set", "set k !!", "put k"} {
		if a := answer(ctx, bad, store); !strings.HasPrefix(a, "err bad") {
			t.Errorf("host answered %q to %q", a, bad)
		}
	}
}

func TestNICsRoundTripAndRefuseBadCards(t *testing.T) {
	nics := []NIC{{MAC: "00:50:56:aa:00:01", PortGroup: "VM Network"}, {MAC: "00:50:56:aa:00:02", PortGroup: "vch1"}}
	got, err := DecodeNICs(EncodeNICs(nics))
	if err != nil || len(got) != 2 || got[1] != nics[1] {
		t.Fatalf("DecodeNICs(EncodeNICs) = %v, %v", got, err)
	}
	for v, want := range map[string]string{
		`{}`:                             "guestinfo.vic.nics \"{}\" is not a JSON list of cards",
		`[{"mac":"zz","portGroup":"a"}]`: `guestinfo.vic.nics lists a card with MAC "zz", which is not a MAC address`,
		`[{"mac":"00:50:56:aa:00:01"}]`:  "guestinfo.vic.nics lists card 00:50:56:aa:00:01 without a port group",
	} {
		if _, err := DecodeNICs(v); err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("DecodeNICs(%s) error = %v, want %q", v, err, want)
		}
	}
}

// A request whose context ends before the host answers returns at once; its late answer is not
// taken for the next request's.
func TestWireGivesUpWithTheContextAndKeepsTurns(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	host, guest := net.Pipe()
	ch := NewWireChannel(guest)
	defer ch.Close()
	hostR := bufio.NewReader(host)
	slow := make(chan struct{})
	go func() {
		for _, v := range []string{"stale", "fresh"} {
			if _, err := hostR.ReadString('\n'); err != nil {
				return
			}
			if v == "stale" {
				<-slow // the guest gives up meanwhile
			}
			io.WriteString(host, "ok "+base64.StdEncoding.EncodeToString([]byte(v))+"\n")
		}
	}()

	short, cancelShort := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancelShort()
	if _, err := ch.Get(short, KeyConfig); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Get with an ended context = %v, want its deadline", err)
	}
	close(slow)
	if got, err := ch.Get(ctx, KeyNICs); err != nil || got != "fresh" {
		t.Fatalf("the next Get = %q, %v, want its own answer", got, err)
	}
}
