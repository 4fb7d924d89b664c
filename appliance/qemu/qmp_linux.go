package qemu

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"time"
)

// qmpCommand connects to the QMP socket, negotiates and runs one command without arguments.
func qmpCommand(socket, command string) error {
	c, err := net.DialTimeout("unix", socket, 5*time.Second)
	if err != nil {
		return fmt.Errorf("connecting to QMP: %w", err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	dec := json.NewDecoder(c)
	var greeting struct {
		QMP json.RawMessage `json:"QMP"`
	}
	if err := dec.Decode(&greeting); err != nil || greeting.QMP == nil {
		return fmt.Errorf("QMP greeting: %v", err)
	}
	for _, cmd := range []string{"qmp_capabilities", command} {
		if err := json.NewEncoder(c).Encode(map[string]string{"execute": cmd}); err != nil {
			return fmt.Errorf("QMP %s: %w", cmd, err)
		}
		if err := qmpReturn(dec); err != nil {
			return fmt.Errorf("QMP %s: %w", cmd, err)
		}
	}
	return nil
}

// qmpReturn reads messages up to the command's answer, skipping events.
func qmpReturn(dec *json.Decoder) error {
	for {
		var m struct {
			Return json.RawMessage `json:"return"`
			Error  *struct {
				Desc string `json:"desc"`
			} `json:"error"`
		}
		if err := dec.Decode(&m); err != nil {
			return err
		}
		switch {
		case m.Error != nil:
			return errors.New(m.Error.Desc)
		case m.Return != nil:
			return nil
		}
	}
}
