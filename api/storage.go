package api

import (
	"net/http"

	"github.com/tenement/tenement/apitype"
)

func (s *Server) storage(w http.ResponseWriter, r *http.Request, id Identity) error {
	info, err := s.readableInstance(r, id)
	if err != nil {
		return err
	}
	n := info.Instance
	used, err := s.sup.MeasureStorage(n)
	if err != nil {
		return err
	}
	resp := apitype.StorageResponse{Instance: n.String(), UsedBytes: used, QuotaBytes: info.StorageQuota, Path: info.DataDir}
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
