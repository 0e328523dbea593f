package runtime

import (
	goruntime "runtime"
	"sync"
	"time"
)

// flushers write what websockets have to send, for the whole process, on
// a few goroutines (one per CPU) instead of a goroutine per connection: a
// broadcast to many subscribers queues the message for each session, and
// each session's connection joins the flushers' list once; a flusher takes
// connections off the list and writes each one's frame with one
// non-blocking system call (wsConn.turn): replies, deliveries, held
// connects' replies, pings. A connection whose socket cannot take its
// frame whole, or whose server is shutting down, is handed to a writer
// goroutine of its own (wsConn.writeLoop), which waits for the socket
// under WriteTimeout and hands the connection back once it has written
// everything; the flushers never wait.
//
// Waking a goroutine per connection for each broadcast cost as much CPU
// as the write itself: with 15,000 subscribers, 15,000 wake-ups, timer
// resets and deadline settings a broadcast (docs/performance.md).
type flushers struct {
	mu      sync.Mutex
	head    *wsConn // the connections waiting for a flusher, in order
	tail    *wsConn
	waiting int           // flushers waiting for work
	wake    chan struct{} // a send wakes one waiting flusher
	started bool
}

// theFlushers are the process's flushers; started on first use.
var theFlushers = &flushers{}

// flushBatch is how many connections a flusher takes off the list at once.
const flushBatch = 64

// flushBufferMax is the largest frame buffer a flusher keeps between
// frames; a larger frame's buffer is let go after it is written.
const flushBufferMax = 64 << 10

// push adds wc, which has something to write and whose writer role the
// caller took (wsConn.signal), to the list.
func (f *flushers) push(wc *wsConn) {
	f.mu.Lock()
	if !f.started {
		f.started = true
		n := goruntime.GOMAXPROCS(0)
		f.wake = make(chan struct{}, n)
		for range n {
			go f.run()
		}
	}
	wc.nextFlush = nil
	if f.tail == nil {
		f.head = wc
	} else {
		f.tail.nextFlush = wc
	}
	f.tail = wc
	wake := f.waiting > 0
	if wake {
		f.waiting--
	}
	f.mu.Unlock()
	if wake {
		f.wake <- struct{}{}
	}
}

// run is one flusher: it takes connections off the list, a batch at a
// time, and gives each its turn.
func (f *flushers) run() {
	var batch [flushBatch]*wsConn
	var buf []byte
	ran := time.Now()
	for {
		f.mu.Lock()
		for f.head == nil {
			f.waiting++
			f.mu.Unlock()
			<-f.wake
			f.mu.Lock()
			ran = time.Now()
		}
		n := 0
		for f.head != nil && n < len(batch) {
			wc := f.head
			f.head, wc.nextFlush = wc.nextFlush, nil
			batch[n] = wc
			n++
		}
		if f.head == nil {
			f.tail = nil
		}
		f.mu.Unlock()
		for i, wc := range batch[:n] {
			buf = wc.turn(buf[:0])
			if cap(buf) > flushBufferMax {
				buf = nil
			}
			batch[i] = nil
		}
		// A broadcast to many keeps the flushers busy for tens of
		// milliseconds: every flushYield they let the other goroutines
		// (a reader with a publish to process, a slow socket's writer)
		// run, rather than waiting for the scheduler to preempt them.
		if now := time.Now(); now.Sub(ran) >= flushYield {
			goruntime.Gosched()
			ran = now
		}
	}
}

// flushYield is how long a flusher works before it lets other goroutines
// run.
const flushYield = time.Millisecond
