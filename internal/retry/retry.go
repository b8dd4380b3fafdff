// Package retry holds the waiting between attempts shared by spladeq's HTTP
// callers (the openai vectorizer module, the Go client): exponential
// backoff with jitter, the server's Retry-After (seconds or an HTTP date),
// and a wait that never sleeps past the context's deadline. It imports the
// standard library only, so the cgo-free client can use it.
package retry

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// maxShift bounds the doubling so a large attempt number cannot overflow.
const maxShift = 20

// Jitter returns a random duration in [0, n); tests replace it.
var Jitter = func(n time.Duration) time.Duration {
	if n <= 0 {
		return 0
	}
	return time.Duration(rand.Int64N(int64(n)))
}

// Backoff returns the wait before retry attempt (1 for the first retry):
// base doubled for each retry after the first, plus up to 40% of base of
// random jitter so that clients failing together do not retry together.
func Backoff(base time.Duration, attempt int) time.Duration {
	shift := min(max(attempt-1, 0), maxShift)
	return base<<shift + Jitter(base*2/5)
}

// After reads a Retry-After header value: delay-seconds ("2") or an HTTP
// date, relative to now. ok is false when the value is absent or neither;
// a date in the past gives 0.
func After(value string, now time.Time) (d time.Duration, ok bool) {
	value = strings.TrimSpace(value)
	if value == "" {
		return 0, false
	}
	if s, err := strconv.ParseInt(value, 10, 64); err == nil {
		if s < 0 {
			return 0, false
		}
		if s > int64(24*time.Hour/time.Second) {
			s = int64(24 * time.Hour / time.Second)
		}
		return time.Duration(s) * time.Second, true
	}
	t, err := http.ParseTime(value)
	if err != nil {
		return 0, false
	}
	return max(t.Sub(now), 0), true
}

// Delay is the wait before retry attempt: the backoff, or the server's
// Retry-After when it asks for longer.
func Delay(base time.Duration, attempt int, retryAfter time.Duration) time.Duration {
	return max(Backoff(base, attempt), retryAfter)
}

// PastDeadlineError is Wait's answer when waiting d would end after the
// context's deadline; it unwraps to context.DeadlineExceeded.
type PastDeadlineError struct {
	Wait, Left time.Duration
}

func (e *PastDeadlineError) Error() string {
	return fmt.Sprintf("waiting %v to retry would pass the context's deadline (%v left)", e.Wait.Round(time.Millisecond), e.Left.Round(time.Millisecond))
}

func (e *PastDeadlineError) Unwrap() error { return context.DeadlineExceeded }

// Wait sleeps for d, or returns ctx.Err() when ctx ends first. When ctx has
// a deadline sooner than d from now it does not sleep at all and returns a
// *PastDeadlineError at once: the retry could not happen in time anyway.
func Wait(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if dl, ok := ctx.Deadline(); ok {
		if left := time.Until(dl); left < d {
			return &PastDeadlineError{Wait: d, Left: left}
		}
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
