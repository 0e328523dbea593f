package main

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cometgen/cometgen/internal/cli"
	natsserver "github.com/nats-io/nats-server/v2/server"
	"github.com/rogpeppe/go-internal/testscript"
)

var update = flag.Bool("update", false, "update testscript files with actual output")

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"cometgen": func() { os.Exit(cli.Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)) },
	})
}

// TestScripts runs the CLI scripts in testdata/script.
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:                 "../../testdata/script",
		UpdateScripts:       *update,
		RequireExplicitExec: true,
		Setup: func(env *testscript.Env) error {
			port, err := freePort()
			if err != nil {
				return err
			}
			env.Setenv("PORT", strconv.Itoa(port))
			// Scripts that build generated code use this repository and the
			// machine's Go caches.
			repo, err := filepath.Abs("../..")
			if err != nil {
				return err
			}
			env.Setenv("REPO", repo)
			for _, k := range []string{"GOCACHE", "GOMODCACHE", "GOPATH", "GOPROXY", "GONOSUMDB", "GOFLAGS"} {
				if v := goEnv(k); v != "" {
					env.Setenv(k, v)
				}
			}
			env.Setenv("GOWORK", "off")
			// For scripts that take tools off PATH: the directories of
			// the cometgen command and of the go command.
			for name, tool := range map[string]string{"CMDBIN": "cometgen", "GOBINDIR": "go"} {
				p, err := exec.LookPath(tool)
				if err != nil {
					return err
				}
				env.Setenv(name, filepath.Dir(p))
			}
			env.Values[natsKey{}] = &natsHolder{}
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"bayeux-roundtrip": bayeuxRoundTrip,
			"bayeux-publish":   bayeuxPublish(0),
			"bayeux-roundtrip-wait": func(ts *testscript.TestScript, neg bool, args []string) {
				// bayeux-roundtrip-wait URL [SECONDS]
				wait := 10 * time.Second
				if len(args) == 2 {
					n, err := strconv.Atoi(args[1])
					ts.Check(err)
					wait = time.Duration(n) * time.Second
				}
				waitForServer(ts, args[0], wait)
			},
			"http-post":           httpPost,
			"bayeux-relay":        bayeuxRelay,
			"bayeux-publish-held": bayeuxPublish(3 * time.Second),
			"login":               login,
			"tls-cert":            tlsCert,
			"nats-embedded":       natsEmbedded,
			"nats-stop": func(ts *testscript.TestScript, neg bool, args []string) {
				if ns := ts.Value(natsKey{}).(*natsHolder).ns; ns != nil {
					ns.Shutdown()
					ns.WaitForShutdown()
				}
			},
			"http-get":    httpGet,
			"exit-status": exitStatus,
			"sleep": func(ts *testscript.TestScript, neg bool, args []string) {
				// sleep DURATION: time for a server to act on its own (a
				// lot of the auction archetype closing).
				if neg || len(args) != 1 {
					ts.Fatalf("usage: sleep DURATION")
				}
				d, err := time.ParseDuration(args[0])
				ts.Check(err)
				time.Sleep(d)
			},
			"free-port": func(ts *testscript.TestScript, neg bool, args []string) {
				if neg || len(args) != 1 {
					ts.Fatalf("usage: free-port VAR")
				}
				port, err := freePort()
				ts.Check(err)
				ts.Setenv(args[0], strconv.Itoa(port))
			},
		},
	})
}

