package metrics

import (
	"fmt"
	"testing"
	"time"

	"github.com/tenement/tenement/names"
	"github.com/tenement/tenement/supervisor"
)

// BenchmarkDropAsleep: 1 000 of 10 000 instances with series fall asleep
// before a scrape, which drops their series.
func BenchmarkDropAsleep(b *testing.B) {
	r := New(Options{})
	src := &fakeInstances{}
	var infos []supervisor.Info
	var sleepers []names.Instance
	awake := map[names.Instance]bool{}
	for i := range 10000 {
		in := info(fmt.Sprintf("web:t%05d", i), supervisor.StateRunning)
		infos = append(infos, in)
		if i%10 == 0 {
			sleepers = append(sleepers, in.Instance)
		} else {
			awake[in.Instance] = true
		}
	}
	src.set(infos...)
	r.Watch(src)
	for _, in := range infos {
		r.Request(in.Instance, 200, time.Millisecond)
	}
	for b.Loop() {
		b.StopTimer()
		for _, n := range sleepers {
			r.Request(n, 200, time.Millisecond)
		}
		b.StartTimer()
		r.dropAsleep(awake)
	}
}
