package supervisor

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestQuotaLevel(t *testing.T) {
	tests := []struct {
		name        string
		used, quota int64
		want        int
	}{
		{"no quota", 1 << 40, 0, quotaOK},
		{"empty", 0, 100, quotaOK},
		{"under 80%", 79, 100, quotaOK},
		{"at 80%", 80, 100, quotaNear},
		{"just under", 99, 100, quotaNear},
		{"at 100%", 100, 100, quotaOver},
		{"over", 5 << 20, 1 << 20, quotaOver},
	}
	for _, tt := range tests {
		if got := quotaLevel(tt.used, tt.quota); got != tt.want {
			t.Errorf("%s: quotaLevel(%d, %d) = %d, want %d", tt.name, tt.used, tt.quota, got, tt.want)
		}
	}
}

func TestStorageEvery(t *testing.T) {
	for _, tt := range []struct{ in, want time.Duration }{
		{10 * time.Second, time.Minute},
		{time.Second, 6 * time.Second},
		{100 * time.Millisecond, time.Second},
		{time.Hour, time.Minute},
	} {
		if got := storageEvery(tt.in); got != tt.want {
			t.Errorf("storageEvery(%v) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestDiskUsage(t *testing.T) {
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	big := make([]byte, 256<<10)
	for i := range big {
		big[i] = byte(i)
	}
	if err := os.WriteFile(filepath.Join(dir, "sub", "big"), big, 0o644); err != nil {
		t.Fatal(err)
	}
	// Counted once however often it is linked; a symlink's target not at all.
	if err := os.Link(filepath.Join(dir, "sub", "big"), filepath.Join(dir, "again")); err != nil {
		t.Fatal(err)
	}
	outside := filepath.Join(t.TempDir(), "outside")
	if err := os.WriteFile(outside, make([]byte, 4<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	got, err := diskUsage(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got < 256<<10 || got > 256<<10+64<<10 {
		t.Errorf("diskUsage = %d, want about 256 KiB (the file once, the dirs, not the link's target)", got)
	}
	if _, err := diskUsage(filepath.Join(dir, "missing")); err == nil {
		t.Error("a missing dir has a size")
	}
}
