package store

import (
	"fmt"
	"testing"
)

// TestAuditRetention writes past the limit: the log never holds more than
// the limit, always ends with the newest entry, and is trimmed in batches
// (the count dips by a batch, then grows back), not on every write.
func TestAuditRetention(t *testing.T) {
	s := open(t, t.TempDir())
	defer s.Close()
	const limit, writes = 200, 700 // a batch is 2
	s.SetAuditLimit(limit)
	trims := 0
	prev := 0
	for i := 1; i <= writes; i++ {
		e, err := s.Audit(AuditEntry{Actor: "uid:0", Action: "weight", Target: fmt.Sprintf("notes:t%d", i), Result: "ok"})
		if err != nil || e.Seq != uint64(i) {
			t.Fatalf("Audit %d: %+v %v", i, e, err)
		}
		n := auditCount(t, s)
		if n > limit {
			t.Fatalf("after %d writes the log holds %d entries, limit %d", i, n, limit)
		}
		if n < prev {
			trims++
			if n != limit-2 {
				t.Fatalf("a trim left %d entries, want %d", n, limit-2)
			}
		}
		prev = n
	}
	// Past the limit, a trim every batch+1 writes.
	if want := (writes - limit) / 3; trims < want-1 || trims > want+1 {
		t.Errorf("%d trims for %d writes, want about %d (one per batch)", trims, writes, want)
	}
	log, err := s.AuditLog(0)
	if err != nil {
		t.Fatal(err)
	}
	for i, e := range log {
		if want := uint64(writes - len(log) + 1 + i); e.Seq != want {
			t.Fatalf("entry %d has seq %d, want %d: the newest must be kept, in order", i, e.Seq, want)
		}
	}
}

// TestAuditLimitLowered: a log longer than a newly set limit is cut to it
// at the next write; without a limit nothing is dropped.
func TestAuditLimitLowered(t *testing.T) {
	s := open(t, t.TempDir())
	defer s.Close()
	for range 500 {
		if _, err := s.Audit(AuditEntry{Action: "spawn", Result: "ok"}); err != nil {
			t.Fatal(err)
		}
	}
	if n := auditCount(t, s); n != 500 {
		t.Fatalf("without a limit: %d entries", n)
	}
	s.SetAuditLimit(100)
	if _, err := s.Audit(AuditEntry{Action: "stop", Result: "ok"}); err != nil {
		t.Fatal(err)
	}
	if n := auditCount(t, s); n != 99 {
		t.Fatalf("after lowering the limit to 100: %d entries, want 99", n)
	}
	last, _ := s.AuditLog(1)
	if len(last) != 1 || last[0].Action != "stop" || last[0].Seq != 501 {
		t.Fatalf("newest entry %+v", last)
	}
}

func auditCount(t *testing.T, s *Store) int {
	t.Helper()
	log, err := s.AuditLog(0)
	if err != nil {
		t.Fatal(err)
	}
	return len(log)
}
