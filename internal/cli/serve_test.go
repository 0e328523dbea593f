package cli

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// syncBuffer is a bytes.Buffer safe for a writer and a reader at once.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

var servingRE = regexp.MustCompile(`serving Bayeux at (\S+)`)

// startServe runs cometgen serve with args on a free loopback port and
// returns the URL it serves; it is stopped when the test ends.
func startServe(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var out, errOut syncBuffer
	cmd := newRootCmd()
	cmd.SetArgs(append([]string{"serve", "--addr", "127.0.0.1:0", "--log-level", "error"}, args...))
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	done := make(chan error, 1)
	go func() { done <- cmd.ExecuteContext(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if m := servingRE.FindStringSubmatch(out.String()); m != nil {
			return m[1]
		}
		select {
		case err := <-done:
			t.Fatalf("serve exited: %v\n%s", err, errOut.String())
		case <-time.After(10 * time.Millisecond):
		}
	}
	t.Fatalf("serve did not start: %s", errOut.String())
	return ""
}

// closedBy reads c until the server closes it, and fails if that does not
// happen within a generous deadline.
func closedBy(t *testing.T, c net.Conn) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, err := io.Copy(io.Discard, c)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Errorf("the connection is still open after 10s")
	}
}

// TestServeTimeouts: a slow header, a slow body, an idle keep-alive and a
// silent websocket are all closed within the configured (here short)
// timeouts.
func TestServeTimeouts(t *testing.T) {
	base := startServe(t, "--read-header-timeout", "200ms", "--body-read-timeout", "200ms",
		"--idle-timeout", "200ms", "--ping-interval", "100ms", "--ping-timeout", "100ms")
	host := strings.TrimPrefix(strings.TrimSuffix(base, "/cometd"), "http://")
	tests := []struct {
		name string
		send string
	}{
		{"slow header", "GET /healthz HTTP/1.1\r\nHost: x\r\n"},
		{"slow body", "POST /cometd HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n[{"},
		{"idle keep-alive", "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"},
		{"silent websocket", "GET /cometd HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
			"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := net.Dial("tcp", host)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if _, err := io.WriteString(c, tt.send); err != nil {
				t.Fatal(err)
			}
			closedBy(t, c)
		})
	}
}

// TestServeMaxConnections: connections over --max-connections are refused
// while the open ones keep working.
func TestServeMaxConnections(t *testing.T) {
	base := startServe(t, "--max-connections", "2")
	host := strings.TrimPrefix(strings.TrimSuffix(base, "/cometd"), "http://")
	get := func(c net.Conn, br *bufio.Reader) error {
		fmt.Fprintf(c, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("status %d", resp.StatusCode)
		}
		return nil
	}
	var open []net.Conn
	var readers []*bufio.Reader
	for range 2 {
		c, err := net.Dial("tcp", host)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		br := bufio.NewReader(c)
		if err := get(c, br); err != nil {
			t.Fatalf("within the cap: %v", err)
		}
		open, readers = append(open, c), append(readers, br)
	}
	over, err := net.Dial("tcp", host)
	if err != nil {
		t.Fatal(err)
	}
	defer over.Close()
	if err := get(over, bufio.NewReader(over)); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("over the cap: %v, want the connection refused", err)
	}
	for i, c := range open {
		if err := get(c, readers[i]); err != nil {
			t.Errorf("an open connection after a refusal: %v", err)
		}
	}
}

// selfSigned writes a self-signed certificate for 127.0.0.1 and its key to
// dir and returns their paths and a pool that trusts the certificate.
func selfSigned(t *testing.T, dir string) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "cometgen test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile, pool
}

