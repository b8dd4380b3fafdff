package plugin

import (
	"context"
	"errors"
	"sync"
	"time"
)

// ErrOverloaded is returned when the encode queue is full; the HTTP layer
// answers 429 with Retry-After.
var ErrOverloaded = errors.New("encode queue is full")

// batcher coalesces concurrent calls into one encoder call: a worker takes
// the first waiting job and every job already queued, then (when maxDelay
// > 0) waits up to maxDelay for more until maxBatch texts are gathered, runs
// fn once and hands each caller its slice. At most limit
// texts may wait; beyond that calls fail at once with ErrOverloaded, so
// memory stays bounded under overload.
type batcher[T any] struct {
	fn       func(ctx context.Context, texts []string) ([]T, error)
	maxBatch int
	maxDelay time.Duration
	limit    int
	observe  func(texts int, d time.Duration) // metrics hook, may be nil

	mu      sync.Mutex
	pending int // texts queued or running
	jobs    chan *job[T]
	stop    chan struct{}
	done    sync.WaitGroup
}

type job[T any] struct {
	ctx   context.Context
	texts []string
	out   []T
	err   error
	ready chan struct{}
}

func newBatcher[T any](fn func(context.Context, []string) ([]T, error), maxBatch int, maxDelay time.Duration, limit int) *batcher[T] {
	b := &batcher[T]{fn: fn, maxBatch: max(maxBatch, 1), maxDelay: maxDelay, limit: max(limit, 1),
		jobs: make(chan *job[T], max(limit, 1)), stop: make(chan struct{})}
	b.done.Add(1)
	go b.loop()
	return b
}

// Do encodes texts, possibly together with other callers' texts.
func (b *batcher[T]) Do(ctx context.Context, texts []string) ([]T, error) {
	if len(texts) == 0 {
		return nil, nil
	}
	b.mu.Lock()
	// A call larger than the whole queue still runs when the queue is empty.
	if b.pending > 0 && b.pending+len(texts) > b.limit {
		b.mu.Unlock()
		return nil, ErrOverloaded
	}
	b.pending += len(texts)
	b.mu.Unlock()
	j := &job[T]{ctx: ctx, texts: texts, ready: make(chan struct{})}
	select {
	case b.jobs <- j:
	case <-b.stop:
		b.release(len(texts))
		return nil, errors.New("encoder is shutting down")
	}
	select {
	case <-j.ready:
		return j.out, j.err
	case <-ctx.Done():
		// The job still runs (a forward pass cannot be interrupted); its
		// result is dropped.
		return nil, ctx.Err()
	}
}

// Pending is the number of texts queued or being encoded: the
// spladeq_encode_queue_texts gauge, a signal for scaling out.
func (b *batcher[T]) Pending() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.pending
}

func (b *batcher[T]) release(n int) {
	b.mu.Lock()
	b.pending -= n
	b.mu.Unlock()
}

func (b *batcher[T]) loop() {
	defer b.done.Done()
	for {
		var first *job[T]
		select {
		case first = <-b.jobs:
		case <-b.stop:
			return
		}
		batch := []*job[T]{first}
		n := len(first.texts)
		// Take every request already waiting: under load, batches form
		// from what queued up during the previous pass, at no added latency.
	drain:
		for n < b.maxBatch {
			select {
			case j := <-b.jobs:
				batch = append(batch, j)
				n += len(j.texts)
			default:
				break drain
			}
		}
		if n < b.maxBatch && b.maxDelay > 0 {
			timer := time.NewTimer(b.maxDelay)
		gather:
			for n < b.maxBatch {
				select {
				case j := <-b.jobs:
					batch = append(batch, j)
					n += len(j.texts)
				case <-timer.C:
					break gather
				}
			}
			timer.Stop()
		}
		b.run(batch, n)
	}
}

func (b *batcher[T]) run(batch []*job[T], n int) {
	defer b.release(n)
	// Drop callers that gave up while waiting.
	live := batch[:0]
	for _, j := range batch {
		if j.ctx.Err() != nil {
			j.err = j.ctx.Err()
			close(j.ready)
			continue
		}
		live = append(live, j)
	}
	if len(live) == 0 {
		return
	}
	texts := make([]string, 0, n)
	for _, j := range live {
		texts = append(texts, j.texts...)
	}
	start := time.Now()
	out, err := b.fn(context.Background(), texts)
	if b.observe != nil {
		b.observe(len(texts), time.Since(start))
	}
	off := 0
	for _, j := range live {
		// Texts are validated before they are queued (Service.checkTexts),
		// so an error here is the encoder's, shared by the whole batch.
		if err != nil {
			j.err = err
		} else {
			j.out = out[off : off+len(j.texts)]
		}
		off += len(j.texts)
		close(j.ready)
	}
}

// Close stops the worker after the running batch.
func (b *batcher[T]) Close() {
	close(b.stop)
	b.done.Wait()
}
