//go:build tools

// Package internal pins the module's chosen dependencies before every package that uses them exists,
// so that parallel work never has to edit go.mod. Built only with the "tools" tag.
package internal

import (
	_ "github.com/emiago/sipgo"
	_ "github.com/jackc/pgx/v5/pgxpool"
	_ "github.com/prometheus/client_golang/prometheus"
	_ "github.com/vishvananda/netlink"
	_ "github.com/wmnsk/milenage"
	_ "modernc.org/sqlite"
)
