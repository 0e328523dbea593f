// Command cometgen generates typed Bayeux (CometD) channel code from a spec
// and serves Bayeux over websocket, long-polling and callback-polling.
package main

import (
	"os"

	"github.com/cometgen/cometgen/internal/cli"
)

func main() {
	os.Exit(cli.Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
