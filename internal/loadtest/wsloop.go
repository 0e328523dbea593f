package loadtest

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cometgen/cometgen/runtime/bayeux"
)

// A wsSub is one Bayeux session over a websocket that the bench speaks
// itself, for the broadcast mode's subscribers: the handshake, the
// subscription and the /meta/connect cycle, answers to pings, and nothing
// else. Thousands of them are read by one event loop (see wsLoop) instead
// of a goroutine and a full client each, so that the bench, which shares
// the machine with the server it measures, costs it as little CPU as it
// can: the server's work is what is measured.
type wsSub struct {
	nc       net.Conn // nil once detached (see detach): then fd
	fd       int
	clientID string
	id       int    // the last message id sent
	pending  []byte // input past setup's replies, not a whole frame yet
	frag     []byte // the payload so far of a message sent in fragments
	fragOp   byte
	onData   func(data []byte, now int64)
	channel  string
	prefix   []byte // how a frame of one message on channel starts
	lost     bool
	key      [4]byte // the masking key of the frames it sends
}

// errSessionLost is a session that the server ended or whose connection
// failed during the run.
var errSessionLost = errors.New("session lost")

// websocketGUID is RFC 6455's key suffix (section 1.3).
const websocketGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

// dialSub opens a websocket to the Bayeux endpoint u (http://), and
// handshakes, subscribes to channel and sends its held /meta/connect, all
// within timeout. onData receives the data of every message on channel.
func dialSub(ctx context.Context, u *url.URL, channel string, timeout time.Duration, onData func([]byte, int64)) (*wsSub, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	nc, err := (&net.Dialer{}).DialContext(ctx, "tcp", hostPort(u))
	if err != nil {
		return nil, err
	}
	s := &wsSub{nc: nc, onData: onData, channel: channel}
	if err := s.setup(ctx, u); err != nil {
		nc.Close()
		return nil, err
	}
	return s, nil
}

func hostPort(u *url.URL) string {
	if u.Port() != "" {
		return u.Host
	}
	return net.JoinHostPort(u.Hostname(), "80")
}

func (s *wsSub) setup(ctx context.Context, u *url.URL) error {
	if d, ok := ctx.Deadline(); ok {
		s.nc.SetDeadline(d)
	}
	var nonce [16]byte
	rand.Read(nonce[:])
	rand.Read(s.key[:])
	key := base64.StdEncoding.EncodeToString(nonce[:])
	path := u.RequestURI()
	req := "GET " + path + " HTTP/1.1\r\nHost: " + u.Host + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: " + key + "\r\nSec-WebSocket-Version: 13\r\n\r\n"
	if _, err := s.nc.Write([]byte(req)); err != nil {
		return fmt.Errorf("upgrade: %w", err)
	}
	// The server says nothing after its answer until the client speaks,
	// so nothing is read past it.
	br := bufio.NewReaderSize(s.nc, 1024)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return fmt.Errorf("upgrade: %w", err)
	}
	resp.Body.Close()
	sum := sha1.Sum([]byte(key + websocketGUID))
	switch {
	case resp.StatusCode != http.StatusSwitchingProtocols:
		return fmt.Errorf("upgrade: %s", resp.Status)
	case resp.Header.Get("Sec-WebSocket-Accept") != base64.StdEncoding.EncodeToString(sum[:]):
		return errors.New("upgrade: wrong Sec-WebSocket-Accept")
	case br.Buffered() > 0:
		return errors.New("upgrade: the server spoke first")
	}
	dec := bayeux.NewDecoder()
	hs, err := s.call(dec, `{"channel":"/meta/handshake","version":"1.0","supportedConnectionTypes":["websocket"]`)
	if err != nil {
		return fmt.Errorf("handshake: %w", err)
	}
	s.clientID = hs.ClientID
	if _, err := s.call(dec, `{"channel":"/meta/subscribe","clientId":`+strconv.Quote(s.clientID)+`,"subscription":`+strconv.Quote(s.channel)); err != nil {
		return fmt.Errorf("subscribe: %w", err)
	}
	if _, err := s.call(dec, `{"channel":"/meta/connect","clientId":`+strconv.Quote(s.clientID)+`,"connectionType":"websocket","advice":{"timeout":0}`); err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	if err := s.connect(); err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	return s.nc.SetDeadline(time.Time{})
}