// TestServeTLS serves long-polling and websocket over TLS with a
// certificate made for the test.
func TestServeTLS(t *testing.T) {
	certFile, keyFile, pool := selfSigned(t, t.TempDir())
	base := startServe(t, "--tls-cert", certFile, "--tls-key", keyFile)
	if !strings.HasPrefix(base, "https://") {
		t.Fatalf("serving %s, want https", base)
	}
	tc := &tls.Config{RootCAs: pool}

	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: tc.Clone(), ForceAttemptHTTP2: true}, Timeout: 10 * time.Second}
	resp, err := hc.Post(base, "application/json", strings.NewReader(`[{"channel":"/meta/handshake","version":"1.0","supportedConnectionTypes":["long-polling"]}]`))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), `"successful":true`) || resp.TLS == nil {
		t.Errorf("handshake over https (%s): %s", resp.Proto, body)
	}

	d := websocket.Dialer{TLSClientConfig: tc.Clone(), HandshakeTimeout: 10 * time.Second}
	c, wresp, err := d.Dial("wss"+strings.TrimPrefix(base, "https"), nil)
	if err != nil {
		t.Fatalf("wss: %v", err)
	}
	wresp.Body.Close()
	defer c.Close()
	c.WriteMessage(websocket.TextMessage, []byte(`[{"channel":"/meta/handshake","version":"1.0","supportedConnectionTypes":["websocket"]}]`))
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, b, err := c.ReadMessage(); err != nil || !strings.Contains(string(b), `"successful":true`) {
		t.Errorf("handshake over wss: %s, %v", b, err)
	}
}

func TestServeBadConnFlags(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile, _ := selfSigned(t, dir)
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--tls-cert", certFile}, "--tls-cert and --tls-key: give both, or neither"},
		{[]string{"--tls-key", keyFile}, "--tls-cert and --tls-key: give both, or neither"},
		{[]string{"--tls-cert", keyFile, "--tls-key", certFile}, "--tls-cert, --tls-key: "},
		{[]string{"--tls-cert", filepath.Join(dir, "missing.pem"), "--tls-key", keyFile}, "no such file"},
		{[]string{"--max-connections", "-1"}, "--max-connections -1: must not be negative"},
		{[]string{"--park-after", "-1s"}, "--park-after -1s: must not be negative"},
		{[]string{"--nats", "nats://127.0.0.1:1", "--nats-timeout", "0s"}, "--nats-timeout 0s: must be positive"},
	}
	for _, tt := range tests {
		cmd := newRootCmd()
		cmd.SetArgs(append([]string{"serve", "--addr", "127.0.0.1:0"}, tt.args...))
		cmd.SetOut(io.Discard)
		cmd.SetErr(io.Discard)
		err := cmd.ExecuteContext(t.Context())
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("serve %v: %v, want %q", tt.args, err, tt.want)
		}
	}
}

// TestServeParkedGauge: a long-polling connect held past --park-after is
// parked, and /metrics says so while it is, and not after its answer.
func TestServeParkedGauge(t *testing.T) {
	base := startServe(t, "--metrics", "--park-after", "100ms")
	bayeuxURL := base
	metricsURL := strings.TrimSuffix(base, "/cometd") + "/metrics"
	post := func(body string) []map[string]any {
		t.Helper()
		resp, err := http.Post(bayeuxURL, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out []map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
			t.Fatal(err)
		}
		return out
	}
	parked := func() string {
		t.Helper()
		resp, err := http.Get(metricsURL)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		m := regexp.MustCompile(`(?m)^cometgen_parked_connects (\S+)$`).FindSubmatch(b)
		if m == nil {
			t.Fatalf("no cometgen_parked_connects in /metrics")
		}
		return string(m[1])
	}
	if got := parked(); got != "0" {
		t.Fatalf("parked before any connect: %s", got)
	}
	hs := post(`[{"channel":"/meta/handshake","version":"1.0","supportedConnectionTypes":["long-polling"]}]`)
	id := hs[0]["clientId"].(string)
	post(`[{"channel":"/meta/connect","clientId":"` + id + `","connectionType":"long-polling","advice":{"timeout":0}}]`)
	done := make(chan []map[string]any, 1)
	go func() {
		done <- post(`[{"channel":"/meta/connect","clientId":"` + id + `","connectionType":"long-polling","advice":{"timeout":1500}}]`)
	}()
	deadline := time.Now().Add(1200 * time.Millisecond)
	for parked() != "1" {
		if time.Now().After(deadline) {
			t.Fatalf("the held connect was not counted as parked: %s", parked())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if r := <-done; r[0]["successful"] != true {
		t.Fatalf("parked connect answered %v", r)
	}
	if got := parked(); got != "0" {
		t.Errorf("parked after the answer: %s", got)
	}
}
