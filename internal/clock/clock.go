// Package clock holds small time helpers shared by packages that retry.
package clock

import (
	"context"
	"time"
)

// Sleep waits for d, or until ctx ends (then it returns ctx.Err()).
func Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
