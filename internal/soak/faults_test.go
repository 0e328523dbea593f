package soak_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"time"

	"github.com/cometgen/cometgen/runtime/bayeux"
	"github.com/gorilla/websocket"
)

// poison is a publish's data holding two bytes that are not UTF-8, as
// issue 14's defect 1 sent them.
const poison = "{\"poison\":\"\xff\xfe\"}"

// invalidUTF8 publishes invalid UTF-8 on every transport, to a node
// straight, and counts the publishes the node refused with
// 400::invalid_utf8; the subscribers must neither receive them nor lose
// their connections over them.
func (h *harness) invalidUTF8() {
	for _, send := range []func(context.Context, string) (*bayeux.Message, error){
		publishHTTP(bayeux.TransportLongPolling, post),
		publishWebSocket,
		publishHTTP(bayeux.TransportCallbackPolling, jsonpRequest),
	} {
		addrs := h.nodes.order(0)
		if len(addrs) == 0 {
			return
		}
		ctx, cancel := context.WithTimeout(h.t.Context(), 5*time.Second)
		reply, err := send(ctx, addrs[0])
		cancel()
		if err != nil {
			h.logf("invalid UTF-8: %v", err) // a node or NATS may be down
			continue
		}
		h.utf8Sent.Add(1)
		if reply.IsSuccessful() || !strings.Contains(reply.Error, "invalid_utf8") {
			h.t.Errorf("a publish of invalid UTF-8 was answered %+v, want 400::invalid_utf8", reply)
			continue
		}
		h.utf8Refused.Add(1)
	}
}

// handshakeMsg is a handshake for transport, encoded.
func handshakeMsg(transport string) []byte {
	b, _ := json.Marshal([]map[string]any{{"channel": bayeux.MetaHandshake, "version": bayeux.Version, "supportedConnectionTypes": []string{transport}}})
	return b
}

// publishMsg is a publish of the poison, encoded as is: raw bytes, not
// escapes.
func publishMsg(clientID string) []byte {
	return []byte(fmt.Sprintf(`[{"channel":%q,"clientId":%q,"id":"p1","data":%s}]`, channels[0], clientID, poison))
}

func replyOn(msgs []bayeux.Message, channel string) (*bayeux.Message, error) {
	for i := range msgs {
		if msgs[i].Channel == channel && msgs[i].IsReply() {
			return &msgs[i], nil
		}
	}
	return nil, fmt.Errorf("no reply on %s in %d messages", channel, len(msgs))
}

func handshaken(msgs []bayeux.Message) (string, error) {
	r, err := replyOn(msgs, bayeux.MetaHandshake)
	if err != nil {
		return "", err
	}
	if !r.IsSuccessful() {
		return "", fmt.Errorf("handshake: %s", r.Error)
	}
	return r.ClientID, nil
}

func post(ctx context.Context, hc *http.Client, u string, body []byte) ([]bayeux.Message, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	status, out, err := do(hc, req)
	if err != nil {
		return nil, err
	}
	var msgs []bayeux.Message
	if err := json.Unmarshal(out, &msgs); err != nil {
		return nil, fmt.Errorf("HTTP %d: %.200s", status, out)
	}
	return msgs, nil
}

// do sends req and returns the status and body of the response.
func do(hc *http.Client, req *http.Request) (int, []byte, error) {
	resp, err := hc.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	return resp.StatusCode, out, err
}

// publishHTTP handshakes over an HTTP transport, through send (post or
// jsonpRequest), publishes the poison and returns the publish's reply.
func publishHTTP(transport string, send func(context.Context, *http.Client, string, []byte) ([]bayeux.Message, error)) func(context.Context, string) (*bayeux.Message, error) {
	return func(ctx context.Context, addr string) (*bayeux.Message, error) {
		hc := &http.Client{Transport: &http.Transport{}}
		defer hc.CloseIdleConnections()
		u := "http://" + addr + "/cometd"
		msgs, err := send(ctx, hc, u, handshakeMsg(transport))
		if err != nil {
			return nil, err
		}
		id, err := handshaken(msgs)
		if err != nil {
			return nil, err
		}
		defer send(ctx, hc, u, []byte(fmt.Sprintf(`[{"channel":"/meta/disconnect","clientId":%q}]`, id)))
		if msgs, err = send(ctx, hc, u, publishMsg(id)); err != nil {
			return nil, err
		}
		return replyOn(msgs, channels[0])
	}
}

