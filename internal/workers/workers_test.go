package workers

import (
	"runtime"
	"sync"
	"testing"
	"time"
)

// goroutines waits (bounded) until the count of goroutines is at most want and returns the last count seen.
func goroutines(want int) int {
	n := runtime.NumGoroutine()
	for i := 0; i < 200 && n > want; i++ {
		time.Sleep(5 * time.Millisecond)
		n = runtime.NumGoroutine()
	}
	return n
}

func TestReusesIdleWorker(t *testing.T) {
	p := New(4, time.Minute)
	defer p.Close()
	done := make(chan struct{})
	p.Go(func() { done <- struct{}{} })
	<-done
	waitIdle(t, p, 1)
	before := runtime.NumGoroutine()
	for range 100 {
		p.Go(func() { done <- struct{}{} })
		<-done
		waitIdle(t, p, 1)
	}
	if n := runtime.NumGoroutine(); n > before {
		t.Fatalf("goroutines grew from %d to %d: tasks did not reuse the idle worker", before, n)
	}
}

func waitIdle(t *testing.T, p *Pool, want int) {
	t.Helper()
	for i := 0; i < 400; i++ {
		if p.Idle() == want {
			return
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatalf("idle workers: %d, want %d", p.Idle(), want)
}

func TestBlockedTaskDoesNotHoldOthers(t *testing.T) {
	p := New(4, time.Minute)
	defer p.Close()
	release := make(chan struct{})
	started := make(chan struct{})
	p.Go(func() { close(started); <-release })
	<-started
	ran := make(chan struct{})
	p.Go(func() { close(ran) })
	select {
	case <-ran:
	case <-time.After(5 * time.Second):
		t.Fatal("a second task waited for a blocked one")
	}
	close(release)
}

func TestMaxIdleBoundsKeptWorkers(t *testing.T) {
	p := New(2, time.Minute)
	defer p.Close()
	var wg sync.WaitGroup
	release := make(chan struct{})
	for range 10 {
		wg.Add(1)
		p.Go(func() { defer wg.Done(); <-release })
	}
	close(release)
	wg.Wait()
	waitIdle(t, p, 2)
}

func TestIdleWorkersExpire(t *testing.T) {
	p := New(8, 20*time.Millisecond)
	defer p.Close()
	var wg sync.WaitGroup
	release := make(chan struct{})
	for range 5 {
		wg.Add(1)
		p.Go(func() { defer wg.Done(); <-release })
	}
	close(release)
	wg.Wait()
	waitIdle(t, p, 5)
	time.Sleep(50 * time.Millisecond)
	// The next worker to park retires the stale ones.
	done := make(chan struct{})
	p.Go(func() { close(done) })
	<-done
	waitIdle(t, p, 1)
}

func TestCloseEndsEveryWorker(t *testing.T) {
	base := runtime.NumGoroutine()
	p := New(16, time.Minute)
	release := make(chan struct{})
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		p.Go(func() { defer wg.Done(); <-release })
	}
	close(release)
	wg.Wait()
	busy := make(chan struct{})
	finished := make(chan struct{})
	p.Go(func() { <-busy; close(finished) })
	closed := make(chan struct{})
	go func() { p.Close(); close(closed) }()
	select {
	case <-closed:
		t.Fatal("Close returned while a task was running")
	case <-time.After(20 * time.Millisecond):
	}
	close(busy)
	<-closed
	<-finished
	if p.Go(func() { t.Error("task ran after Close") }) {
		t.Fatal("Go accepted a task after Close")
	}
	p.Close()
	if n := goroutines(base); n > base {
		t.Fatalf("%d goroutines after Close, %d before the pool", n, base)
	}
}

// deep uses about 24 KiB of stack, as a parse-route-log path does.
//
//go:noinline
func deep(n int) byte {
	var buf [1024]byte
	buf[n%len(buf)] = byte(n)
	if n == 0 {
		return buf[0]
	}
	return deep(n-1) + buf[n%len(buf)]
}

var sink byte

// BenchmarkDeepTask compares a new goroutine per task with the pool for a task that grows its stack.
func BenchmarkDeepTask(b *testing.B) {
	b.Run("go", func(b *testing.B) {
		var wg sync.WaitGroup
		var mu sync.Mutex
		for range b.N {
			wg.Add(1)
			go func() {
				defer wg.Done()
				v := deep(24)
				mu.Lock()
				sink += v
				mu.Unlock()
			}()
		}
		wg.Wait()
	})
	b.Run("pool", func(b *testing.B) {
		p := New(0, 0)
		defer p.Close()
		var wg sync.WaitGroup
		var mu sync.Mutex
		for range b.N {
			wg.Add(1)
			p.Go(func() {
				defer wg.Done()
				v := deep(24)
				mu.Lock()
				sink += v
				mu.Unlock()
			})
		}
		wg.Wait()
	})
}
