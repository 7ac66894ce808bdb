package testbed

import "sync"

// Repeat calls f over and over in n goroutines, to load what a test
// changes meanwhile, until the stop it returns is called; stop returns
// once every call has.
func Repeat(n int, f func()) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			for {
				select {
				case <-done:
					return
				default:
					f()
				}
			}
		})
	}
	return func() {
		close(done)
		wg.Wait()
	}
}