// dialWS opens a raw websocket to the node at addr and handshakes on it.
func dialWS(ctx context.Context, addr string) (*websocket.Conn, string, error) {
	c, _, err := websocket.DefaultDialer.DialContext(ctx, "ws://"+addr+"/cometd", nil)
	if err != nil {
		return nil, "", err
	}
	if d, ok := ctx.Deadline(); ok {
		c.SetReadDeadline(d)
	}
	id, err := wsExchange(c, handshakeMsg(bayeux.TransportWebSocket), bayeux.MetaHandshake)
	if err != nil {
		c.Close()
		return nil, "", err
	}
	cid, err := handshaken([]bayeux.Message{*id})
	if err != nil {
		c.Close()
		return nil, "", err
	}
	return c, cid, nil
}

// wsExchange writes one frame and reads frames until the reply on channel.
func wsExchange(c *websocket.Conn, frame []byte, channel string) (*bayeux.Message, error) {
	if err := c.WriteMessage(websocket.TextMessage, frame); err != nil {
		return nil, err
	}
	for range 100 {
		_, b, err := c.ReadMessage()
		if err != nil {
			return nil, err
		}
		var msgs []bayeux.Message
		if err := json.Unmarshal(b, &msgs); err != nil {
			return nil, err
		}
		if r, err := replyOn(msgs, channel); err == nil {
			return r, nil
		}
	}
	return nil, fmt.Errorf("no reply on %s", channel)
}

func publishWebSocket(ctx context.Context, addr string) (*bayeux.Message, error) {
	c, id, err := dialWS(ctx, addr)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	r, err := wsExchange(c, publishMsg(id), channels[0])
	if err != nil {
		return nil, err
	}
	// The connection stays usable: a second publish, valid, is accepted.
	ok, err := wsExchange(c, []byte(fmt.Sprintf(`[{"channel":%q,"clientId":%q,"id":"p2","data":{"valid":true}}]`, "/soak/other", id)), "/soak/other")
	if err != nil {
		return nil, fmt.Errorf("after the invalid publish: %w", err)
	}
	if !ok.IsSuccessful() {
		return nil, fmt.Errorf("a valid publish after the invalid one: %s", ok.Error)
	}
	wsExchange(c, []byte(fmt.Sprintf(`[{"channel":"/meta/disconnect","clientId":%q}]`, id)), bayeux.MetaDisconnect)
	return r, nil
}

// halfOpen opens a raw websocket session subscribed to every channel on
// a random node, and then never reads from it again: the node must not
// hold up anyone else for it, and must reap it (pings, a read deadline)
// though the client never closes it.
func (h *harness) halfOpen(r *rand.Rand) {
	addrs := h.nodes.order(r.IntN(2))
	if len(addrs) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(h.t.Context(), 5*time.Second)
	defer cancel()
	c, id, err := dialWS(ctx, addrs[0])
	if err != nil {
		h.logf("half-open: %v", err)
		return
	}
	h.mu.Lock()
	h.raw = append(h.raw, func() { c.Close() })
	h.mu.Unlock()
	sub, _ := json.Marshal([]map[string]any{{"channel": bayeux.MetaSubscribe, "clientId": id, "subscription": channels[0]}, {"channel": bayeux.MetaSubscribe, "clientId": id, "subscription": channels[1]}, {"channel": bayeux.MetaSubscribe, "clientId": id, "subscription": channels[2]}})
	if _, err := wsExchange(c, sub, bayeux.MetaSubscribe); err != nil {
		h.logf("half-open: subscribe: %v", err)
		return
	}
	connect := fmt.Sprintf(`[{"channel":"/meta/connect","clientId":%q,"connectionType":"websocket","advice":{"timeout":0}}]`, id)
	if err := c.WriteMessage(websocket.TextMessage, []byte(connect)); err != nil {
		h.logf("half-open: connect: %v", err)
	}
	// From now on nothing reads c; gorilla answers no ping unread.
}
