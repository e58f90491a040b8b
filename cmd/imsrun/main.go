// Command imsrun runs the whole core on one host: the HSS, S-CSCF, I-CSCF and P-CSCF binaries
// found beside it (or in --bin), each with its defaults (loopback, embedded store under ./var),
// their logs interleaved with a node prefix. On first start it provisions two demo subscribers
// and prints what a UE or SIPp needs to register. It checks every port is free before it starts anything
// (naming the process that holds a busy one), and that each node answering /readyz is the process it
// started. Ctrl-C, SIGTERM or the terminal's SIGHUP stops the nodes in reverse order, each
// with SIGTERM, so the HSS's Diameter peers get their DPR and the P-CSCF removes its SAs.
//
// It is what `make run` starts; the nodes themselves stay separate programs, as in production.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if errors.Is(err, errHelp) {
			os.Exit(2)
		}
		fmt.Fprintf(os.Stderr, "imsrun: %v\n", err)
		os.Exit(1)
	}
}
