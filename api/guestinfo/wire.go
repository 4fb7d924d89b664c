package guestinfo

import (
	"bufio"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
)

// The qemu transport. The harness gives the VM an fw_cfg entry FwCfgPort whose content is the
// name of a virtio-serial port (the guest finds it at /dev/virtio-ports/NAME); on that port the
// guest sends one request a line and the harness answers each in order:
//
//	get KEY               ok BASE64             the value (base64, standard alphabet)
//	set KEY BASE64        ok                    the value is stored
//	                      err novalue MESSAGE   the key is unset or empty
//	                      err readonly MESSAGE  the guest may not set this key
//	                      err bad MESSAGE       the request makes no sense
//
// Values travel in base64 because they hold newlines (PEM, JSON).
const (
	// FwCfgPort is the fw_cfg entry naming the port. fw_cfg names are at most 55 bytes.
	FwCfgPort = "opt/org.docker-vic/guestinfo-port"
	// Port is the port's name the harness uses.
	Port = "org.docker-vic.guestinfo"
	// MaxLine bounds one line of the protocol: values are certificates and configurations.
	MaxLine = 1 << 20
)

// Store is what the host side of the wire serves: the VM's keys. ServeWire checks ownership
// before it calls Set.
type Store interface {
	Get(ctx context.Context, key string) (string, error)
	Set(ctx context.Context, key, value string) error
}

// ServeWire answers requests from rw until it ends or ctx is done.
func ServeWire(ctx context.Context, rw io.ReadWriter, s Store) error {
	sc := bufio.NewScanner(rw)
	sc.Buffer(make([]byte, 0, 4096), MaxLine)
	for sc.Scan() {
		if _, err := io.WriteString(rw, answer(ctx, sc.Text(), s)+"\n"); err != nil {
			return err
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	return sc.Err()
}

func answer(ctx context.Context, line string, s Store) string {
	verb, rest, _ := strings.Cut(line, " ")
	switch verb {
	case "get":
		if rest == "" || strings.Contains(rest, " ") {
			return "err bad get takes one key"
		}
		if !strings.HasPrefix(rest, GuestPrefix) {
			// As VMware's backdoor: the guest sees guestinfo keys only.
			return errAnswer(rest, ErrNoValue)
		}
		v, err := s.Get(ctx, rest)
		if v == "" && err == nil {
			err = ErrNoValue
		}
		if err != nil {
			return errAnswer(rest, err)
		}
		return "ok " + base64.StdEncoding.EncodeToString([]byte(v))
	case "set":
		key, b64, ok := strings.Cut(rest, " ")
		if !ok && key != "" {
			b64, ok = "", true // an empty value
		}
		v, err := base64.StdEncoding.DecodeString(b64)
		if !ok || key == "" || err != nil {
			return "err bad set takes a key and a base64 value"
		}
		if !GuestWritable(key) {
			return errAnswer(key, ErrReadOnly)
		}
		if err := s.Set(ctx, key, string(v)); err != nil {
			return errAnswer(key, err)
		}
		return "ok"
	}
	return fmt.Sprintf("err bad unknown request %q", verb)
}

func errAnswer(key string, err error) string {
	msg := strings.ReplaceAll(fmt.Sprintf("%s: %v", key, err), "\n", " ")
	switch {
	case errors.Is(err, ErrNoValue):
		return "err novalue " + msg
	case errors.Is(err, ErrReadOnly):
		return "err readonly " + msg
	}
	return "err bad " + msg
}

// WireChannel is the guest side of the wire: a Channel over the port.
type WireChannel struct {
	mu sync.Mutex
	rw io.ReadWriteCloser
	r  *bufio.Reader
}

// NewWireChannel speaks the protocol on rw (the opened port).
func NewWireChannel(rw io.ReadWriteCloser) *WireChannel {
	return &WireChannel{rw: rw, r: bufio.NewReaderSize(rw, 64<<10)}
}

// Get implements Channel.
func (c *WireChannel) Get(ctx context.Context, key string) (string, error) {
	a, err := c.ask(ctx, "get "+key)
	if err != nil {
		return "", err
	}
	b, err := base64.StdEncoding.DecodeString(a)
	if err != nil {
		return "", fmt.Errorf("guestinfo answer for %s is not base64: %w", key, err)
	}
	return string(b), nil
}

// Set implements Channel.
func (c *WireChannel) Set(ctx context.Context, key, value string) error {
	if !GuestWritable(key) {
		return fmt.Errorf("setting %s: %w", key, ErrReadOnly)
	}
	_, err := c.ask(ctx, "set "+key+" "+base64.StdEncoding.EncodeToString([]byte(value)))
	return err
}

// Close implements Channel.
func (c *WireChannel) Close() error { return c.rw.Close() }

// ask sends one request and returns its answer, or ctx's error when ctx ends first. The port
// is a stream, so requests take turns: an exchange that ctx gave up on still runs to its end
// in the background, and the next request waits for it, so that no answer is taken for
// another's.
func (c *WireChannel) ask(ctx context.Context, req string) (string, error) {
	type answer struct {
		line string
		err  error
	}
	done := make(chan answer, 1)
	go func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		if err := ctx.Err(); err != nil {
			done <- answer{err: err} // gave up before its turn: nothing was sent
			return
		}
		if _, err := io.WriteString(c.rw, req+"\n"); err != nil {
			done <- answer{err: err}
			return
		}
		line, err := c.r.ReadString('\n')
		done <- answer{line, err}
	}()
	var a answer
	select {
	case a = <-done:
	case <-ctx.Done():
		select {
		case a = <-done: // the answer came with the end: a set that was stored is not a failure
		default:
			a.err = ctx.Err()
		}
	}
	if a.err != nil {
		return "", fmt.Errorf("guestinfo port: %w", a.err)
	}
	line := strings.TrimSuffix(a.line, "\n")
	if v, ok := strings.CutPrefix(line, "ok"); ok {
		return strings.TrimPrefix(v, " "), nil
	}
	kind, msg, _ := strings.Cut(strings.TrimPrefix(line, "err "), " ")
	switch kind {
	case "novalue":
		return "", fmt.Errorf("%s: %w", msg, ErrNoValue)
	case "readonly":
		return "", fmt.Errorf("%s: %w", msg, ErrReadOnly)
	}
	return "", fmt.Errorf("guestinfo: %s", msg)
}
