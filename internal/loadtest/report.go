package loadtest

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// Report is the outcome of a load test. Counts cover the measured phase
// only (not the warm-up).
type Report struct {
	Config Config

	Published  int64  // publishes sent
	Acked      int64  // publishes the server acknowledged successful
	Failed     int64  // publishes refused or unanswered
	FirstError string // the first publish failure, if any

	Expected   int64 // Acked × subscribers
	Delivered  int64 // deliveries received, duplicates included
	Lost       int64 // expected deliveries that never arrived
	Duplicated int64 // deliveries of a message a subscriber already had
	OutOfOrder int64 // deliveries older than one already received
	Invalid    int64 // deliveries whose data was not a load-test payload

	Rehandshakes int64 // sessions the server dropped during the run

	PublishTime      time.Duration // from the start until publishing stopped
	Elapsed          time.Duration // from the start until the last delivery
	PublishesPerSec  float64       // Published / PublishTime
	DeliveriesPerSec float64       // Delivered / Elapsed

	Latency Latency

	CPU        time.Duration // user+system CPU time of this process
	CPUPercent float64       // CPU as a percentage of one core over the run
}

// Latency summarises the publish-to-delivery latencies (publisher clock to
// subscriber clock, both on this machine). Percentiles come from a
// log-linear histogram: exact below 128µs, within 0.8% above.
type Latency struct {
	Count                    int64
	Mean, P50, P95, P99, Max time.Duration
}

// report builds the Report from the receivers' and publishers' accounts.
func (b *bench) report(start, published, end time.Time, cpu time.Duration) *Report {
	rep := &Report{Config: b.cfg, CPU: cpu}
	for _, p := range b.pubs {
		rep.Published += p.published.Load()
		rep.Acked += p.acked.Load()
		rep.Failed += p.failed.Load()
		p.errMu.Lock()
		if p.firstErr != nil && rep.FirstError == "" {
			rep.FirstError = p.firstErr.Error()
		}
		p.errMu.Unlock()
	}
	rep.Expected = rep.Acked * int64(len(b.subs))
	var hist histogram
	last := start
	for _, r := range b.subs {
		r.mu.Lock()
		for i := range r.pairs {
			pr := &r.pairs[i]
			rep.Lost += max(b.pubs[i].acked.Load()-pr.unique, 0)
			rep.Duplicated += pr.dup
			rep.OutOfOrder += pr.ooo
		}
		rep.Delivered += r.delivered
		rep.Invalid += r.invalid
		hist.merge(&r.hist)
		if r.lastReceipt.After(last) {
			last = r.lastReceipt
		}
		r.mu.Unlock()
	}
	rep.PublishTime = published.Sub(start)
	rep.Elapsed = max(last.Sub(start), rep.PublishTime)
	if s := rep.PublishTime.Seconds(); s > 0 {
		rep.PublishesPerSec = float64(rep.Published) / s
	}
	if s := rep.Elapsed.Seconds(); s > 0 {
		rep.DeliveriesPerSec = float64(rep.Delivered) / s
	}
	if wall := end.Sub(start).Seconds(); wall > 0 {
		rep.CPUPercent = 100 * cpu.Seconds() / wall
	}
	rep.Latency = Latency{
		Count: hist.total,
		Mean:  hist.mean(),
		P50:   hist.percentile(50),
		P95:   hist.percentile(95),
		P99:   hist.percentile(99),
		Max:   time.Duration(hist.max) * time.Microsecond,
	}
	return rep
}

