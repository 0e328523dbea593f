package natsbroker_test

import (
	"context"
	"log"
	"net/http"
	"os"

	"github.com/cometgen/cometgen/runtime"
	"github.com/cometgen/cometgen/runtime/natsbroker"
)

// A server main that joins a cluster: every server started this way with
// the same NATS URL is one Bayeux server to its clients.
func ExampleConnect() {
	ctx := context.Background()
	b, err := natsbroker.Connect(ctx, natsbroker.Options{URL: os.Getenv("NATS_URL")})
	if err != nil {
		log.Fatal(err) // NATS did not answer: natsbroker: connect to nats://…
	}
	srv := runtime.New(runtime.Options{Broker: b}) // srv.Shutdown closes b
	srv.OnUserPresence(func(user string, online bool) {
		log.Printf("user %s online in the cluster: %v", user, online)
	})
	rooms, err := b.Map(ctx, "rooms", natsbroker.MapOptions{})
	if err != nil {
		log.Fatal(err)
	}
	_ = rooms.Put(ctx, "lobby/ann", []byte(`{"since":"10:00"}`))

	http.Handle("/cometd", srv)
	http.Handle("/cometd/", srv)
	http.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		if err := srv.Healthy(); err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
		}
	})
	log.Fatal(http.ListenAndServe(":8080", nil))
}
