// Package logging builds the zap logger every imscore binary uses and names the structured fields
// they share, so that one grep (call_id=…, impi=…) follows a registration across all four nodes.
package logging

import (
	"fmt"
	"strings"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// Field names shared by every node. Keep them stable: operators grep and alert on them.
const (
	KeyCallID    = "call_id"
	KeyIMPI      = "impi"
	KeyIMPU      = "impu"
	KeySessionID = "session_id"
	KeyPeer      = "peer"
	KeyNode      = "node"
)

// CallID is the SIP Call-ID of the transaction or dialog.
func CallID(v string) zap.Field { return zap.String(KeyCallID, v) }

// IMPI is the IMS private user identity.
func IMPI(v string) zap.Field { return zap.String(KeyIMPI, v) }

// IMPU is the IMS public user identity.
func IMPU(v string) zap.Field { return zap.String(KeyIMPU, v) }

// SessionID is the Diameter Session-Id.
func SessionID(v string) zap.Field { return zap.String(KeySessionID, v) }

// Peer is the Diameter Origin-Host or SIP remote address of the other side.
func Peer(v string) zap.Field { return zap.String(KeyPeer, v) }

// Config selects the log level and encoding.
type Config struct {
	// Level is one of debug, info, warn, error. Default info.
	Level string `yaml:"level"`
	// Format is "console" (human, coloured levels off) or "json". Default console.
	Format string `yaml:"format"`
}

// Default returns the documented defaults: info level, console format.
func Default() Config { return Config{Level: "info", Format: "console"} }

// New builds a logger writing to stderr, named after the node.
func New(cfg Config, node string) (*zap.Logger, error) {
	var level zapcore.Level
	if err := level.UnmarshalText([]byte(strings.ToLower(cfg.Level))); err != nil {
		return nil, fmt.Errorf("log level %q: %w", cfg.Level, err)
	}
	var zc zap.Config
	switch cfg.Format {
	case "json":
		zc = zap.NewProductionConfig()
		zc.EncoderConfig.TimeKey = "ts"
		zc.EncoderConfig.EncodeTime = zapcore.ISO8601TimeEncoder
	case "console", "":
		zc = zap.NewDevelopmentConfig()
		zc.Development = false
		zc.DisableStacktrace = true
		zc.EncoderConfig.EncodeTime = zapcore.TimeEncoderOfLayout("15:04:05.000")
	default:
		return nil, fmt.Errorf("log format %q: want console or json", cfg.Format)
	}
	zc.Level = zap.NewAtomicLevelAt(level)
	zc.Sampling = nil
	log, err := zc.Build()
	if err != nil {
		return nil, fmt.Errorf("build logger: %w", err)
	}
	return log.Named(node), nil
}
