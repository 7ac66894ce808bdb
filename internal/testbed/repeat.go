package testbed

import "sync"

// Repeat calls f over and over in n goroutines, to load what a test
// changes meanwhile, until the stop it returns is called; stop returns
// once every call has. Each goroutine passes its number, 0 to n-1.
func Repeat(n int, f func(worker int)) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	for w := range n {
		wg.Go(func() {
			for {
				select {
				case <-done:
					return
				default:
					f(w)
				}
			}
		})
	}
	return func() {
		close(done)
		wg.Wait()
	}
}
