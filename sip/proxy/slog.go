package proxy

import (
	"context"
	"log/slog"

	"github.com/emiago/sipgo/sip"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// zapSlogHandler lets sipgo, which logs through log/slog, write into our zap logger. sipgo's Error level is about
// input from the network ("failed to parse"), not about us, so it is lowered to Warn.
type zapSlogHandler struct {
	log *zap.Logger
}

func newSlogBridge(log *zap.Logger) *slog.Logger {
	return slog.New(&zapSlogHandler{log: log})
}

// UseForLibrary sends what sipgo logs through its package-level logger (its transports' connection events and
// warnings, "TCP ref went negative" among them) into log, as JSON lines with the node's fields, instead of
// plain text on stderr from slog's default. sipgo keeps that logger in a package variable read without a lock:
// call this once, at the start of main, before any proxy exists.
func UseForLibrary(log *zap.Logger) {
	sip.SetDefaultLogger(newSlogBridge(log.Named("sipgo")))
}

func slogToZap(l slog.Level) zapcore.Level {
	switch {
	case l >= slog.LevelWarn:
		return zapcore.WarnLevel
	case l >= slog.LevelInfo:
		return zapcore.InfoLevel
	default:
		return zapcore.DebugLevel
	}
}

func (h *zapSlogHandler) Enabled(_ context.Context, l slog.Level) bool {
	return h.log.Core().Enabled(slogToZap(l))
}

func (h *zapSlogHandler) Handle(_ context.Context, r slog.Record) error {
	ce := h.log.Check(slogToZap(r.Level), r.Message)
	if ce == nil {
		return nil
	}
	fields := make([]zap.Field, 0, r.NumAttrs())
	r.Attrs(func(a slog.Attr) bool {
		fields = append(fields, zap.Any(a.Key, a.Value.Any()))
		return true
	})
	ce.Write(fields...)
	return nil
}

func (h *zapSlogHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	fields := make([]zap.Field, 0, len(attrs))
	for _, a := range attrs {
		fields = append(fields, zap.Any(a.Key, a.Value.Any()))
	}
	return &zapSlogHandler{log: h.log.With(fields...)}
}

func (h *zapSlogHandler) WithGroup(name string) slog.Handler {
	return &zapSlogHandler{log: h.log.With(zap.Namespace(name))}
}

var _ slog.Handler = (*zapSlogHandler)(nil)
