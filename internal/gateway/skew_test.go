package gateway_test

import (
	"context"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cometgen/cometgen/internal/gateway"
	"github.com/cometgen/cometgen/runtime"
	"github.com/cometgen/cometgen/runtime/bayeux"
	"github.com/cometgen/cometgen/runtime/client"
	"github.com/cometgen/cometgen/schema"
	"github.com/cometgen/cometgen/schema/breaking"
)

// skewServer serves spec through the gateway, knowing the older versions
// olds (Options.CompatWith).
func skewServer(t *testing.T, spec *schema.Spec, olds ...*schema.Spec) (*runtime.Server, string) {
	t.Helper()
	srv := runtime.New(runtime.Options{})
	t.Cleanup(func() { srv.Shutdown(context.Background()) })
	opts := gateway.Options{CompatWith: olds, Auth: &gateway.JWTAuth{Secret: []byte("secret")}}
	for _, ch := range spec.Channels {
		for _, f := range ch.Filters {
			if f.Custom {
				if opts.Filters == nil {
					opts.Filters = map[string]runtime.DataFilter{}
				}
				opts.Filters[f.Name] = runtime.DataFilterFunc(func(_ context.Context, _ *runtime.ServerSession, _ string, data any) (any, error) { return data, nil })
			}
		}
	}
	if _, err := gateway.Install(srv, spec, opts); err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	return srv, hs.URL + "/cometd"
}

// handshakeAs handshakes with the contract of the spec a client was
// generated from and returns the server's verdict.
func handshakeAs(t *testing.T, url string, built *schema.Spec) (client.ContractChange, bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	c := client.New(url, client.WithTransport(bayeux.TransportLongPolling),
		client.WithContract(breaking.Fingerprint(built).ContractExt(), nil))
	if err := c.Handshake(ctx); err != nil {
		t.Fatalf("handshake: %v", err)
	}
	defer c.Disconnect(ctx)
	return c.ContractChanged()
}

// TestSkewCorpus serves the new spec of every case of the breaking corpus
// to a client built against its old one, the server knowing the old spec
// (--compat-with): the client is told of exactly the channels with a
// breaking change of error level (accepted ones included: accepting a
// break in CI does not mend the deployed clients); a case with none, an
// ok- case or one of warnings only, changes nothing.
func TestSkewCorpus(t *testing.T) {
	const corpus = "../../testdata/breaking"
	dirs, err := filepath.Glob(filepath.Join(corpus, "*"))
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no cases in %s: %v", corpus, err)
	}
	var sawBreaking, sawCompatible bool
	for _, dir := range dirs {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			old := loadSpec(t, filepath.Join(dir, "old.yaml"))
			new := loadSpec(t, filepath.Join(dir, "new.yaml"))
			fs, err := breaking.Compare(old, new)
			if err != nil {
				t.Fatal(err)
			}
			var want []string
			for _, f := range fs {
				if f.Level == breaking.Error && f.Channel != "" && !slices.Contains(want, f.Channel) {
					want = append(want, f.Channel)
				}
			}
			slices.Sort(want)
			if strings.HasPrefix(filepath.Base(dir), "ok-") && len(want) > 0 {
				t.Fatalf("an ok- case with errors: %v", want)
			}
			srv, url := skewServer(t, new, old)
			if new.Auth.Handshake == schema.HandshakeRequired && old.Auth.Handshake != schema.HandshakeRequired {
				// AUTH_HANDSHAKE_REQUIRED: the client's handshake is refused,
				// which tells it more than a verdict would.
				return
			}
			change, told := handshakeAs(t, url, old)
			if !slices.Equal(change.Breaking, want) {
				t.Errorf("told of %v, want %v", change.Breaking, want)
			}
			st := srv.Stats()
			same := breaking.Fingerprint(old).Hash == breaking.Fingerprint(new).Hash
			switch {
			case len(want) > 0:
				sawBreaking = true
				if !told || st.SkewBreaking != 1 || st.SkewCompatible != 0 {
					t.Errorf("told %v, SkewBreaking %d, SkewCompatible %d; want told, 1, 0", told, st.SkewBreaking, st.SkewCompatible)
				}
				if change.Spec != new.Name || change.Hash != breaking.Fingerprint(new).Hash {
					t.Errorf("the verdict names %s %s, want the server's contract %s %s", change.Spec, change.Hash, new.Name, breaking.Fingerprint(new).Hash)
				}
			case same:
				if told || st.SkewBreaking+st.SkewCompatible != 0 {
					t.Errorf("the same contract: told %v, skew counted %+v", told, st)
				}
			default:
				sawCompatible = true
				if told || st.SkewCompatible != 1 || st.SkewBreaking != 0 {
					t.Errorf("told %v, SkewCompatible %d, SkewBreaking %d; want not told, 1, 0", told, st.SkewCompatible, st.SkewBreaking)
				}
			}
		})
	}
	if !sawBreaking || !sawCompatible {
		t.Errorf("the corpus has a breaking case: %v, a compatible one: %v", sawBreaking, sawCompatible)
	}
}

// TestSkewWithoutHistory: a server that was not given the older version
// cannot compare what lies behind a print it does not know, and tells the
// client of every channel whose print differs; one the client does not
// send is not judged; the same contract is not judged either.
func TestSkewWithoutHistory(t *testing.T) {
	dir := filepath.Join("..", "..", "testdata", "breaking", "ok-optional-field-published")
	old := loadSpec(t, filepath.Join(dir, "old.yaml"))
	new := loadSpec(t, filepath.Join(dir, "new.yaml"))
	srv, url := skewServer(t, new)
	change, told := handshakeAs(t, url, old)
	if !told || len(change.Breaking) == 0 {
		t.Fatalf("a change the server cannot judge: told %v %v, want told", told, change)
	}
	heard := make(chan client.ContractChange, 1)
	ctx0, cancel0 := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel0()
	c := client.New(url, client.WithTransport(bayeux.TransportLongPolling),
		client.WithContract(breaking.Fingerprint(old).ContractExt(), func(ch client.ContractChange) { heard <- ch }))
	if err := c.Handshake(ctx0); err != nil {
		t.Fatal(err)
	}
	c.Disconnect(ctx0)
	select {
	case ch := <-heard:
		if !slices.Equal(ch.Breaking, change.Breaking) {
			t.Errorf("onChanged heard %v, ContractChanged said %v", ch.Breaking, change.Breaking)
		}
	case <-ctx0.Done():
		t.Error("WithContract's onChanged was not called")
	}
	if _, told := handshakeAs(t, url, new); told {
		t.Error("the server's own contract: told of a change")
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	plain := client.New(url, client.WithTransport(bayeux.TransportLongPolling))
	if err := plain.Handshake(ctx); err != nil {
		t.Fatal(err)
	}
	plain.Disconnect(ctx)
	if st := srv.Stats(); st.SkewBreaking != 2 || st.SkewCompatible != 0 {
		t.Errorf("SkewBreaking %d, SkewCompatible %d; want 2, 0", st.SkewBreaking, st.SkewCompatible)
	}
}

func loadSpec(t *testing.T, path string) *schema.Spec {
	t.Helper()
	if _, err := os.Stat(path); err != nil {
		t.Fatal(err)
	}
	s, err := schema.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return s
}
