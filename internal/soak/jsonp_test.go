package soak_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/cometgen/cometgen/internal/soak"
	"github.com/cometgen/cometgen/runtime/bayeux"
)

// jsonpClient is a minimal callback-polling (JSONP) subscriber, since the
// Go client does not speak that transport: it handshakes with the ack and
// resume extensions, subscribes, and polls /meta/connect, acknowledging
// every batch; when its session is lost it handshakes again and
// re-subscribes from the last position it received, as the Go client's
// WithResume does, dropping replayed events it already had.
type jsonpClient struct {
	url      string
	channels []string
	hc       *http.Client
	onEvent  func(*bayeux.Message)

	clientID   string
	previousID string
	ackBatch   int64
	position   uint64
	positioned bool

	mu           sync.Mutex
	ready        bool // subscribed once
	overlaps     int  // replayed events dropped as already received
	gaps         int  // connects that said a resume was incomplete
	rehandshakes int
}

func newJSONPClient(url string, channels []string, onEvent func(*bayeux.Message)) *jsonpClient {
	jar, _ := cookiejar.New(nil)
	return &jsonpClient{
		url: url, channels: channels, onEvent: onEvent,
		hc: &http.Client{Jar: jar, Timeout: soak.ConnectHold + 3*time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 2}},
	}
}

// send makes one callback-polling request and returns the messages of its
// answer.
func (j *jsonpClient) send(ctx context.Context, msgs []map[string]any) ([]bayeux.Message, error) {
	body, err := json.Marshal(msgs)
	if err != nil {
		return nil, err
	}
	return jsonpRequest(ctx, j.hc, j.url, body)
}

// jsonpRequest sends body (a JSON array of messages, sent as is) as a
// callback-polling GET and decodes the JavaScript it gets back.
func jsonpRequest(ctx context.Context, hc *http.Client, u string, body []byte) ([]bayeux.Message, error) {
	q := url.Values{"jsonp": {"cb"}, "message": {string(body)}}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u+"?"+q.Encode(), nil)
	if err != nil {
		return nil, err
	}
	status, out, err := do(hc, req)
	if err != nil {
		return nil, err
	}
	if status != http.StatusOK {
		return nil, fmt.Errorf("HTTP %d: %.200s", status, out)
	}
	js, ok := bytes.CutPrefix(out, []byte("cb("))
	if ok {
		js, ok = bytes.CutSuffix(js, []byte(");"))
	}
	if !ok {
		return nil, fmt.Errorf("not a JSONP answer: %.200s", out)
	}
	var replies []bayeux.Message
	if err := json.Unmarshal(js, &replies); err != nil {
		return nil, fmt.Errorf("JSONP answer: %w", err)
	}
	return replies, nil
}

var errRehandshake = errors.New("session lost")

// run handshakes, subscribes and polls until ctx ends; then it
// disconnects. It returns the first error that is not a network fault.
func (j *jsonpClient) run(ctx context.Context) {
	backoff := func() {
		select {
		case <-ctx.Done():
		case <-time.After(100 * time.Millisecond):
		}
	}
	for ctx.Err() == nil {
		if j.clientID == "" {
			if err := j.handshake(ctx); err != nil {
				backoff()
				continue
			}
		}
		err := j.connect(ctx)
		switch {
		case errors.Is(err, errRehandshake):
			j.previousID, j.clientID = j.clientID, ""
			j.mu.Lock()
			j.rehandshakes++
			j.mu.Unlock()
		case err != nil:
			backoff() // the network: poll again, the server sends again what was not acknowledged
		}
	}
	if j.clientID != "" {
		dctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		j.send(dctx, []map[string]any{{"channel": bayeux.MetaDisconnect, "clientId": j.clientID}})
	}
}

func (j *jsonpClient) handshake(ctx context.Context) error {
	replies, err := j.send(ctx, []map[string]any{{
		"channel": bayeux.MetaHandshake, "version": bayeux.Version,
		"supportedConnectionTypes": []string{bayeux.TransportCallbackPolling},
		"ext":                      map[string]any{"ack": true, "resume": true},
	}})
	if err != nil {
		return err
	}
	if len(replies) != 1 || !replies[0].IsSuccessful() {
		return fmt.Errorf("handshake refused: %+v", replies)
	}
	if replies[0].Ext["ack"] != true || replies[0].Ext["resume"] != true {
		return fmt.Errorf("handshake: ack or resume not granted: %v", replies[0].Ext)
	}
	id := replies[0].ClientID
	subs := make([]map[string]any, len(j.channels))
	for i, ch := range j.channels {
		subs[i] = map[string]any{"channel": bayeux.MetaSubscribe, "clientId": id, "subscription": ch}
		if j.positioned {
			subs[i]["ext"] = map[string]any{"resume": map[string]any{"position": j.position, "session": j.previousID}}
		}
	}
	replies, err = j.send(ctx, subs)
	if err != nil {
		return err
	}
	for _, r := range replies {
		if r.Channel != bayeux.MetaSubscribe {
			continue
		}
		if !r.IsSuccessful() {
			return fmt.Errorf("subscribe refused: %s", r.Error)
		}
		if p, ok := r.Ext["resume"].(float64); ok && !j.positioned {
			j.position, j.positioned = uint64(p), true
		}
	}
	j.clientID, j.ackBatch = id, 0
	j.mu.Lock()
	j.ready = true
	j.mu.Unlock()
	return nil
}

func (j *jsonpClient) connect(ctx context.Context) error {
	replies, err := j.send(ctx, []map[string]any{{
		"channel": bayeux.MetaConnect, "clientId": j.clientID,
		"connectionType": bayeux.TransportCallbackPolling,
		"ext":            map[string]any{"ack": j.ackBatch},
	}})
	if err != nil {
		return err
	}
	var reply *bayeux.Message
	for i := range replies {
		m := &replies[i]
		if m.Channel == bayeux.MetaConnect {
			reply = m
			continue
		}
		if m.IsReply() || strings.HasPrefix(m.Channel, "/meta/") {
			continue
		}
		if p, ok := m.Ext["resume"].(float64); ok {
			if j.positioned && uint64(p) <= j.position {
				j.mu.Lock()
				j.overlaps++ // replayed, and already had
				j.mu.Unlock()
				continue
			}
			j.position, j.positioned = uint64(p), true
		}
		j.onEvent(m)
	}
	if reply == nil {
		return fmt.Errorf("no connect reply in %d messages", len(replies))
	}
	if !reply.IsSuccessful() {
		if reply.Advice != nil && reply.Advice.Reconnect == bayeux.ReconnectHandshake {
			return errRehandshake
		}
		if reply.Advice != nil && reply.Advice.Reconnect == bayeux.ReconnectNone || strings.HasPrefix(reply.Error, "402:") {
			return errRehandshake
		}
		return fmt.Errorf("connect: %s", reply.Error)
	}
	if n, ok := reply.Ext["ack"].(float64); ok {
		j.ackBatch = int64(n)
	}
	if complete, ok := reply.Ext["resume"].(bool); ok && !complete {
		j.mu.Lock()
		j.gaps++
		j.mu.Unlock()
	}
	return nil
}

func (j *jsonpClient) counts() (gaps, rehandshakes int) {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.gaps, j.rehandshakes
}
