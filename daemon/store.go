package daemon

import (
	"time"

	"github.com/tenement/tenement/config"
	"github.com/tenement/tenement/store"
)

// openStore opens the daemon's store, which keeps the newest
// settings.audit_max_entries audit entries. A corrupt store is an error of
// kind store.ErrCorrupt: the daemon stops before it touches any unit (the
// tenants keep running), and `ten serve` says how to recover.
func openStore(cfg *config.Config) (*store.Store, error) {
	st, err := store.Open(cfg.Settings.DataDir, 10*time.Second)
	if err != nil {
		return nil, err
	}
	st.SetAuditLimit(cfg.Settings.AuditMaxEntries)
	return st, nil
}
