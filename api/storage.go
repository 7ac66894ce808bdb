package api

import (
	"context"
	"errors"
	"io/fs"
	"net/http"
	"path/filepath"
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
	used, err := dirSize(r.Context(), info.DataDir)
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

// dirSize sums the sizes of the regular files under dir, not following
// symlinks. A missing dir is empty.
func dirSize(ctx context.Context, dir string) (int64, error) {
	var total int64
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil // gone while we walked, or never created
			}
			return err
		}
		if cerr := ctx.Err(); cerr != nil {
			return cerr
		}
		if d.Type().IsRegular() {
			fi, err := d.Info()
			if err == nil {
				total += fi.Size()
			}
		}
		return nil
	})
	return total, err
}
