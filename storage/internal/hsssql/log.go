package hsssql

import (
	"go.uber.org/zap"

	"github.com/imscore/imscore/internal/logging"
)

func zapIMPI(impi string) zap.Field      { return logging.IMPI(impi) }
func zapCount(n int) zap.Field           { return zap.Int("count", n) }
func zapBool(k string, v bool) zap.Field { return zap.Bool(k, v) }
