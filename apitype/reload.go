package apitype

// ReloadResponse answers POST /api/config/reload: what the reload changed,
// and which changed settings only a restart applies.
type ReloadResponse struct {
	Added   []string `json:"added,omitempty"`   // services new in the config
	Changed []string `json:"changed,omitempty"` // services whose config changed
	Removed []string `json:"removed,omitempty"` // services no longer in the config
	// RestartPending lists the running instances that run with an older
	// config: their next start (ten restart) applies the new one.
	RestartPending []string `json:"restart_pending,omitempty"`
	// Orphaned lists the instances of removed services: they keep running
	// until stopped or deleted.
	Orphaned     []string `json:"orphaned,omitempty"`
	NeedsRestart []string `json:"needs_restart,omitempty"` // settings.KEY
}

// ServiceRestartResponse answers POST /api/services/{service}/restart.
type ServiceRestartResponse struct {
	Service   string   `json:"service"`
	Restarted []string `json:"restarted"`
}
