package gateway

import (
	"crypto/rsa"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// JWTAuth verifies the tokens clients present at handshake: JWTs that the
// application's own backend issued, signed with HS256 (a shared secret) or
// RS256 (the backend's private key; the gateway holds the public key).
type JWTAuth struct {
	// Secret verifies HS256 tokens.
	Secret []byte
	// PublicKey verifies RS256 tokens.
	PublicKey *rsa.PublicKey
	// UserClaim names the claim holding the user id. Default "sub".
	UserClaim string
	// RolesClaim names the claim holding the roles (an array of strings, or
	// one space-separated string). Default "roles".
	RolesClaim string
	// Issuer and Audience, when set, must match the token's.
	Issuer, Audience string
	// Leeway tolerates clock skew on exp and nbf. Default 30s.
	Leeway time.Duration
}

var errNoUser = errors.New("token names no user")

// Identity is what a verified token says about its bearer.
type Identity struct {
	UserID string
	Roles  []string
}

// LoadRSAPublicKey reads a PEM-encoded RSA public key (PKIX or PKCS#1, or
// a certificate).
func LoadRSAPublicKey(path string) (*rsa.PublicKey, error) {
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load public key: %w", err)
	}
	key, err := jwt.ParseRSAPublicKeyFromPEM(pem)
	if err != nil {
		return nil, fmt.Errorf("load public key %s: %w", path, err)
	}
	return key, nil
}

// Verify checks token and returns its bearer's identity.
func (a *JWTAuth) Verify(token string) (Identity, error) {
	var methods []string
	if len(a.Secret) > 0 {
		methods = append(methods, jwt.SigningMethodHS256.Alg())
	}
	if a.PublicKey != nil {
		methods = append(methods, jwt.SigningMethodRS256.Alg())
	}
	if len(methods) == 0 {
		return Identity{}, errors.New("no verification key configured")
	}
	leeway := a.Leeway
	if leeway == 0 {
		leeway = 30 * time.Second
	}
	opts := []jwt.ParserOption{jwt.WithValidMethods(methods), jwt.WithLeeway(leeway), jwt.WithExpirationRequired()}
	if a.Issuer != "" {
		opts = append(opts, jwt.WithIssuer(a.Issuer))
	}
	if a.Audience != "" {
		opts = append(opts, jwt.WithAudience(a.Audience))
	}
	claims := jwt.MapClaims{}
	_, err := jwt.ParseWithClaims(token, claims, func(t *jwt.Token) (any, error) {
		switch t.Method.Alg() {
		case jwt.SigningMethodHS256.Alg():
			return a.Secret, nil
		case jwt.SigningMethodRS256.Alg():
			return a.PublicKey, nil
		}
		return nil, fmt.Errorf("unexpected signing method %s", t.Method.Alg())
	}, opts...)
	if err != nil {
		return Identity{}, err
	}
	userClaim := a.UserClaim
	if userClaim == "" {
		userClaim = "sub"
	}
	id, _ := claims[userClaim].(string)
	if id == "" {
		return Identity{}, fmt.Errorf("%w: no %s claim", errNoUser, userClaim)
	}
	rolesClaim := a.RolesClaim
	if rolesClaim == "" {
		rolesClaim = "roles"
	}
	var roles []string
	switch v := claims[rolesClaim].(type) {
	case []any:
		for _, r := range v {
			if s, ok := r.(string); ok {
				roles = append(roles, s)
			}
		}
	case string:
		for _, r := range splitSpaces(v) {
			roles = append(roles, r)
		}
	}
	return Identity{UserID: id, Roles: roles}, nil
}

func splitSpaces(s string) []string {
	var out []string
	start := -1
	for i := 0; i <= len(s); i++ {
		if i == len(s) || s[i] == ' ' {
			if start >= 0 {
				out = append(out, s[start:i])
				start = -1
			}
			continue
		}
		if start < 0 {
			start = i
		}
	}
	return out
}

// tokenProblem names what is wrong with a refused token, in words fit for
// the client: the JWT library's own messages may quote the token's bytes.
func tokenProblem(err error) string {
	switch {
	case errors.Is(err, jwt.ErrTokenExpired):
		return "token_expired"
	case errors.Is(err, jwt.ErrTokenNotValidYet):
		return "token_not_valid_yet"
	case errors.Is(err, jwt.ErrTokenMalformed):
		return "token_malformed"
	case errors.Is(err, jwt.ErrTokenSignatureInvalid), errors.Is(err, jwt.ErrTokenUnverifiable):
		return "token_signature_invalid"
	case errors.Is(err, jwt.ErrTokenInvalidIssuer):
		return "token_issuer_invalid"
	case errors.Is(err, jwt.ErrTokenInvalidAudience):
		return "token_audience_invalid"
	case errors.Is(err, errNoUser):
		return "token_without_user"
	}
	return "token_invalid"
}
