package api

import (
	"net/http"
)

// StorageResponse answers GET /api/instances/{id}/storage: the data dir's
// use, measured now. QuotaBytes and UsagePercent are null without a
// storage_quota_mb.
type StorageResponse struct {
	Instance     string   `json:"instance"`
	UsedBytes    int64    `json:"used_bytes"`
	QuotaBytes   *int64   `json:"quota_bytes"`
	UsagePercent *float64 `json:"usage_percent"`
	Path         string   `json:"path"`
}

func (s *Server) storage(w http.ResponseWriter, r *http.Request, id Identity) error {
	n, err := readableParam(r, id)
	if err != nil {
		return err
	}
	info, err := s.sup.Get(r.Context(), n)
	if err != nil {
		return err
	}
	used, err := s.sup.MeasureStorage(n)
	if err != nil {
		return err
	}
	resp := StorageResponse{Instance: n.String(), UsedBytes: used, QuotaBytes: info.StorageQuota, Path: info.DataDir}
	if q := info.StorageQuota; q != nil {
		pct := 100.0
		if *q > 0 {
			pct = float64(used) * 100 / float64(*q)
		} else if used == 0 {
			pct = 0
		}
		resp.UsagePercent = &pct
	}
	writeJSON(w, http.StatusOK, resp)
	return nil
}
