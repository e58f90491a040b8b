package httpauth

import (
	"net/http"
	"os"
	"sync"
	"time"

	"go.uber.org/zap"
)

// ReloadInterval is how often FileTokens looks at its file for a change (at most once per interval, on a
// request): a token added with `imsctl token create`, or one removed, counts from the next check on.
const ReloadInterval = time.Second

// FileTokens authenticates against a tokens file that it reads again when it changes (modification time or
// size), so tokens are added and revoked without a restart. A file that no longer parses keeps the tokens
// read last (logged at Error): a typo never opens the API, nor locks everybody out.
type FileTokens struct {
	path     string
	interval time.Duration
	log      *zap.Logger

	mu      sync.Mutex
	tokens  *Tokens
	mod     time.Time
	size    int64
	checked time.Time
}

// WatchTokens reads the tokens file at path (an error when it cannot be read or parsed) and returns the
// authenticator that keeps it current, looking for changes at most once per interval (0: on every request).
func WatchTokens(path string, interval time.Duration, log *zap.Logger) (*FileTokens, error) {
	if log == nil {
		log = zap.NewNop()
	}
	f := &FileTokens{path: path, interval: interval, log: log}
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if f.tokens, err = LoadTokens(path); err != nil {
		return nil, err
	}
	f.mod, f.size, f.checked = fi.ModTime(), fi.Size(), time.Now()
	return f, nil
}

// Authenticate implements Authenticator with the tokens as the file holds them now.
func (f *FileTokens) Authenticate(r *http.Request) (Principal, error) {
	return f.current().Authenticate(r)
}

// Len is the number of tokens known now.
func (f *FileTokens) Len() int { return f.current().Len() }

// current returns the tokens, reading the file again when it changed since the last look.
func (f *FileTokens) current() *Tokens {
	f.mu.Lock()
	defer f.mu.Unlock()
	now := time.Now()
	if now.Sub(f.checked) < f.interval {
		return f.tokens
	}
	f.checked = now
	fi, err := os.Stat(f.path)
	if err != nil {
		f.log.Error("tokens file unreadable: the tokens read last stay in force", zap.String("file", f.path), zap.Error(err))
		return f.tokens
	}
	if fi.ModTime().Equal(f.mod) && fi.Size() == f.size {
		return f.tokens
	}
	t, err := LoadTokens(f.path)
	if err != nil {
		f.log.Error("tokens file changed but does not parse: the tokens read last stay in force", zap.String("file", f.path), zap.Error(err))
		return f.tokens
	}
	f.tokens, f.mod, f.size = t, fi.ModTime(), fi.Size()
	f.log.Info("tokens file read again", zap.String("file", f.path), zap.Int("tokens", t.Len()))
	return f.tokens
}

// Interface guard.
var _ Authenticator = (*FileTokens)(nil)
