package main

import (
	"fmt"
	"io"
	"net"
	"slices"
	"strconv"
	"time"
)

// echo sends back every byte of each connection on port.
func echo(port string) error {
	return serve(port, func(c net.Conn) { _, _ = io.Copy(c, c) })
}

// roundTrips makes count one-byte round trips to the echo at addr, one at a time, and prints
// their 10th percentile and median in microseconds.
func roundTrips(addr, count string) error {
	n, err := strconv.Atoi(count)
	if err != nil || n < 10 || n > 1_000_000 {
		return fmt.Errorf("count %q: must be a number from 10 to 1000000", count)
	}
	c, err := net.DialTimeout("tcp4", addr, 3*time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(60 * time.Second))
	b := []byte{1}
	took := make([]time.Duration, n)
	for i := range took {
		start := time.Now()
		if _, err := c.Write(b); err != nil {
			return err
		}
		if _, err := io.ReadFull(c, b); err != nil {
			return fmt.Errorf("no echo from %s: %w", addr, err)
		}
		took[i] = time.Since(start)
	}
	slices.Sort(took)
	us := func(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e3 }
	fmt.Printf("%.1f %.1f\n", us(took[n/10]), us(took[n/2]))
	return nil
}
