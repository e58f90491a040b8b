//go:build !unix

package proxy

// fileLimit is unknown on this platform: MaxConnections applies as configured.
func fileLimit() uint64 { return 0 }
