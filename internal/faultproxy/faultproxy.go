// Package faultproxy is a gRPC proxy for tests: it listens on loopback,
// forwards every unary call to a backend unchanged (raw bytes, any
// service), and injects faults chosen per call. HTTPProxy does the same
// for HTTP (an S3-compatible store).
package faultproxy

import (
	"net"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// Fault is what happens to one call.
type Fault int

// Faults.
const (
	// None forwards the call.
	None Fault = iota
	// Delay waits Proxy.Delay, then forwards.
	Delay
	// Unavailable answers codes.Unavailable without forwarding.
	Unavailable
	// Exhausted answers codes.ResourceExhausted with retry-after: 1,
	// without forwarding.
	Exhausted
	// Drop forwards the call, then answers codes.Unavailable: the backend
	// applied it but the client never hears so.
	Drop
	// Reset forwards nothing and resets every client connection.
	Reset
	numFaults
)

var names = [...]string{"none", "delay", "unavailable", "resource_exhausted", "drop", "reset"}

func (f Fault) String() string { return names[f] }

// Proxy forwards to a backend, injecting faults.
type Proxy struct {
	// Decide picks the fault for a call; nil means None.
	Decide func(method string) Fault
	// Delay is the Delay fault's wait. Default 200ms.
	Delay time.Duration
	// RetryAfter is the Exhausted fault's retry-after, in seconds. Default 1.
	RetryAfter string

	addr    string
	backend *grpc.ClientConn
	server  *grpc.Server
	lis     *trackingListener
	counts  [numFaults]atomic.Int64
}

// rawCodec passes messages through as bytes; named "proto" so it stands
// in for the real codec on both sides.
type rawCodec struct{}

func (rawCodec) Marshal(v any) ([]byte, error) { return *(v.(*[]byte)), nil }
func (rawCodec) Unmarshal(data []byte, v any) error {
	*(v.(*[]byte)) = append([]byte(nil), data...)
	return nil
}
func (rawCodec) Name() string { return "proto" }

// Start listens on 127.0.0.1 and forwards to backend (host:port).
func Start(backend string, decide func(method string) Fault) (*Proxy, error) {
	conn, err := grpc.NewClient(backend, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return nil, err
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		conn.Close()
		return nil, err
	}
	p := &Proxy{Decide: decide, Delay: 200 * time.Millisecond, RetryAfter: "1", addr: l.Addr().String(), backend: conn,
		lis: &trackingListener{Listener: l, conns: map[net.Conn]bool{}}}
	p.server = grpc.NewServer(grpc.ForceServerCodec(rawCodec{}), grpc.UnknownServiceHandler(p.handle))
	go p.server.Serve(p.lis)
	return p, nil
}

// Addr is the proxy's host:port.
func (p *Proxy) Addr() string { return p.addr }

// Counts returns how many calls saw each fault.
func (p *Proxy) Counts() map[string]int64 {
	out := map[string]int64{}
	for f := None; f < numFaults; f++ {
		if n := p.counts[f].Load(); n > 0 {
			out[f.String()] = n
		}
	}
	return out
}

// Injected is the number of calls that saw a fault.
func (p *Proxy) Injected() int64 {
	var n int64
	for f := Delay; f < numFaults; f++ {
		n += p.counts[f].Load()
	}
	return n
}

// Close stops the proxy.
func (p *Proxy) Close() {
	p.server.Stop()
	p.backend.Close()
}

func (p *Proxy) handle(_ any, ss grpc.ServerStream) error {
	method, ok := grpc.MethodFromServerStream(ss)
	if !ok {
		return status.Error(codes.Internal, "no method")
	}
	var req []byte
	if err := ss.RecvMsg(&req); err != nil {
		return err
	}
	fault := None
	if p.Decide != nil {
		fault = p.Decide(method)
	}
	p.counts[fault].Add(1)
	switch fault {
	case Unavailable:
		return status.Error(codes.Unavailable, "faultproxy: injected unavailable")
	case Exhausted:
		grpc.SetTrailer(ss.Context(), metadata.Pairs("retry-after", p.RetryAfter))
		return status.Error(codes.ResourceExhausted, "faultproxy: injected resource exhausted")
	case Reset:
		p.lis.resetAll()
		return status.Error(codes.Unavailable, "faultproxy: connection reset")
	case Delay:
		time.Sleep(p.Delay)
	}
	ctx := ss.Context()
	if md, ok := metadata.FromIncomingContext(ctx); ok {
		ctx = metadata.NewOutgoingContext(ctx, md)
	}
	var resp []byte
	if err := p.backend.Invoke(ctx, method, &req, &resp, grpc.ForceCodec(rawCodec{})); err != nil {
		return err
	}
	if fault == Drop {
		return status.Error(codes.Unavailable, "faultproxy: reply dropped")
	}
	return ss.SendMsg(&resp)
}

// trackingListener remembers accepted connections so Reset can cut them.
type trackingListener struct {
	net.Listener
	mu    sync.Mutex
	conns map[net.Conn]bool
}

func (l *trackingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	l.mu.Lock()
	l.conns[c] = true
	l.mu.Unlock()
	return c, nil
}

// resetAll closes every client connection with a TCP reset.
func (l *trackingListener) resetAll() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for c := range l.conns {
		if tc, ok := c.(*net.TCPConn); ok {
			tc.SetLinger(0)
		}
		c.Close()
		delete(l.conns, c)
	}
}
