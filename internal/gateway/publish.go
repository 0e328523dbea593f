package gateway

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"

	"github.com/cometgen/cometgen/runtime/bayeux"
)

// MaxPublishBody bounds the body of a POST to the publish endpoint.
const MaxPublishBody = 1 << 20

// PublishHandler returns the HTTP endpoint through which the application's
// backend publishes without a Bayeux client: POST a JSON object
// {"channel": "/chat/lobby", "data": {...}} with the header
// "Authorization: Bearer <key>". The data is validated like a client's
// publish; the answer is {"successful": true, "deliveries": N}, or an HTTP
// error with {"successful": false, "error": "code:args:message"}.
func (g *Gateway) PublishHandler(key string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", "POST")
			writeJSON(w, http.StatusMethodNotAllowed, bayeux.NewError(405, "method_not_allowed"), 0)
			return
		}
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || key == "" || subtle.ConstantTimeCompare([]byte(strings.TrimSpace(got)), []byte(key)) != 1 {
			writeJSON(w, http.StatusUnauthorized, bayeux.NewError(401, "publish_key_invalid"), 0)
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxPublishBody))
		if err != nil {
			writeJSON(w, http.StatusRequestEntityTooLarge, bayeux.NewError(413, "body_too_large"), 0)
			return
		}
		var req struct {
			Channel string          `json:"channel"`
			Data    json.RawMessage `json:"data"`
		}
		if err := json.Unmarshal(body, &req); err != nil || req.Channel == "" || req.Data == nil {
			writeJSON(w, http.StatusBadRequest, bayeux.NewError(400, "want_channel_and_data"), 0)
			return
		}
		n, err := g.Publish(r.Context(), req.Channel, req.Data)
		if err != nil {
			var be *bayeux.Error
			if !errors.As(err, &be) {
				be = bayeux.NewError(500, "publish_failed")
			}
			status := http.StatusBadRequest
			if be.Code == 403 {
				status = http.StatusForbidden
			}
			writeJSON(w, status, be, 0)
			return
		}
		writeJSON(w, http.StatusOK, nil, n)
	})
}

func writeJSON(w http.ResponseWriter, status int, err *bayeux.Error, n int) {
	w.WriteHeader(status)
	if err != nil {
		json.NewEncoder(w).Encode(map[string]any{"successful": false, "error": err.Error()})
		return
	}
	json.NewEncoder(w).Encode(map[string]any{"successful": true, "deliveries": n})
}
