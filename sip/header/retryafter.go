package header

import (
	"strconv"
	"time"

	"github.com/emiago/sipgo/sip"
)

// RetryAfter is a Retry-After header field (RFC 3261 §20.33) of d in delta-seconds, rounded up so
// that a client never retries before d has passed, and at least one second.
func RetryAfter(d time.Duration) sip.Header {
	secs := max(int64((d+time.Second-1)/time.Second), 1)
	return sip.NewHeader("Retry-After", strconv.FormatInt(secs, 10))
}
