package bayeux

import (
	"encoding/json"
	"slices"
	"testing"
)

func TestErrorRoundTrip(t *testing.T) {
	tests := []struct {
		wire string
		want Error
	}{
		{"402::session_unknown", Error{Code: 402, Message: "session_unknown"}},
		{"403:denied_by_security_policy:subscribe_denied", Error{Code: 403, Args: []string{"denied_by_security_policy"}, Message: "subscribe_denied"}},
		{"405:c1,s2:no_transport", Error{Code: 405, Args: []string{"c1", "s2"}, Message: "no_transport"}},
	}
	for _, tt := range tests {
		got := ParseError(tt.wire)
		if got.Code != tt.want.Code || got.Message != tt.want.Message || !slices.Equal(got.Args, tt.want.Args) {
			t.Errorf("ParseError(%q) = %+v, want %+v", tt.wire, got, tt.want)
		}
		if s := got.Error(); s != tt.wire {
			t.Errorf("ParseError(%q).Error() = %q", tt.wire, s)
		}
	}
	if e := ParseError("Unknown client"); e.Code != 0 || e.Message != "Unknown client" {
		t.Errorf("ParseError of free text = %+v", e)
	}
}

func TestSubscriptions(t *testing.T) {
	tests := []struct {
		raw     string
		want    []string
		wantErr bool
	}{
		{`"/a"`, []string{"/a"}, false},
		{`["/a","/b/*"]`, []string{"/a", "/b/*"}, false},
		{``, nil, false},
		{`null`, nil, false},
		{`42`, nil, true},
		{`[1]`, nil, true},
	}
	for _, tt := range tests {
		m := Message{Subscription: json.RawMessage(tt.raw)}
		got, err := m.Subscriptions()
		if (err != nil) != tt.wantErr || !slices.Equal(got, tt.want) {
			t.Errorf("Subscriptions(%s) = %q, %v; want %q, err %v", tt.raw, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestIDAcceptsStringOrNumber(t *testing.T) {
	var ms []Message
	if err := json.Unmarshal([]byte(`[{"id":"7"},{"id":8},{"id":null},{}]`), &ms); err != nil {
		t.Fatal(err)
	}
	want := []ID{"7", "8", "", ""}
	for i, m := range ms {
		if m.ID != want[i] {
			t.Errorf("message %d id = %q, want %q", i, m.ID, want[i])
		}
	}
	if err := json.Unmarshal([]byte(`{"id":{}}`), new(Message)); err == nil {
		t.Error("an object id was accepted")
	}
}
