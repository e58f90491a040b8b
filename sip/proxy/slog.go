package proxy

import (
	"context"
	"log/slog"

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
