package client_test

import (
	"context"
	"fmt"
	"log"
	"net/http/httptest"

	"github.com/cometgen/cometgen/runtime"
	"github.com/cometgen/cometgen/runtime/bayeux"
	"github.com/cometgen/cometgen/runtime/client"
)

func Example() {
	// A cometgen server on a loopback port, for the example.
	srv := httptest.NewServer(runtime.New(runtime.Options{}))
	defer srv.Close()
	ctx := context.Background()

	c := client.New(srv.URL + "/cometd") // websocket by default
	if err := c.Handshake(ctx); err != nil {
		log.Fatal(err)
	}
	defer c.Disconnect(ctx)

	got := make(chan string, 1)
	_, err := c.Subscribe(ctx, "/chat/*", func(m *bayeux.Message) {
		got <- m.Channel + " " + string(m.Data)
	})
	if err != nil {
		log.Fatal(err)
	}
	if err := c.Publish(ctx, "/chat/lobby", map[string]string{"text": "hello"}); err != nil {
		log.Fatal(err)
	}
	fmt.Println(<-got)
	// Output: /chat/lobby {"text":"hello"}
}

func ExampleClient_PublishAsync() {
	srv := httptest.NewServer(runtime.New(runtime.Options{}))
	defer srv.Close()
	ctx := context.Background()
	c := client.New(srv.URL+"/cometd", client.WithTransport(bayeux.TransportLongPolling))
	if err := c.Handshake(ctx); err != nil {
		log.Fatal(err)
	}
	defer c.Disconnect(ctx)

	// Keep at most 8 publishes unacknowledged.
	window := make(chan struct{}, 8)
	for i := range 100 {
		window <- struct{}{}
		err := c.PublishAsync(ctx, "/numbers", i, func(err error) {
			if err != nil {
				log.Print(err)
			}
			<-window
		})
		if err != nil {
			log.Fatal(err)
		}
	}
	for range cap(window) {
		window <- struct{}{} // wait for the last acknowledgements
	}
	fmt.Println("published 100")
	// Output: published 100
}