// call sends one message (msg is its JSON object without the id and the
// closing brace) and reads until its successful reply.
func (s *wsSub) call(dec *bayeux.Decoder, msg string) (*bayeux.Message, error) {
	s.id++
	id := strconv.Itoa(s.id)
	if err := s.send(opText, []byte("["+msg+`,"id":"`+id+`"}]`)); err != nil {
		return nil, err
	}
	buf := make([]byte, 4096)
	for {
		n, err := s.nc.Read(buf)
		if err != nil {
			return nil, err
		}
		s.pending = append(s.pending, buf[:n]...)
		for {
			fin, op, payload, size := parseFrame(s.pending)
			if size == 0 {
				break
			}
			s.pending = s.pending[size:]
			if op != opText || !fin {
				continue
			}
			msgs, err := dec.Decode(payload)
			if err != nil {
				return nil, err
			}
			for i := range msgs {
				m := &msgs[i]
				if string(m.ID) != id {
					continue
				}
				if !m.IsSuccessful() {
					return nil, fmt.Errorf("refused: %s", m.Error)
				}
				s.pending = append([]byte(nil), s.pending...)
				return m, nil
			}
		}
	}
}

// connect sends the next /meta/connect, which the server holds.
func (s *wsSub) connect() error {
	s.id++
	return s.send(opText, []byte(`[{"channel":"/meta/connect","clientId":`+strconv.Quote(s.clientID)+
		`,"connectionType":"websocket","id":"`+strconv.Itoa(s.id)+`"}]`))
}

// disconnect ends the session, and closes the connection.
func (s *wsSub) disconnect() {
	if !s.lost {
		if s.nc != nil {
			s.nc.SetWriteDeadline(time.Now().Add(time.Second))
		}
		s.id++
		_ = s.send(opText, []byte(`[{"channel":"/meta/disconnect","clientId":`+strconv.Quote(s.clientID)+
			`,"id":"`+strconv.Itoa(s.id)+`"}]`))
	}
	if s.nc != nil {
		s.nc.Close()
	} else {
		s.closeFD()
	}
}

// The opcodes of RFC 6455, 5.2.
const (
	opContinuation = 0x0
	opText         = 0x1
	opBinary       = 0x2
	opClose        = 0x8
	opPing         = 0x9
	opPong         = 0xa
)

// send writes one frame, masked as a client's must be.
func (s *wsSub) send(op byte, payload []byte) error {
	frame := make([]byte, 0, 14+len(payload))
	frame = append(frame, 0x80|op)
	switch n := len(payload); {
	case n <= 125:
		frame = append(frame, 0x80|byte(n))
	case n <= 0xffff:
		frame = append(frame, 0x80|126, byte(n>>8), byte(n))
	default:
		frame = append(frame, 0x80|127)
		frame = binary.BigEndian.AppendUint64(frame, uint64(n))
	}
	frame = append(frame, s.key[:]...)
	for i, c := range payload {
		frame = append(frame, c^s.key[i%4])
	}
	if s.nc == nil {
		return s.writeFD(frame) // detached: see detach
	}
	_, err := s.nc.Write(frame)
	return err
}

// parseFrame parses the frame at the start of b: size is 0 when b does not
// hold a whole one yet. A masked payload (not sent by servers) is unmasked
// in place.
func parseFrame(b []byte) (fin bool, op byte, payload []byte, size int) {
	if len(b) < 2 {
		return false, 0, nil, 0
	}
	fin, op = b[0]&0x80 != 0, b[0]&0x0f
	masked := b[1]&0x80 != 0
	n := uint64(b[1] & 0x7f)
	i := 2
	switch n {
	case 126:
		if len(b) < 4 {
			return false, 0, nil, 0
		}
		n, i = uint64(binary.BigEndian.Uint16(b[2:])), 4
	case 127:
		if len(b) < 10 {
			return false, 0, nil, 0
		}
		n, i = binary.BigEndian.Uint64(b[2:]), 10
	}
	var key []byte
	if masked {
		if len(b) < i+4 {
			return false, 0, nil, 0
		}
		key, i = b[i:i+4], i+4
	}
	if uint64(len(b)-i) < n {
		return false, 0, nil, 0
	}
	payload = b[i : i+int(n)]
	if key != nil {
		for j := range payload {
			payload[j] ^= key[j%4]
		}
	}
	return fin, op, payload, i + int(n)
}

