package runtime

import "testing"

// TestDecodeRemoteWantsOneObject: an event from another node is one JSON
// object; an array of one would be queued as it is, nested in a reply.
func TestDecodeRemoteWantsOneObject(t *testing.T) {
	for _, c := range []struct {
		event string
		ok    bool
	}{
		{`{"channel":"/chat/room","data":"x"}`, true},
		{` {"channel":"/chat/room","data":"x"}`, true},
		{`[{"channel":"/chat/room","data":"x"}]`, false},
		{``, false},
		{`{"channel":"/chat/room"}`, false},
	} {
		if _, err := decodeRemote([]byte(c.event)); (err == nil) != c.ok {
			t.Errorf("decodeRemote(%s): %v, want ok %v", c.event, err, c.ok)
		}
	}
}

// TestMemoryBrokerClosedStaysOut: a handshake that races Close does not
// bring the closed node's user back online for the cluster.
func TestMemoryBrokerClosedStaysOut(t *testing.T) {
	c := NewMemoryCluster()
	b := c.Broker().(*memoryBroker)
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	b.SetUserOnline("alice", true)
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.online["alice"]) != 0 {
		t.Errorf("alice is online through a closed node: %v", c.online)
	}
}