// goEnv returns `go env NAME`.
func goEnv(name string) string {
	out, err := exec.Command("go", "env", name).Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// bayeuxRoundTrip URL waits (up to 10 s) for a Bayeux server at URL, then
// handshakes over long-polling, subscribes, publishes and receives the
// message back.
func bayeuxRoundTrip(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: bayeux-roundtrip URL")
	}
	url := args[0]
	c := scriptClient(ts, 5*time.Second)
	post := func(body string) ([]map[string]any, error) {
		resp, err := c.Post(url, "application/json", bytes.NewReader([]byte(body)))
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			return nil, fmt.Errorf("status %d: %s", resp.StatusCode, b)
		}
		var out []map[string]any
		return out, json.Unmarshal(b, &out)
	}
	hs := `[{"channel":"/meta/handshake","version":"1.0","supportedConnectionTypes":["long-polling"]}]`
	var replies []map[string]any
	var err error
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if replies, err = post(hs); err == nil || time.Now().After(deadline) {
			break
		}
	}
	ts.Check(err)
	id, _ := replies[0]["clientId"].(string)
	if id == "" {
		ts.Fatalf("handshake: %v", replies)
	}
	_, err = post(`[{"channel":"/meta/connect","clientId":"` + id + `","connectionType":"long-polling","advice":{"timeout":0}}]`)
	ts.Check(err)
	_, err = post(`[{"channel":"/meta/subscribe","clientId":"` + id + `","subscription":"/script"},` +
		`{"channel":"/script","clientId":"` + id + `","data":"round trip"}]`)
	ts.Check(err)
	replies, err = post(`[{"channel":"/meta/connect","clientId":"` + id + `","connectionType":"long-polling"}]`)
	ts.Check(err)
	if replies[0]["data"] != "round trip" {
		ts.Fatalf("connect after publish: %v", replies)
	}
	fmt.Fprintf(ts.Stdout(), "received %q on %s\n", replies[0]["data"], replies[0]["channel"])
}

// bayeuxPublish URL CHANNEL DATA [TOKEN] subscribes a long-polling
// session to CHANNEL, publishes DATA on it (as the user of TOKEN, if any)
// and prints the replies and the delivery. With hold (bayeux-publish-held),
// the subscriber's connect is sent first and the publish made hold later:
// 3 s is past runtime.DefaultParkAfter, so that on Linux the server has
// parked the connect (ParkHeldConnects) when the delivery answers it.
func bayeuxPublish(hold time.Duration) func(ts *testscript.TestScript, neg bool, args []string) {
	return func(ts *testscript.TestScript, neg bool, args []string) {
		if neg || len(args) < 3 || len(args) > 4 {
			ts.Fatalf("usage: bayeux-publish URL CHANNEL DATA [TOKEN]")
		}
		token := ""
		if len(args) == 4 {
			token = args[3]
		}
		bayeuxExchange(ts, args[0], args[0], args[1], args[2], token, hold)
	}
}

// bayeuxRelay PUBURL SUBURL CHANNEL DATA is bayeux-publish with the
// subscriber on the server at SUBURL and the publisher on the one at PUBURL:
// two nodes of a cluster.
func bayeuxRelay(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 4 {
		ts.Fatalf("usage: bayeux-relay PUBURL SUBURL CHANNEL DATA")
	}
	bayeuxExchange(ts, args[0], args[1], args[2], args[3], "", 0)
}