// input processes what was read from the connection at now: whole frames
// are handled, and the rest, not a whole frame yet, returned for the next
// read. It reports errSessionLost when the server closed the connection or
// ended the session.
func (s *wsSub) input(dec *bayeux.Decoder, b []byte, now int64) (rest []byte, err error) {
	for {
		fin, op, payload, size := parseFrame(b)
		if size == 0 {
			break
		}
		b = b[size:]
		switch op {
		case opPing:
			if err := s.send(opPong, payload); err != nil {
				return nil, err
			}
			continue
		case opPong:
			continue
		case opClose:
			return nil, errSessionLost
		case opContinuation:
			s.frag = append(s.frag, payload...)
			if !fin {
				continue
			}
			payload, op, s.frag = s.frag, s.fragOp, nil
		default:
			if !fin {
				s.frag, s.fragOp = append(s.frag[:0], payload...), op
				continue
			}
		}
		if op != opText {
			continue
		}
		if err := s.messages(dec, payload, now); err != nil {
			return nil, err
		}
	}
	if len(b)+len(s.frag) > wsSubMaxMessage {
		return nil, fmt.Errorf("a message of over %d bytes: %w", wsSubMaxMessage, errSessionLost)
	}
	return b, nil
}

// wsSubMaxMessage bounds what a subscriber keeps of a message not read
// whole yet: a server (or something posing as one) announcing a larger
// one loses the session instead of growing the bench without end.
const wsSubMaxMessage = 16 << 20

// messages handles the messages of one text frame.
func (s *wsSub) messages(dec *bayeux.Decoder, payload []byte, now int64) error {
	if s.prefix == nil {
		s.prefix = []byte(`[{"channel":` + strconv.Quote(s.channel) + `,"data":`)
	}
	if data, ok := bytes.CutPrefix(payload, s.prefix); ok && bytes.HasSuffix(data, []byte("}]")) && !bytes.Contains(data, []byte(`},{"channel":`)) {
		// One broadcast alone in its frame, as cometgen's server
		// writes it: the data is read where it stands, without
		// decoding the frame (onData parses what it needs of it).
		s.onData(data[:len(data)-2], now)
		return nil
	}
	msgs, err := dec.Decode(payload)
	if err != nil {
		return fmt.Errorf("decode: %w", err)
	}
	for i := range msgs {
		m := &msgs[i]
		switch {
		case m.Channel == s.channel:
			if m.Data != nil {
				s.onData(m.Data, now)
			}
		case m.Channel == bayeux.MetaConnect:
			if !m.IsSuccessful() && (m.Advice == nil || m.Advice.Reconnect != bayeux.ReconnectRetry) {
				return errSessionLost // told to handshake again: the bench does not
			}
			if err := s.connect(); err != nil {
				return err
			}
		}
	}
	return nil
}

// useWSLoop says whether a broadcast run's subscribers are the bench's
// own sessions read by one event loop (plain websockets, where the loop
// exists) rather than clients.
func useWSLoop(cfg BroadcastConfig) bool {
	return wsLoopSupported && cfg.Transport == bayeux.TransportWebSocket && strings.HasPrefix(cfg.URL, "http://")
}

// setupSubs sets up the broadcast's subscribers, at most
// cfg.SetupConcurrency at a time. It fails when any could not be set up.
func setupSubs(ctx context.Context, cfg BroadcastConfig, log *broadcastLog) ([]*wsSub, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil {
		return nil, err
	}
	subs := make([]*wsSub, cfg.Subscribers)
	sem := make(chan struct{}, max(cfg.SetupConcurrency, 1))
	var wg sync.WaitGroup
	var failed atomic.Int64
	var firstErr error
	var once sync.Once
	for i := range subs {
		sem <- struct{}{}
		if ctx.Err() != nil || failed.Load() > 0 {
			<-sem
			break
		}
		wg.Go(func() {
			defer func() { <-sem }()
			s, err := dialSub(ctx, u, cfg.Channel, 10*time.Second, log.receiver())
			if err != nil {
				failed.Add(1)
				once.Do(func() { firstErr = fmt.Errorf("session %d: %w", i, err) })
				return
			}
			subs[i] = s
		})
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		closeSubs(subs, cfg.SetupConcurrency)
		return nil, err
	}
	if n := failed.Load(); n > 0 {
		closeSubs(subs, cfg.SetupConcurrency)
		return nil, fmt.Errorf("setup: %w (and %d more)", firstErr, n-1)
	}
	return subs, nil
}

// closeSubs disconnects subs, a bounded number at a time.
func closeSubs(subs []*wsSub, concurrency int) {
	eachBounded(subs, concurrency, (*wsSub).disconnect)
}
