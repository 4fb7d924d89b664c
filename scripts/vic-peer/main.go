// vic-peer is the test tool of the end-to-end scripts and the benchmarks, built static into the
// test image by scripts/image.sh and left in bin/ for the testbed's namespaces:
//
//	vic-peer serve tcp|udp PORT [WORD]     answer every connection or datagram with "WORD PEER-IP"
//	vic-peer ask tcp|udp HOST:PORT [MSG]   send MSG, print the one-line answer; exit 1 without one
//	vic-peer sink PORT                     count the bytes of each connection, answer the count
//	vic-peer send HOST:PORT SECONDS        write for SECONDS, print the MB/s the sink confirmed
//	vic-peer echo PORT                     send back every byte of each connection
//	vic-peer rr HOST:PORT COUNT            COUNT one-byte round trips to an echo, print the 10th
//	                                       percentile and the median in microseconds
//
// serve and ask show both reachability and the source address a packet arrived with (NAT);
// sink and send measure throughput, every byte counted having been delivered; echo and rr the
// latency of a path, whose 10th percentile other load on the machine hardly moves.
package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"time"
)

func usage() {
	fmt.Fprintln(os.Stderr, "usage: vic-peer serve tcp|udp PORT [WORD] | vic-peer ask tcp|udp HOST:PORT [MSG] | vic-peer sink PORT | vic-peer send HOST:PORT SECONDS | vic-peer echo PORT | vic-peer rr HOST:PORT COUNT")
	os.Exit(2)
}

func main() {
	switch {
	case len(os.Args) == 3 && os.Args[1] == "sink":
		exit(sink(os.Args[2]))
	case len(os.Args) == 4 && os.Args[1] == "send":
		exit(send(os.Args[2], os.Args[3]))
	case len(os.Args) == 3 && os.Args[1] == "echo":
		exit(echo(os.Args[2]))
	case len(os.Args) == 4 && os.Args[1] == "rr":
		exit(roundTrips(os.Args[2], os.Args[3]))
	case len(os.Args) < 4:
		usage()
	}
	verb, proto, addr := os.Args[1], os.Args[2], os.Args[3]
	arg := ""
	if len(os.Args) > 4 {
		arg = strings.Join(os.Args[4:], " ")
	}
	var err error
	switch {
	case verb == "serve" && proto == "tcp":
		err = serveTCP(addr, word(arg))
	case verb == "serve" && proto == "udp":
		err = serveUDP(addr, word(arg))
	case verb == "ask" && (proto == "tcp" || proto == "udp"):
		err = ask(proto, addr, arg)
	default:
		usage()
	}
	exit(err)
}

func exit(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "vic-peer:", err)
		os.Exit(1)
	}
	os.Exit(0)
}

func word(w string) string {
	if w == "" {
		return "hello"
	}
	return w
}

func host(a net.Addr) string {
	h, _, err := net.SplitHostPort(a.String())
	if err != nil {
		return a.String()
	}
	return h
}

func serveTCP(port, w string) error {
	l, err := net.Listen("tcp4", ":"+port)
	if err != nil {
		return err
	}
	for {
		c, err := l.Accept()
		if err != nil {
			return err
		}
		fmt.Printf("tcp peer %s\n", host(c.RemoteAddr()))
		go func() {
			defer c.Close()
			fmt.Fprintf(c, "%s %s\n", w, host(c.RemoteAddr()))
		}()
	}
}

func serveUDP(port, w string) error {
	c, err := net.ListenPacket("udp4", ":"+port)
	if err != nil {
		return err
	}
	buf := make([]byte, 1500)
	for {
		_, peer, err := c.ReadFrom(buf)
		if err != nil {
			return err
		}
		fmt.Printf("udp peer %s\n", host(peer))
		if _, err := c.WriteTo([]byte(w+" "+host(peer)+"\n"), peer); err != nil {
			fmt.Fprintln(os.Stderr, "vic-peer:", err)
		}
	}
}

func ask(proto, addr, msg string) error {
	c, err := net.DialTimeout(proto+"4", addr, 3*time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(3 * time.Second))
	if msg == "" {
		msg = "ping"
	}
	if _, err := fmt.Fprintln(c, msg); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return fmt.Errorf("no answer from %s/%s: %w", addr, proto, err)
	}
	fmt.Print(line)
	return nil
}

func sink(port string) error {
	return serve(port, func(c net.Conn) {
		n, _ := io.CopyBuffer(io.Discard, c, make([]byte, 256<<10))
		fmt.Fprintf(c, "%d\n", n)
	})
}

// serve accepts connections on TCP port of every IPv4 address and handles each in its own
// goroutine, closing it afterwards.
func serve(port string, handle func(net.Conn)) error {
	l, err := net.Listen("tcp4", ":"+port)
	if err != nil {
		return err
	}
	for {
		c, err := l.Accept()
		if err != nil {
			return err
		}
		go func() {
			defer c.Close()
			handle(c)
		}()
	}
}

func send(addr, seconds string) error {
	secs, err := strconv.ParseFloat(seconds, 64)
	if err != nil || secs <= 0 || secs > 60 {
		return fmt.Errorf("seconds %q: must be a number in (0, 60]", seconds)
	}
	c, err := net.DialTimeout("tcp4", addr, 3*time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	buf := make([]byte, 256<<10)
	start := time.Now()
	stop := start.Add(time.Duration(secs * float64(time.Second)))
	_ = c.SetDeadline(stop.Add(30 * time.Second))
	for time.Now().Before(stop) {
		if _, err := c.Write(buf); err != nil {
			return err
		}
	}
	if err := c.(*net.TCPConn).CloseWrite(); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return fmt.Errorf("no count from the sink: %w", err)
	}
	n, err := strconv.ParseInt(line[:len(line)-1], 10, 64)
	if err != nil {
		return fmt.Errorf("count %q: %w", line, err)
	}
	fmt.Printf("%.1f\n", float64(n)/time.Since(start).Seconds()/1e6)
	return nil
}