// bayeuxExchange subscribes a session of subURL to channel, publishes data
// from a session of pubURL (the same session when the URLs are equal) and
// prints the replies and the delivery. With hold, the subscriber's connect
// is sent first and the publish made hold later, while it is held.
func bayeuxExchange(ts *testscript.TestScript, pubURL, subURL, channel, data, token string, hold time.Duration) {
	c := scriptClient(ts, 5*time.Second+hold)
	post := func(url, body string) []map[string]any {
		resp, err := c.Post(url, "application/json", bytes.NewReader([]byte(body)))
		ts.Check(err)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		var out []map[string]any
		if err := json.Unmarshal(b, &out); err != nil {
			ts.Fatalf("status %d: %s", resp.StatusCode, b)
		}
		return out
	}
	ext := ""
	if token != "" {
		ext = `,"ext":{"auth":{"token":"` + token + `"}}`
	}
	handshake := func(url string) string {
		hs := post(url, `[{"channel":"/meta/handshake","version":"1.0","supportedConnectionTypes":["long-polling"]`+ext+`}]`)
		id, _ := hs[0]["clientId"].(string)
		if id == "" {
			b, _ := json.Marshal(hs[0])
			fmt.Fprintf(ts.Stdout(), "handshake: %s\n", b)
			return ""
		}
		post(url, `[{"channel":"/meta/connect","clientId":"`+id+`","connectionType":"long-polling","advice":{"timeout":0}}]`)
		return id
	}
	subID := handshake(subURL)
	if subID == "" {
		return
	}
	pubID := subID
	if pubURL != subURL {
		if pubID = handshake(pubURL); pubID == "" {
			return
		}
	}
	sub := post(subURL, `[{"channel":"/meta/subscribe","clientId":"`+subID+`","subscription":"`+channel+`"}]`)
	b, _ := json.Marshal(sub[0])
	fmt.Fprintf(ts.Stdout(), "subscribe: %s\n", b)
	held := make(chan []map[string]any, 1)
	if hold > 0 {
		if sub[0]["successful"] != true {
			return
		}
		if pubID == subID {
			// A session's own connect holds its connection: publish
			// from a second session.
			if pubID = handshake(pubURL); pubID == "" {
				return
			}
		}
		go func() {
			held <- post(subURL, `[{"channel":"/meta/connect","clientId":"`+subID+`","connectionType":"long-polling"}]`)
		}()
		time.Sleep(hold)
	}
	pub := post(pubURL, `[{"channel":"`+channel+`","clientId":"`+pubID+`","id":"7","data":`+data+`}]`)
	b, _ = json.Marshal(pub[0])
	fmt.Fprintf(ts.Stdout(), "publish: %s\n", b)
	if sub[0]["successful"] != true {
		return
	}
	var got []map[string]any
	if hold > 0 {
		got = <-held
	} else {
		got = post(subURL, `[{"channel":"/meta/connect","clientId":"`+subID+`","connectionType":"long-polling","advice":{"timeout":500}}]`)
	}
	for _, m := range got {
		if d, ok := m["data"]; ok {
			b, _ := json.Marshal(d)
			fmt.Fprintf(ts.Stdout(), "delivered: %s\n", b)
			return
		}
	}
	fmt.Fprintln(ts.Stdout(), "delivered: nothing")
}

// httpPost URL BEARER BODY posts BODY with "Authorization: Bearer BEARER"
// and prints the status and the response body.
func httpPost(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 3 {
		ts.Fatalf("usage: http-post URL BEARER BODY")
	}
	req, err := http.NewRequest(http.MethodPost, args[0], bytes.NewReader([]byte(args[2])))
	ts.Check(err)
	req.Header.Set("Authorization", "Bearer "+args[1])
	resp, err := scriptClient(ts, 5*time.Second).Do(req)
	ts.Check(err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	fmt.Fprintf(ts.Stdout(), "%d %s", resp.StatusCode, b)
}

// login URL USER VAR posts {"user": USER} to URL (a scaffolded chat's
// /login) and sets the environment variable VAR to the token it answers.
func login(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 3 {
		ts.Fatalf("usage: login URL USER VAR")
	}
	body, _ := json.Marshal(map[string]string{"user": args[1]})
	resp, err := scriptClient(ts, 5*time.Second).Post(args[0], "application/json", bytes.NewReader(body))
	ts.Check(err)
	defer resp.Body.Close()
	var out struct{ Token, Error string }
	ts.Check(json.NewDecoder(resp.Body).Decode(&out))
	if resp.StatusCode != http.StatusOK || out.Token == "" {
		ts.Fatalf("login: %d %s", resp.StatusCode, out.Error)
	}
	ts.Setenv(args[2], out.Token)
}

// waitForServer waits up to wait for a Bayeux handshake to succeed at url.
func waitForServer(ts *testscript.TestScript, url string, wait time.Duration) {
	c := scriptClient(ts, time.Second)
	for deadline := time.Now().Add(wait); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		resp, err := c.Post(url, "application/json", bytes.NewReader([]byte(`[{"channel":"/meta/handshake","version":"1.0","supportedConnectionTypes":["long-polling"]}]`)))
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
	}
	ts.Fatalf("no Bayeux server at %s", url)
}

