package dbusapi

import (
	"reflect"
	"testing"
	"time"
)

func TestSeqBefore(t *testing.T) {
	tests := []struct {
		a, b Seq
		want bool
	}{
		{Seq{1, 5}, Seq{1, 6}, true},
		{Seq{1, 6}, Seq{1, 5}, false},
		{Seq{1, 5}, Seq{1, 5}, false},
		{Seq{1, 900}, Seq{2, 1}, true}, // a newer connection comes after
		{Seq{2, 1}, Seq{1, 900}, false},
		{Seq{}, Seq{1, 0}, true},
	}
	for _, tt := range tests {
		if got := tt.a.Before(tt.b); got != tt.want {
			t.Errorf("%v.Before(%v) = %v, want %v", tt.a, tt.b, got, tt.want)
		}
	}
}

func TestMerge(t *testing.T) {
	t0 := time.UnixMicro(1_700_000_000_000_000)
	snap := Unit{
		Name: "u.service", Fields: ListFields | FieldMainPID | FieldEnvironment, Seq: Seq{1, 10},
		LoadState: Loaded, ActiveState: Active, SubState: SubRunning, MainPID: 150, Environment: []string{"PORT=1"},
	}
	tests := []struct {
		name string
		base Unit
		ev   Unit
		want Unit
	}{{
		name: "a later signal updates the fields it carries, and only those",
		base: snap,
		ev:   Unit{Name: "u.service", Fields: UnitFields, Seq: Seq{1, 11}, ActiveState: Failed, SubState: SubFailed, ActiveEnter: t0, MainPID: 999},
		want: Unit{
			Name: "u.service", Fields: ListFields | FieldMainPID | FieldEnvironment | UnitFields, Seq: Seq{1, 11},
			LoadState: Loaded, ActiveState: Failed, SubState: SubFailed, ActiveEnter: t0, MainPID: 150, Environment: []string{"PORT=1"},
		},
	}, {
		name: "a signal from before the snapshot changes nothing",
		base: snap,
		ev:   Unit{Name: "u.service", Fields: UnitFields, Seq: Seq{1, 9}, ActiveState: Activating, SubState: SubStart},
		want: snap,
	}, {
		name: "a signal of a newer connection counts",
		base: snap,
		ev:   Unit{Name: "u.service", Fields: FieldMainPID, Seq: Seq{2, 1}, MainPID: 151},
		want: func() Unit { u := snap; u.Seq, u.MainPID = Seq{2, 1}, 151; return u }(),
	}, {
		name: "into nothing",
		ev:   Unit{Name: "u.service", Fields: FieldExecMain, Seq: Seq{1, 3}, ExecMainCode: 1, ExecMainStatus: 3},
		want: Unit{Name: "u.service", Fields: FieldExecMain, Seq: Seq{1, 3}, ExecMainCode: 1, ExecMainStatus: 3},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.base.Merge(tt.ev)
			if !equalUnits(got, tt.want) {
				t.Errorf("Merge:\n\t%+v\nwant\n\t%+v", got, tt.want)
			}
		})
	}
}

func equalUnits(a, b Unit) bool { return reflect.DeepEqual(a, b) }
