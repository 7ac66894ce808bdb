package metrics

import (
	"net/http"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"

	"github.com/tenement/tenement/names"
)

// ServeMetrics writes the metrics in the format the request accepts (the
// Prometheus text format unless it asks for protobuf). With a nil scope it
// writes every series. Otherwise it writes only the series that carry the
// labels service and instance of an instance scope allows: a tenant sees
// its own instances' series and nothing global (not even how many
// instances there are).
func (r *Registry) ServeMetrics(w http.ResponseWriter, req *http.Request, scope func(names.Instance) bool) {
	mfs, err := r.reg.Gather()
	if err != nil {
		// Gather returns what it could; a broken collector must not hide
		// the rest.
		r.log.Warn("gathering metrics", "err", err)
	}
	if scope != nil {
		mfs = scoped(mfs, scope)
	}
	format := expfmt.NegotiateAccept(req.Header, expfmt.DefaultAcceptedFormats()...)
	w.Header().Set("Content-Type", string(format))
	w.Header().Set("Cache-Control", "no-store")
	enc := expfmt.NewEncoder(w, format)
	for _, mf := range mfs {
		if err := enc.Encode(mf); err != nil {
			r.log.Warn("writing metrics", "err", err)
			return
		}
	}
	if c, ok := enc.(expfmt.Closer); ok {
		_ = c.Close()
	}
}

// scoped keeps the series of the instances scope allows, and the families
// left with any. It changes mfs in place (Gather returns new ones).
func scoped(mfs []*dto.MetricFamily, scope func(names.Instance) bool) []*dto.MetricFamily {
	out := mfs[:0]
	for _, mf := range mfs {
		kept := mf.Metric[:0]
		for _, m := range mf.Metric {
			if n, ok := instanceOf(m); ok && scope(n) {
				kept = append(kept, m)
			}
		}
		if len(kept) > 0 {
			mf.Metric = kept
			out = append(out, mf)
		}
	}
	return out
}

// instanceOf returns the instance a series belongs to, from its labels.
func instanceOf(m *dto.Metric) (names.Instance, bool) {
	var n names.Instance
	for _, lp := range m.GetLabel() {
		switch lp.GetName() {
		case "service":
			n.Service = lp.GetValue()
		case "instance":
			n.ID = lp.GetValue()
		}
	}
	return n, n.Service != "" && n.ID != ""
}
