package store

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/tenement/tenement/errdefs"
	"github.com/tenement/tenement/names"
)

func open(t *testing.T, dir string) *Store {
	t.Helper()
	s, err := Open(dir, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestInstancesSurviveReopen(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir)
	alice := Instance{Service: "notes", ID: "alice", Port: 20001, Weight: 100, CreatedAt: time.Now().UTC()}
	bob := Instance{Service: "notes", ID: "bob", Port: 20002, Weight: 100}
	for _, in := range []Instance{alice, bob} {
		if err := s.CreateInstance(in); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.CreateInstance(alice); !errors.Is(err, errdefs.ErrConflict) {
		t.Errorf("duplicate create: %v", err)
	}
	n := alice.Name()
	if _, err := s.UpdateInstance(n, func(in *Instance) error { in.Weight = 20; in.Failed = true; return nil }); err != nil {
		t.Fatal(err)
	}
	s.Close()

	s = open(t, dir)
	defer s.Close()
	got, err := s.Instance(n)
	if err != nil || got.Weight != 20 || !got.Failed || got.Port != 20001 {
		t.Fatalf("after reopen: %+v, %v", got, err)
	}
	all, _ := s.Instances()
	if len(all) != 2 || all[0].ID != "alice" || all[1].ID != "bob" {
		t.Fatalf("Instances = %+v", all)
	}
	if err := s.DeleteInstance(n); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Instance(n); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("after delete: %v", err)
	}
	if err := s.DeleteInstance(n); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("second delete: %v", err)
	}
}

func TestUpdateInstancesAtomic(t *testing.T) {
	s := open(t, t.TempDir())
	defer s.Close()
	a, _ := names.Parse("web:v1")
	b, _ := names.Parse("web:v2")
	s.CreateInstance(Instance{Service: "web", ID: "v1", Weight: 100})
	s.CreateInstance(Instance{Service: "web", ID: "v2", Weight: 0})
	boom := errors.New("boom")
	err := s.UpdateInstances([]names.Instance{a, b}, func(ins []*Instance) error {
		ins[0].Weight, ins[1].Weight = 0, 100
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatal(err)
	}
	if got, _ := s.Instance(a); got.Weight != 100 {
		t.Fatalf("failed update changed v1: %+v", got)
	}
	if err := s.UpdateInstances([]names.Instance{a, b}, func(ins []*Instance) error {
		ins[0].Weight, ins[1].Weight = 0, 100
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	x, _ := s.Instance(a)
	y, _ := s.Instance(b)
	if x.Weight != 0 || y.Weight != 100 {
		t.Fatalf("weights %d/%d", x.Weight, y.Weight)
	}
}

func TestLocked(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir)
	defer s.Close()
	if _, err := Open(dir, 50*time.Millisecond); !errors.Is(err, ErrLocked) || !errors.Is(err, errdefs.ErrUnavailable) {
		t.Fatalf("second open: %v", err)
	}
}

func TestTokens(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir)
	tok := Token{ID: "t1", Hash: "abc123", Tenant: "alice", CreatedAt: time.Now()}
	if err := s.CreateToken(tok); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateToken(Token{ID: "t2", Hash: "abc123"}); !errors.Is(err, errdefs.ErrConflict) {
		t.Errorf("duplicate hash: %v", err)
	}
	got, err := s.TokenByHash("abc123")
	if err != nil || got.ID != "t1" || got.Tenant != "alice" {
		t.Fatalf("TokenByHash: %+v %v", got, err)
	}
	if _, err := s.RevokeToken("t1"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.TokenByHash("abc123"); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("after revoke: %v", err)
	}
	s.Close()
}

func TestAudit(t *testing.T) {
	s := open(t, t.TempDir())
	defer s.Close()
	for i, a := range []string{"spawn", "weight", "stop"} {
		e, err := s.Audit(AuditEntry{Actor: "uid:0", Action: a, Target: "notes:alice", Result: "ok"})
		if err != nil || e.Seq != uint64(i+1) {
			t.Fatalf("Audit: %+v %v", e, err)
		}
	}
	log, err := s.AuditLog(2)
	if err != nil || len(log) != 2 || log[0].Action != "weight" || log[1].Action != "stop" {
		t.Fatalf("AuditLog(2) = %+v, %v", log, err)
	}
	all, _ := s.AuditLog(0)
	if len(all) != 3 || all[0].Action != "spawn" {
		t.Fatalf("AuditLog(0) = %+v", all)
	}
}

func TestCreateInstancesIsAllOrNothing(t *testing.T) {
	s, err := Open(t.TempDir(), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var ins []Instance
	for i := range 1000 {
		ins = append(ins, Instance{Service: "web", ID: fmt.Sprintf("t%d", i)})
	}
	if err := s.CreateInstances(ins); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateInstances([]Instance{{Service: "web", ID: "new"}, {Service: "web", ID: "t7"}}); !errors.Is(err, errdefs.ErrConflict) {
		t.Errorf("with one existing: %v, want ErrConflict", err)
	}
	all, _ := s.Instances()
	if len(all) != 1000 {
		t.Errorf("%d instances stored, want 1000 (none of a failed batch)", len(all))
	}
}