// scriptClient returns the HTTP client of the script's commands: it trusts,
// besides the system's roots, the PEM certificate $BAYEUX_CA names (a file
// of the script's), so that they can speak to a server over TLS with a
// certificate the script made.
func scriptClient(ts *testscript.TestScript, timeout time.Duration) *http.Client {
	c := &http.Client{Timeout: timeout}
	if ca := ts.Getenv("BAYEUX_CA"); ca != "" {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM([]byte(ts.ReadFile(ca))) {
			ts.Fatalf("BAYEUX_CA %s: no certificate", ca)
		}
		c.Transport = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}
	}
	return c
}

// tlsCert CERT KEY writes a self-signed certificate for 127.0.0.1, valid
// for an hour, and its key, as PEM files of the script's.
func tlsCert(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: tls-cert CERT KEY")
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ts.Check(err)
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "127.0.0.1"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:             time.Now().Add(-time.Minute),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	ts.Check(err)
	kder, err := x509.MarshalECPrivateKey(key)
	ts.Check(err)
	ts.Check(os.WriteFile(ts.MkAbs(args[0]), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644))
	ts.Check(os.WriteFile(ts.MkAbs(args[1]), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600))
}

// natsEmbedded VAR [-no-jetstream] starts a NATS server (with JetStream,
// unless -no-jetstream) inside the test process, on a free loopback port,
// and sets VAR to its URL; it stops when the script ends.
func natsEmbedded(ts *testscript.TestScript, neg bool, args []string) {
	// nats-embedded VAR [-no-jetstream] [-token TOKEN]: VAR is set to its
	// URL, which carries the token when there is one.
	if neg || len(args) < 1 {
		ts.Fatalf("usage: nats-embedded VAR [-no-jetstream] [-token TOKEN]")
	}
	opts := &natsserver.Options{
		Host: "127.0.0.1", Port: -1, NoLog: true, NoSigs: true,
		JetStream: true, StoreDir: ts.MkAbs("nats-store"),
	}
	for rest := args[1:]; len(rest) > 0; rest = rest[1:] {
		switch {
		case rest[0] == "-no-jetstream":
			opts.JetStream = false
		case rest[0] == "-token" && len(rest) > 1:
			opts.Authorization = rest[1]
			rest = rest[1:]
		default:
			ts.Fatalf("usage: nats-embedded VAR [-no-jetstream] [-token TOKEN]")
		}
	}
	ns, err := natsserver.NewServer(opts)
	ts.Check(err)
	go ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		ts.Fatalf("embedded NATS did not start")
	}
	ts.Defer(ns.Shutdown)
	ts.Value(natsKey{}).(*natsHolder).ns = ns
	u := ns.ClientURL()
	if opts.Authorization != "" {
		u = strings.Replace(u, "://", "://"+opts.Authorization+"@", 1)
	}
	ts.Setenv(args[0], u)
}

// natsHolder keeps a script's embedded NATS server, for nats-stop.
type natsHolder struct{ ns *natsserver.Server }

type natsKey struct{}

// httpGet URL prints the status and body of GET URL, retrying for up to
// 10 s while it cannot connect or the status differs from the optional
// STATUS.
func httpGet(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 1 || len(args) > 2 {
		ts.Fatalf("usage: http-get URL [STATUS]")
	}
	c := scriptClient(ts, 5*time.Second)
	var status int
	var body []byte
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		resp, err := c.Get(args[0])
		if err == nil {
			body, _ = io.ReadAll(resp.Body)
			resp.Body.Close()
			status = resp.StatusCode
			if len(args) == 1 || strconv.Itoa(status) == args[1] {
				break
			}
		}
		if time.Now().After(deadline) {
			ts.Check(err)
			break
		}
	}
	fmt.Fprintf(ts.Stdout(), "%d %s", status, body)
}

// exitStatus N PROG [ARGS...] runs PROG like exec and fails unless it
// exits with status N; its output is the script's stdout and stderr.
func exitStatus(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: exit-status N PROG [ARGS...]")
	}
	want, err := strconv.Atoi(args[0])
	ts.Check(err)
	got := 0
	if err := ts.Exec(args[1], args[2:]...); err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			ts.Fatalf("%s: %v", args[1], err)
		}
		got = ee.ExitCode()
	}
	if got != want {
		ts.Fatalf("%s exited with status %d, want %d", args[1], got, want)
	}
}
