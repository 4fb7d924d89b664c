package netdriver

import (
	"encoding/json"
	"fmt"
	"net/netip"

	bolt "go.etcd.io/bbolt"

	"github.com/docker-vic/docker-vic/endpoint/hostports"
)

// Network is a vic network as the driver persists it.
type Network struct {
	ID string `json:"id"`
	// Bridge is the Linux bridge of a bridge network; "" for a container network.
	Bridge string `json:"bridge"`
	// PortGroup is the port group of a container network; "" for a bridge network.
	PortGroup string       `json:"portGroup,omitempty"`
	Subnet    netip.Prefix `json:"subnet"`
	Gateway   netip.Prefix `json:"gateway"`
	// Internal networks reach nothing but themselves and publish no port.
	Internal bool `json:"internal,omitempty"`
	MTU      int  `json:"mtu,omitempty"`
	// Span marks a bridge network of a swarm, which spans its endpoints (span.go).
	Span bool `json:"span,omitempty"`
}

// Endpoint is one container's attachment to a vic network.
type Endpoint struct {
	ID        string       `json:"id"`
	NetworkID string       `json:"networkID"`
	Address   netip.Prefix `json:"address"`
	MAC       string       `json:"mac"`
	// Sandbox is the container's network namespace path, set by Join. It is persisted for
	// container networks only (their firewall lives there and follows configuration changes):
	// a write per container start on bridge networks would cost a disk sync for nothing.
	Sandbox string `json:"sandbox,omitempty"`
	// Ports are the published ports, with the host ports the driver picked.
	Ports []Port `json:"ports,omitempty"`
}

// Port is one published port of an endpoint.
type Port struct {
	Proto         hostports.Proto `json:"proto"`
	HostIP        netip.Addr      `json:"hostIP,omitzero"`
	HostPort      uint16          `json:"hostPort"`
	ContainerPort uint16          `json:"containerPort"`
}

// Key is the host side of the port, as the port holder knows it.
func (p Port) Key() hostports.Key {
	return hostports.Key{Proto: p.Proto, HostIP: p.HostIP, Port: p.HostPort}
}

// String writes the port as -p does: [IP:]HOST:CONTAINER/PROTO.
func (p Port) String() string {
	host := fmt.Sprint(p.HostPort)
	if p.HostIP.IsValid() {
		host = p.HostIP.String() + ":" + host
	}
	return fmt.Sprintf("%s->%d/%s", host, p.ContainerPort, p.Proto)
}

// Store persists networks and endpoints. Each call is one crash-safe transaction.
type Store interface {
	PutNetwork(n *Network) error
	DeleteNetwork(id string) error
	Networks() ([]*Network, error)
	PutEndpoint(e *Endpoint) error
	DeleteEndpoint(id string) error
	Endpoints() ([]*Endpoint, error)
}

var (
	bucketNetworks  = []byte("netdriver.networks")
	bucketEndpoints = []byte("netdriver.endpoints")
)

// BoltStore keeps the driver's state in buckets of the endpoint's state database, which the
// IPAM driver shares.
type BoltStore struct{ db *bolt.DB }

// NewBoltStore creates the driver's buckets in db.
func NewBoltStore(db *bolt.DB) (*BoltStore, error) {
	err := db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketNetworks, bucketEndpoints} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("creating the network driver's buckets: %w", err)
	}
	return &BoltStore{db: db}, nil
}

func (s *BoltStore) put(bucket []byte, id string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return s.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucket).Put([]byte(id), b) })
}

func (s *BoltStore) delete(bucket []byte, id string) error {
	return s.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucket).Delete([]byte(id)) })
}

func list[T any](s *BoltStore, bucket []byte) ([]*T, error) {
	var out []*T
	err := s.db.View(func(tx *bolt.Tx) error {
		return decodeAll(tx, bucket, func(item *T) { out = append(out, item) })
	})
	return out, err
}

// decodeAll decodes every record of bucket, which may be missing, and hands each to keep.
func decodeAll[T any](tx *bolt.Tx, bucket []byte, keep func(*T)) error {
	b := tx.Bucket(bucket)
	if b == nil {
		return nil
	}
	return b.ForEach(func(k, v []byte) error {
		item := new(T)
		if err := json.Unmarshal(v, item); err != nil {
			return fmt.Errorf("record %q of bucket %s does not decode: %w", k, bucket, err)
		}
		keep(item)
		return nil
	})
}

// CheckRecords decodes every network and endpoint record in tx and returns an error naming the
// first that does not decode: the state database is then damaged (see endpoint/statedb).
func CheckRecords(tx *bolt.Tx) error {
	if err := decodeAll(tx, bucketNetworks, func(*Network) {}); err != nil {
		return err
	}
	return decodeAll(tx, bucketEndpoints, func(*Endpoint) {})
}

// PutNetwork implements Store.
func (s *BoltStore) PutNetwork(n *Network) error { return s.put(bucketNetworks, n.ID, n) }

// DeleteNetwork implements Store.
func (s *BoltStore) DeleteNetwork(id string) error { return s.delete(bucketNetworks, id) }

// Networks implements Store.
func (s *BoltStore) Networks() ([]*Network, error) { return list[Network](s, bucketNetworks) }

// PutEndpoint implements Store.
func (s *BoltStore) PutEndpoint(e *Endpoint) error { return s.put(bucketEndpoints, e.ID, e) }

// DeleteEndpoint implements Store.
func (s *BoltStore) DeleteEndpoint(id string) error { return s.delete(bucketEndpoints, id) }

// Endpoints implements Store.
func (s *BoltStore) Endpoints() ([]*Endpoint, error) { return list[Endpoint](s, bucketEndpoints) }
