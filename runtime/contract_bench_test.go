package runtime_test

import (
	"fmt"
	"testing"

	"github.com/cometgen/cometgen/runtime"
)

// contractOf returns a contract of n templates, /chat/{room} among them,
// the others of every shape: literal, parameters first, last and in the
// middle, wildcards.
func contractOf(n int) *runtime.Contract {
	c := &runtime.Contract{Templates: []runtime.Template{{
		Pattern: "/chat/{room}",
		Params:  []runtime.Param{{Name: "room", Pattern: "^[a-z0-9-]{1,32}$"}},
		Publish: runtime.Rule{runtime.Anyone()},
	}}}
	for i := 1; i < n; i++ {
		var p string
		switch i % 5 {
		case 0:
			p = fmt.Sprintf("/lit%d/x", i)
		case 1:
			p = fmt.Sprintf("/chat/{room}/m%d", i)
		case 2:
			p = fmt.Sprintf("/room%d/{id}/talk", i)
		case 3:
			p = fmt.Sprintf("/news%d/*", i)
		default:
			p = fmt.Sprintf("/deep%d/**", i)
		}
		c.Templates = append(c.Templates, runtime.Template{Pattern: p})
	}
	return c
}

// BenchmarkContractTemplates is a publish on /chat/lobby to 100 sessions
// under a contract of 1 and of 1,000 templates: "concrete", subscribed to
// /chat/lobby (the name's runtime channel remembers its template), and
// "wildcard", subscribed to /chat/* (the name is resolved at every
// publish). docs/performance.md records the ratio of 1,000 to 1.
func BenchmarkContractTemplates(b *testing.B) {
	for _, sub := range []string{"concrete", "wildcard"} {
		for _, n := range []int{1, 1000} {
			b.Run(fmt.Sprintf("%s/templates=%d", sub, n), func(b *testing.B) {
				srv := runtime.New(runtime.Options{MaxQueue: 1 << 20})
				defer srv.Shutdown(b.Context())
				if err := srv.SetContract(contractOf(n)); err != nil {
					b.Fatal(err)
				}
				channel := "/chat/lobby"
				if sub == "wildcard" {
					channel = "/chat/*"
				}
				const subs = 100
				pub, drain := runtime.BenchSubscribers(b, srv, subs, channel)
				body := []byte(`[{"channel":"/chat/lobby","clientId":"` + pub + `","id":"1","data":{"text":"hello, world"}}]`)
				if err := runtime.BenchPublish(srv, body); err != nil {
					b.Fatal(err)
				}
				if got := drain(); got != subs {
					b.Fatalf("the message reached %d of %d subscribers", got, subs)
				}
				publishLoop(b, srv, body, drain)
			})
		}
	}
}
