package eaptls

import (
	"errors"
	"io"
	"net"
	"sync"
	"time"
)

// memConn is the net.Conn crypto/tls runs over: Write collects the flight to send, Read hands over what
// feed gave it and, when that is used up, tells the driver that TLS waits for the other side.
type memConn struct {
	mu     sync.Mutex
	in     []byte
	out    []byte
	feed   chan []byte   // the driver's next inbound flight
	idle   chan struct{} // TLS is blocked reading: the outbound flight is complete
	closed chan struct{}
	once   sync.Once
}

func newMemConn() *memConn {
	return &memConn{feed: make(chan []byte), idle: make(chan struct{}), closed: make(chan struct{})}
}

func (c *memConn) Read(p []byte) (int, error) {
	c.mu.Lock()
	if len(c.in) == 0 {
		c.mu.Unlock()
		select {
		case c.idle <- struct{}{}:
		case <-c.closed:
			return 0, io.EOF
		}
		select {
		case b := <-c.feed:
			c.mu.Lock()
			c.in = append(c.in, b...)
		case <-c.closed:
			return 0, io.EOF
		}
	}
	n := copy(p, c.in)
	c.in = c.in[n:]
	c.mu.Unlock()
	return n, nil
}

func (c *memConn) Write(p []byte) (int, error) {
	select {
	case <-c.closed:
		return 0, net.ErrClosed
	default:
	}
	c.mu.Lock()
	c.out = append(c.out, p...)
	c.mu.Unlock()
	return len(p), nil
}

func (c *memConn) take() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := c.out
	c.out = nil
	return out
}

func (c *memConn) Close() error                     { c.once.Do(func() { close(c.closed) }); return nil }
func (c *memConn) LocalAddr() net.Addr              { return memAddr{} }
func (c *memConn) RemoteAddr() net.Addr             { return memAddr{} }
func (c *memConn) SetDeadline(time.Time) error      { return nil }
func (c *memConn) SetReadDeadline(time.Time) error  { return nil }
func (c *memConn) SetWriteDeadline(time.Time) error { return nil }

type memAddr struct{}

func (memAddr) Network() string { return "eap" }
func (memAddr) String() string  { return "eap" }

// errNotStarted is a step on a driver whose TLS side has already finished.
var errNotStarted = errors.New("eap-tls: the TLS exchange is over")

// driver runs one TLS endpoint in its own goroutine (owned: close waits for it) and steps it one flight
// at a time.
type driver struct {
	conn *memConn
	done chan struct{}
	err  error // set before done closes
	keys *keys // set before done closes, on success
	over bool
}

// start runs fn (the handshake and what follows it) over a fresh connection and returns the first flight.
func start(fn func(net.Conn) (*keys, error)) (*driver, []byte, error) {
	d := &driver{conn: newMemConn(), done: make(chan struct{})}
	go func() {
		defer close(d.done)
		d.keys, d.err = fn(d.conn)
	}()
	out, _, err := d.wait()
	return d, out, err
}

// step hands the peer's flight to TLS and returns what TLS sends back before it waits again or finishes.
func (d *driver) step(in []byte) (out []byte, finished bool, err error) {
	if d.over {
		return nil, true, errNotStarted
	}
	select {
	case d.conn.feed <- in:
	case <-d.done:
	}
	return d.wait()
}

func (d *driver) wait() ([]byte, bool, error) {
	select {
	case <-d.conn.idle:
		return d.conn.take(), false, nil
	case <-d.done:
		d.over = true
		return d.conn.take(), true, d.err
	}
}

// close stops the TLS goroutine and waits for it.
func (d *driver) close() {
	if d == nil {
		return
	}
	d.conn.Close()
	<-d.done
}
