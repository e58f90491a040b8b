// Command imsctl is the operator CLI of the imscore HSS: it talks to the provisioning API
// (hss/provision) at http://127.0.0.1:8080, or --api URL, or $IMSCTL_API. `imsctl help` lists the
// commands; docs/provisioning.md describes them.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/imscore/imscore/cmd/imsctl/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Main(ctx, os.Args[1:], cli.Env{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv})
	stop()
	os.Exit(code)
}
