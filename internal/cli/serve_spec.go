package cli

import (
	"fmt"
	"log/slog"
	"net/http"
	"os"

	"github.com/cometgen/cometgen/internal/gateway"
	"github.com/cometgen/cometgen/runtime"
	"github.com/cometgen/cometgen/schema"
	"github.com/cometgen/cometgen/schema/breaking"
	"github.com/spf13/pflag"
)

// specFlags are the flags of `serve --spec` (gateway mode).
type specFlags struct {
	spec            string
	allowUndeclared bool
	jwtSecretEnv    string
	jwtPublicKey    string
	jwtUserClaim    string
	jwtRolesClaim   string
	jwtIssuer       string
	jwtAudience     string
	publishKeyEnv   string
	publishPath     string
	compatWith      []string
}

func (f *specFlags) register(fl *pflag.FlagSet) {
	fl.StringVar(&f.spec, "spec", "", "enforce this spec file (gateway mode): schemas, rules, filters, authentication")
	fl.BoolVar(&f.allowUndeclared, "allow-undeclared", false, "with --spec: let clients use channels the spec does not declare")
	fl.StringVar(&f.jwtSecretEnv, "jwt-secret-env", "COMETGEN_JWT_SECRET", "with --spec: environment variable holding the HS256 secret of handshake tokens")
	fl.StringVar(&f.jwtPublicKey, "jwt-public-key", "", "with --spec: PEM file of the RSA public key verifying RS256 handshake tokens")
	fl.StringVar(&f.jwtUserClaim, "jwt-user-claim", "sub", "with --spec: token claim holding the user id")
	fl.StringVar(&f.jwtRolesClaim, "jwt-roles-claim", "roles", "with --spec: token claim holding the roles")
	fl.StringVar(&f.jwtIssuer, "jwt-issuer", "", "with --spec: required token issuer (iss)")
	fl.StringVar(&f.jwtAudience, "jwt-audience", "", "with --spec: required token audience (aud)")
	fl.StringVar(&f.publishKeyEnv, "publish-key-env", "COMETGEN_PUBLISH_KEY", "with --spec: environment variable holding the key of the backend publish endpoint (unset: no endpoint)")
	fl.StringVar(&f.publishPath, "publish-path", "/publish", "with --spec: path of the backend publish endpoint")
	fl.StringArrayVar(&f.compatWith, "compat-with", nil, "with --spec: an older version of the spec (file, directory or git revision, as breaking --against takes) whose clients are not told of compatible changes; repeatable")
}

// install loads the spec and installs the gateway on srv, mounting the
// publish endpoint on mux when a key is configured.
func (f *specFlags) install(srv *runtime.Server, mux *http.ServeMux, log *slog.Logger) error {
	spec, err := schema.Load(f.spec)
	if err != nil {
		return err
	}
	opts := gateway.Options{AllowUndeclared: f.allowUndeclared}
	for _, ref := range f.compatWith {
		old, err := breaking.LoadOld(ref, f.spec)
		if err != nil {
			return fmt.Errorf("--compat-with %s: %w", ref, err)
		}
		opts.CompatWith = append(opts.CompatWith, old.Spec)
		_ = old.Close()
	}
	auth := &gateway.JWTAuth{UserClaim: f.jwtUserClaim, RolesClaim: f.jwtRolesClaim, Issuer: f.jwtIssuer, Audience: f.jwtAudience}
	if secret := os.Getenv(f.jwtSecretEnv); secret != "" {
		auth.Secret = []byte(secret)
	}
	if f.jwtPublicKey != "" {
		if auth.PublicKey, err = gateway.LoadRSAPublicKey(f.jwtPublicKey); err != nil {
			return err
		}
	}
	if len(auth.Secret) > 0 || auth.PublicKey != nil {
		opts.Auth = auth
	}
	g, err := gateway.Install(srv, spec, opts)
	if err != nil {
		return err
	}
	if key := os.Getenv(f.publishKeyEnv); key != "" {
		mux.Handle(f.publishPath, g.PublishHandler(key))
		log.Info("backend publish endpoint enabled", "path", f.publishPath)
	}
	log.Info("enforcing spec", "file", f.spec, "channels", len(spec.Channels))
	return nil
}

func (f *specFlags) check() error {
	if f.spec == "" && (f.allowUndeclared || f.jwtPublicKey != "" || len(f.compatWith) > 0) {
		return fmt.Errorf("--allow-undeclared, --jwt-public-key and --compat-with need --spec")
	}
	return nil
}
