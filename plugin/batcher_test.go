package plugin

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestBatcherCoalescesConcurrentCalls(t *testing.T) {
	var calls atomic.Int32
	var sizes sync.Map
	b := newBatcher(func(_ context.Context, texts []string) ([]string, error) {
		n := calls.Add(1)
		sizes.Store(n, len(texts))
		out := make([]string, len(texts))
		for i, t := range texts {
			out[i] = "v(" + t + ")"
		}
		return out, nil
	}, 64, 50*time.Millisecond, 1000)
	defer b.Close()
	var wg sync.WaitGroup
	for i := 0; i < 32; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			in := fmt.Sprint(i)
			out, err := b.Do(context.Background(), []string{in})
			if err != nil || len(out) != 1 || out[0] != "v("+in+")" {
				t.Errorf("caller %d got %v, %v", i, out, err)
			}
		}(i)
	}
	wg.Wait()
	if c := calls.Load(); c >= 32 {
		t.Errorf("%d encoder calls for 32 concurrent single-text callers: nothing was coalesced", c)
	}
}

func TestBatcherShedsLoadWhenFull(t *testing.T) {
	release := make(chan struct{})
	b := newBatcher(func(_ context.Context, texts []string) ([]int, error) {
		<-release
		return make([]int, len(texts)), nil
	}, 4, 0, 10)
	defer b.Close()
	first := make(chan error, 1)
	go func() { _, err := b.Do(context.Background(), make([]string, 8)); first <- err }()
	waitFor(t, func() bool { b.mu.Lock(); defer b.mu.Unlock(); return b.pending == 8 })
	if _, err := b.Do(context.Background(), make([]string, 3)); !errors.Is(err, ErrOverloaded) {
		t.Errorf("8 + 3 texts over a limit of 10: got %v, want ErrOverloaded", err)
	}
	close(release)
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	if _, err := b.Do(context.Background(), make([]string, 3)); err != nil {
		t.Errorf("after the queue drained: %v", err)
	}
}

func TestBatcherCallerCanGiveUp(t *testing.T) {
	release := make(chan struct{})
	b := newBatcher(func(_ context.Context, texts []string) ([]int, error) {
		<-release
		return make([]int, len(texts)), nil
	}, 4, 0, 10)
	defer func() { close(release); b.Close() }()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := b.Do(ctx, []string{"x"}); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("got %v, want DeadlineExceeded", err)
	}
}

func TestRequestsQueuedDuringAPassFormTheNextBatchWithoutWaiting(t *testing.T) {
	release := make(chan struct{})
	var sizes []int
	var mu sync.Mutex
	first := true
	b := newBatcher(func(_ context.Context, texts []string) ([]int, error) {
		mu.Lock()
		sizes = append(sizes, len(texts))
		wasFirst := first
		first = false
		mu.Unlock()
		if wasFirst {
			<-release // the first pass runs while five more requests queue up
		}
		return make([]int, len(texts)), nil
	}, 32, 0, 100)
	defer b.Close()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); b.Do(context.Background(), []string{"first"}) }()
	// Wait until the first pass runs and all five have queued, by state,
	// not by a guessed sleep.
	waitFor(t, func() bool { mu.Lock(); defer mu.Unlock(); return len(sizes) == 1 })
	for i := 0; i < 5; i++ {
		wg.Add(1)
		go func() { defer wg.Done(); b.Do(context.Background(), []string{"queued"}) }()
	}
	waitFor(t, func() bool { return len(b.jobs) == 5 })
	close(release)
	wg.Wait()
	if len(sizes) != 2 || sizes[0] != 1 || sizes[1] != 5 {
		t.Errorf("passes of %v texts, want [1 5]: the five queued requests in one pass", sizes)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached in 10s")
		}
	}
}
