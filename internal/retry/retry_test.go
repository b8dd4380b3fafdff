package retry

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"
)

func TestAfterReadsSecondsAndHTTPDates(t *testing.T) {
	now := time.Date(2026, 12, 3, 8, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		value  string
		want   time.Duration
		wantOK bool
	}{
		{"", 0, false},
		{"2", 2 * time.Second, true},
		{" 120 ", 2 * time.Minute, true},
		{"0", 0, true},
		{"-1", 0, false},
		{"1.5", 0, false},
		{"soon", 0, false},
		{"99999999999", 24 * time.Hour, true},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second, true},
		{now.Add(-time.Minute).Format(http.TimeFormat), 0, true},
		{"Thu, 03 Dec 2026 08:00:30 GMT", 30 * time.Second, true},
		{"Thursday, 03-Dec-26 08:00:30 GMT", 30 * time.Second, true}, // RFC 850, which HTTP also allows
	} {
		got, ok := After(tc.value, now)
		if got != tc.want || ok != tc.wantOK {
			t.Errorf("After(%q) = %v, %v; want %v, %v", tc.value, got, ok, tc.want, tc.wantOK)
		}
	}
}

func TestBackoffDoublesFromBase(t *testing.T) {
	old := Jitter
	Jitter = func(n time.Duration) time.Duration { return n } // the most jitter allowed
	t.Cleanup(func() { Jitter = old })
	base := 250 * time.Millisecond
	for attempt, want := range map[int]time.Duration{
		1: 250*time.Millisecond + 100*time.Millisecond,
		2: 500*time.Millisecond + 100*time.Millisecond,
		3: time.Second + 100*time.Millisecond,
		0: 250*time.Millisecond + 100*time.Millisecond,
	} {
		if got := Backoff(base, attempt); got != want {
			t.Errorf("Backoff(%v, %d) = %v, want %v", base, attempt, got, want)
		}
	}
	if got := Backoff(time.Second, 1000); got <= 0 {
		t.Errorf("Backoff at attempt 1000 = %v: overflowed", got)
	}
	if got := Delay(base, 1, 3*time.Second); got != 3*time.Second {
		t.Errorf("Delay with Retry-After 3s = %v, want 3s", got)
	}
	if got := Delay(base, 1, time.Millisecond); got != 350*time.Millisecond {
		t.Errorf("Delay with a shorter Retry-After = %v, want the backoff 350ms", got)
	}
}

func TestWaitDoesNotSleepPastTheDeadline(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
	defer cancel()
	// A wait of two hours against one hour left returns at once (a test
	// that slept would time out the suite instead of passing).
	err := Wait(ctx, 2*time.Hour)
	var pd *PastDeadlineError
	if !errors.As(err, &pd) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Wait(2h) with 1h left = %v, want a *PastDeadlineError unwrapping to DeadlineExceeded", err)
	}
	if pd.Wait != 2*time.Hour || pd.Left > time.Hour || pd.Left < 59*time.Minute {
		t.Errorf("PastDeadlineError = %+v, want Wait 2h and about 1h left", pd)
	}

	cctx, ccancel := context.WithCancel(context.Background())
	ccancel()
	if err := Wait(cctx, time.Hour); !errors.Is(err, context.Canceled) {
		t.Errorf("Wait on a cancelled context = %v, want context.Canceled", err)
	}
	if err := Wait(context.Background(), 0); err != nil {
		t.Errorf("Wait(0) = %v", err)
	}
}