// WriteText writes the report for people.
func (r *Report) WriteText(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	c := r.Config
	rate := "unlimited"
	if c.Rate > 0 {
		rate = fmt.Sprintf("%g/s", c.Rate)
	}
	lines := []string{
		fmt.Sprintf("target\t%s (%s)", c.URL, c.Transport),
		fmt.Sprintf("sessions\t%d subscribers, %d publishers on %s", c.Subscribers, c.Publishers, c.Channel),
		fmt.Sprintf("load\trate %s, window %d, payload %d bytes", rate, c.Window, c.PayloadSize),
		fmt.Sprintf("published\t%d in %s (%.0f/s), %d acked, %d failed", r.Published, round(r.PublishTime), r.PublishesPerSec, r.Acked, r.Failed),
		fmt.Sprintf("delivered\t%d of %d expected in %s", r.Delivered, r.Expected, round(r.Elapsed)),
		fmt.Sprintf("throughput\t%.0f deliveries/s", r.DeliveriesPerSec),
		fmt.Sprintf("lost\t%d", r.Lost),
		fmt.Sprintf("duplicated\t%d", r.Duplicated),
		fmt.Sprintf("out of order\t%d", r.OutOfOrder),
		fmt.Sprintf("latency\tp50 %s  p95 %s  p99 %s  max %s  (mean %s, %d samples)",
			r.Latency.P50, r.Latency.P95, r.Latency.P99, r.Latency.Max, r.Latency.Mean, r.Latency.Count),
		fmt.Sprintf("bench CPU\t%s (%.0f%% of one core)", round(r.CPU), r.CPUPercent),
	}
	if len(c.SubscriberURLs) > 0 {
		lines = slices.Insert(lines, 1, fmt.Sprintf("subscribers on\t%s", strings.Join(c.SubscriberURLs, ", ")))
	}
	if r.Invalid > 0 {
		lines = append(lines, fmt.Sprintf("invalid\t%d deliveries with foreign data", r.Invalid))
	}
	if r.Rehandshakes > 0 {
		lines = append(lines, fmt.Sprintf("re-handshakes\t%d", r.Rehandshakes))
	}
	if r.FirstError != "" {
		lines = append(lines, "first error\t"+r.FirstError)
	}
	for _, l := range lines {
		if _, err := fmt.Fprintln(tw, l); err != nil {
			return err
		}
	}
	return tw.Flush()
}

func round(d time.Duration) time.Duration { return d.Round(time.Millisecond) }

// jsonReport is the machine-readable form: durations in milliseconds.
type jsonReport struct {
	URL              string  `json:"url"`
	Transport        string  `json:"transport"`
	Channel          string  `json:"channel"`
	Subscribers      int     `json:"subscribers"`
	Publishers       int     `json:"publishers"`
	Rate             float64 `json:"rate"`
	Window           int     `json:"window"`
	PayloadSize      int     `json:"payload_size"`
	Published        int64   `json:"published"`
	Acked            int64   `json:"acked"`
	Failed           int64   `json:"failed"`
	FirstError       string  `json:"first_error,omitempty"`
	Expected         int64   `json:"expected"`
	Delivered        int64   `json:"delivered"`
	Lost             int64   `json:"lost"`
	Duplicated       int64   `json:"duplicated"`
	OutOfOrder       int64   `json:"out_of_order"`
	Invalid          int64   `json:"invalid"`
	Rehandshakes     int64   `json:"rehandshakes"`
	PublishMs        float64 `json:"publish_ms"`
	ElapsedMs        float64 `json:"elapsed_ms"`
	PublishesPerSec  float64 `json:"publishes_per_sec"`
	DeliveriesPerSec float64 `json:"deliveries_per_sec"`
	LatencyCount     int64   `json:"latency_count"`
	LatencyMeanMs    float64 `json:"latency_mean_ms"`
	LatencyP50Ms     float64 `json:"latency_p50_ms"`
	LatencyP95Ms     float64 `json:"latency_p95_ms"`
	LatencyP99Ms     float64 `json:"latency_p99_ms"`
	LatencyMaxMs     float64 `json:"latency_max_ms"`
	CPUMs            float64 `json:"cpu_ms"`
	CPUPercent       float64 `json:"cpu_percent"`

	// SubscriberURLs is set when the subscribers used other endpoints.
	SubscriberURLs []string `json:"subscriber_urls,omitempty"`
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// WriteJSON writes the report as one JSON object, durations in milliseconds.
func (r *Report) WriteJSON(w io.Writer) error {
	c := r.Config
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(jsonReport{
		URL: c.URL, SubscriberURLs: c.SubscriberURLs, Transport: c.Transport, Channel: c.Channel,
		Subscribers: c.Subscribers, Publishers: c.Publishers, Rate: c.Rate, Window: c.Window, PayloadSize: c.PayloadSize,
		Published: r.Published, Acked: r.Acked, Failed: r.Failed, FirstError: r.FirstError,
		Expected: r.Expected, Delivered: r.Delivered, Lost: r.Lost, Duplicated: r.Duplicated,
		OutOfOrder: r.OutOfOrder, Invalid: r.Invalid, Rehandshakes: r.Rehandshakes,
		PublishMs: ms(r.PublishTime), ElapsedMs: ms(r.Elapsed),
		PublishesPerSec: r.PublishesPerSec, DeliveriesPerSec: r.DeliveriesPerSec,
		LatencyCount: r.Latency.Count, LatencyMeanMs: ms(r.Latency.Mean),
		LatencyP50Ms: ms(r.Latency.P50), LatencyP95Ms: ms(r.Latency.P95),
		LatencyP99Ms: ms(r.Latency.P99), LatencyMaxMs: ms(r.Latency.Max),
		CPUMs: ms(r.CPU), CPUPercent: r.CPUPercent,
	})
}
