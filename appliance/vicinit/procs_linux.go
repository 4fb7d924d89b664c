package vicinit

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"sync"
	"syscall"
	"time"
)

// Procs starts vic-init's children and reaps every process that ends, its own and orphans
// alike: as PID 1 it inherits them all. exec.Cmd.Wait would race with the reaper, so children
// are started here and their ends come from the reaper.
type Procs struct {
	log *Log

	mu      sync.Mutex
	waiting map[int]chan syscall.WaitStatus
	running map[string]*os.Process
}

// NewProcs starts the reaper.
func NewProcs(log *Log) *Procs {
	p := &Procs{log: log, waiting: map[int]chan syscall.WaitStatus{}, running: map[string]*os.Process{}}
	sig := make(chan os.Signal, 16)
	signal.Notify(sig, syscall.SIGCHLD)
	go func() {
		for {
			p.reap()
			select {
			case <-sig:
			case <-time.After(5 * time.Second): // a missed SIGCHLD cannot leave zombies for long
			}
		}
	}()
	return p
}

func (p *Procs) reap() {
	for {
		var ws syscall.WaitStatus
		pid, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil)
		if pid <= 0 || err != nil {
			return
		}
		p.mu.Lock()
		if ch, ok := p.waiting[pid]; ok {
			ch <- ws
			delete(p.waiting, pid)
		}
		p.mu.Unlock()
	}
}

// start starts cmd with its output logged line by line under name, and returns its end.
func (p *Procs) start(name string, cmd *exec.Cmd) (<-chan syscall.WaitStatus, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = w, w
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	p.mu.Lock()
	err = cmd.Start()
	w.Close()
	if err != nil {
		p.mu.Unlock()
		r.Close()
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	done := make(chan syscall.WaitStatus, 1)
	p.waiting[cmd.Process.Pid] = done
	p.mu.Unlock()
	go p.copyLines(name, r)
	return done, nil
}

// copyLines logs what a child writes, until it and its children close the pipe.
func (p *Procs) copyLines(name string, r io.ReadCloser) {
	defer r.Close()
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), 64<<10)
	for sc.Scan() {
		p.log.Printf("%s: %s", name, sc.Text())
	}
}

// Run runs a command to its end: nil when it exits 0.
func (p *Procs) Run(ctx context.Context, name string, args ...string) error {
	cmd := exec.Command(name, args...)
	done, err := p.start(name, cmd)
	if err != nil {
		return err
	}
	select {
	case ws := <-done:
		cmd.Process.Release()
		return exitError(name, ws)
	case <-ctx.Done():
		cmd.Process.Kill()
		<-done
		cmd.Process.Release()
		return ctx.Err()
	}
}

func exitError(name string, ws syscall.WaitStatus) error {
	switch {
	case ws.Signaled():
		return fmt.Errorf("%s was killed by %s", name, ws.Signal())
	case ws.ExitStatus() != 0:
		return fmt.Errorf("%s exited with status %d", name, ws.ExitStatus())
	}
	return nil
}

// Backoff bounds the waits between restarts of a supervised process: they double from Min to
// Max, and start again from Min after a process ran for Reset.
type Backoff struct{ Min, Max, Reset time.Duration }

// DefaultBackoff is vic-init's.
var DefaultBackoff = Backoff{Min: time.Second, Max: 30 * time.Second, Reset: time.Minute}

// Supervise runs the command that mk makes until ctx ends, restarting it with backoff when it
// ends. When ctx ends it sends SIGTERM and waits for the end up to grace, then kills it.
// ended, if set, is told of each end.
func (p *Procs) Supervise(ctx context.Context, name string, mk func() *exec.Cmd, b Backoff, grace time.Duration, ended func(error)) {
	wait := b.Min
	for ctx.Err() == nil {
		cmd := mk()
		began := time.Now()
		done, err := p.start(name, cmd)
		if err == nil {
			p.setRunning(name, cmd.Process)
			select {
			case ws := <-done:
				err = exitError(name, ws)
				if err == nil {
					err = fmt.Errorf("%s exited", name)
				}
			case <-ctx.Done():
				cmd.Process.Signal(syscall.SIGTERM)
				select {
				case <-done:
				case <-time.After(grace):
					p.log.Printf("%s did not stop within %s: killing it", name, grace)
					cmd.Process.Kill()
					<-done
				}
				p.setRunning(name, nil)
				cmd.Process.Release()
				return
			}
			p.setRunning(name, nil)
			cmd.Process.Release()
		}
		if time.Since(began) >= b.Reset {
			wait = b.Min
		}
		p.log.Printf("%v: restarting in %s", err, wait)
		if ended != nil {
			ended(err)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		wait = min(2*wait, b.Max)
	}
}

func (p *Procs) setRunning(name string, proc *os.Process) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if proc == nil {
		delete(p.running, name)
	} else {
		p.running[name] = proc
	}
}

// Running reports whether the supervised process name runs.
func (p *Procs) Running(name string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.running[name] != nil
}
