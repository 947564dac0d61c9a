package integration

import (
	"context"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/textparse"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb"

	"github.com/lagscaler/lagscaler/integration/deploy"
)

// scrapeInterval is the interval of the ServiceMonitor in deploy/monitoring.
// The test stamps its scrapes this far apart, whatever time passed between
// them, so that rate() and deriv() see the change at a realistic pace.
const scrapeInterval = 30 * time.Second

// metricsJob is the job label of the series scraped through the
// ServiceMonitor, the name of the Service lagscaler-metrics.
const metricsJob = "lagscaler-metrics"

// scrapeStore is a TSDB in a temporary directory that holds the samples of
// scrapes of one target.
type scrapeStore struct {
	db       *tsdb.DB
	instance string
}

func newScrapeStore(t *testing.T, instance string) *scrapeStore {
	t.Helper()
	db, err := tsdb.Open(t.TempDir(), nil, nil, tsdb.DefaultOptions(), nil)
	if err != nil {
		t.Fatalf("tsdb.Open: %v", err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Errorf("close TSDB: %v", err)
		}
	})
	return &scrapeStore{db: db, instance: instance}
}

// appendScrape parses a /metrics body with Prometheus' scrape parser and
// stores its samples at ts, as a successful scrape does: every series gets
// the target's job and instance labels unless it has its own (honorLabels),
// and up is 1.
func (s *scrapeStore) appendScrape(t *testing.T, exposition []byte, ts time.Time) {
	t.Helper()
	app := s.db.AppenderV2(t.Context())
	p := textparse.NewPromParser(exposition, labels.NewSymbolTable(), false)
	for {
		entry, err := p.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("parse /metrics: %v\n%s", err, exposition)
		}
		if entry != textparse.EntrySeries {
			continue
		}
		var series labels.Labels
		p.Labels(&series)
		_, _, value := p.Series()
		s.append(t, app, series, ts, value)
	}
	s.append(t, app, labels.FromStrings(model.MetricNameLabel, "up"), ts, 1)
	if err := app.Commit(); err != nil {
		t.Fatalf("commit scrape at %v: %v", ts, err)
	}
}

func (s *scrapeStore) append(t *testing.T, app storage.AppenderV2, series labels.Labels,
	ts time.Time, value float64,
) {
	t.Helper()
	b := labels.NewBuilder(series)
	for name, targetValue := range map[string]string{"job": metricsJob, "instance": s.instance} {
		if !series.Has(name) {
			b.Set(name, targetValue)
		}
	}
	_, err := app.Append(0, b.Labels(), 0, ts.UnixMilli(), value, nil, nil, storage.AOptions{})
	if err != nil {
		t.Fatalf("append %s at %v: %v", series, ts, err)
	}
}

// evaluate runs expr as an instant query at ts, as Prometheus' rule manager
// evaluates an alert expression, and returns each result series' labels
// with its value. An error or a warning of the engine fails the test.
func (s *scrapeStore) evaluate(t *testing.T, engine *promql.Engine, expr string, ts time.Time,
) map[string]float64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	query, err := engine.NewInstantQuery(ctx, s.db, nil, expr, ts)
	if err != nil {
		t.Fatalf("query %s: %v", expr, err)
	}
	defer query.Close()
	result := query.Exec(ctx)
	if result.Err != nil {
		t.Fatalf("evaluate %s at %v: %v", expr, ts, result.Err)
	}
	if len(result.Warnings) > 0 {
		t.Errorf("evaluate %s at %v: warnings %v", expr, ts, result.Warnings.AsErrors())
	}
	vector, err := result.Vector()
	if err != nil {
		t.Fatalf("evaluate %s at %v: %v", expr, ts, err)
	}
	got := make(map[string]float64, len(vector))
	for _, sample := range vector {
		got[sample.Metric.String()] = sample.F
	}
	return got
}

// alertRule is one alert of a PrometheusRule.
type alertRule struct {
	name string
	expr string
}

func alertRules(rule *monitoringv1.PrometheusRule) []alertRule {
	var alerts []alertRule
	for _, group := range rule.Spec.Groups {
		for _, r := range group.Rules {
			alerts = append(alerts, alertRule{name: r.Alert, expr: r.Expr.String()})
		}
	}
	return alerts
}

// alertSelecting returns the only alert whose expression selects series.
func alertSelecting(t *testing.T, alerts []alertRule, series string) alertRule {
	t.Helper()
	var found []alertRule
	for _, a := range alerts {
		expr, err := deploy.ParseQuery(a.expr)
		if err != nil {
			t.Fatalf("alert %s: %v", a.name, err)
		}
		if slices.Contains(deploy.SeriesNames(expr), series) {
			found = append(found, a)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%d alerts select %s, want 1: %v", len(found), series, found)
	}
	return found[0]
}

// withThreshold returns expr with the number on the right of its comparison
// replaced by threshold. expr must have exactly one such comparison.
func withThreshold(t *testing.T, expr string, threshold float64) string {
	t.Helper()
	parsed, err := parser.NewParser(parser.Options{}).ParseExpr(expr)
	if err != nil {
		t.Fatalf("parse %s: %v", expr, err)
	}
	var numbers []*parser.NumberLiteral
	parser.Inspect(parsed, func(node parser.Node, _ []parser.Node) error {
		if b, ok := node.(*parser.BinaryExpr); ok && b.Op.IsComparisonOperator() {
			if n, ok := b.RHS.(*parser.NumberLiteral); ok {
				numbers = append(numbers, n)
			}
		}
		return nil
	})
	if len(numbers) != 1 {
		t.Fatalf("%s has %d comparisons with a number, want 1", expr, len(numbers))
	}
	numbers[0].Val = threshold
	return parsed.String()
}

// labelSets returns the sorted label sets of an evaluation result, nil for
// none.
func labelSets(result map[string]float64) []string {
	var sets []string
	for set := range result {
		sets = append(sets, set)
	}
	slices.Sort(sets)
	return sets
}

// TestAlertRulesEvaluateOnServe evaluates the alert expressions of the
// PrometheusRule under deploy/monitoring with Prometheus' PromQL engine over
// two scrapes of a running server, with the group's lag grown in between.
func TestAlertRulesEvaluateOnServe(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	alerts := alertRules(monitoringRule(t))
	ms := startMonitoredServe(ctx, t)
	first := ms.srv.scrapeMetrics(ctx, t)

	// The second scrape must show the grown lag in every lag family and in
	// the value sent to KEDA, and more failed connections, so that deriv()
	// and rate() see a change.
	produceCounts(ctx, t, ms.bootstrap, ms.topic, monitoredGrowth)
	ms.waitForMetrics(ctx, t,
		ms.lagCondition("kafka_consumergroup_lag_sum", grownLag),
		ms.lagCondition("lagscaler_consumergroup_effective_lag_sum", grownLag),
		errorsAbove(unreachableErrors(parseExposition(t, first))),
	)
	ms.waitForMetricValue(ctx, t, grownLag)
	second := ms.srv.scrapeMetrics(ctx, t)

	store := newScrapeStore(t, ms.srv.httpAddr)
	before := time.Now().Truncate(time.Second)
	after := before.Add(scrapeInterval)
	store.appendScrape(t, first, before)
	store.appendScrape(t, second, after)
	engine := promql.NewEngine(promql.EngineOpts{MaxSamples: 1_000_000, Timeout: 10 * time.Second})

	// Of a healthy scaler with one unreachable cluster and one ScaledObject
	// whose desired replicas reach its replica cap while its lag grows,
	// these alerts return series after the growth, and no others.
	// The replica cap alert follows the desired replicas before the cap, so
	// it keeps firing after the metric value sent to KEDA is capped.
	capAlert := alertSelecting(t, alerts, "lagscaler_scaledobject_replica_cap")
	unreachableAlert := alertSelecting(t, alerts, "lagscaler_kafka_request_errors_total")
	wantAfter := map[string][]string{
		capAlert.name: {
			labels.FromStrings("namespace", monitoredNamespace, "scaledobject", monitoredScaledObject).String(),
		},
		unreachableAlert.name: {labels.FromStrings("cluster", unreachableCluster).String()},
	}
	for _, a := range alerts {
		t.Run(a.name, func(t *testing.T) {
			if got := labelSets(store.evaluate(t, engine, a.expr, before)); len(got) > 0 {
				t.Errorf("%s before the growth returned %v, want no series", a.expr, got)
			}
			got := labelSets(store.evaluate(t, engine, a.expr, after))
			if diff := cmp.Diff(wantAfter[a.name], got); diff != "" {
				t.Errorf("%s after the growth: series differ (-want +got):\n%s", a.expr, diff)
			}
		})
	}

	t.Run("lag threshold", func(t *testing.T) {
		testLagThreshold(t, store, engine, alerts, ms, before, after)
	})
}

// testLagThreshold evaluates the lag alert with its threshold rewritten
// around the grown lag, as shipped on lagscaler's effective lag and on
// kafka_exporter's kafka_consumergroup_lag_sum.
func testLagThreshold(t *testing.T, store *scrapeStore, engine *promql.Engine, alerts []alertRule,
	ms *monitoredServe, before, after time.Time,
) {
	const shipped = "lagscaler_consumergroup_effective_lag_sum"
	lagAlert := alertSelecting(t, alerts, shipped)
	group := labels.FromStrings("cluster", mainCluster, "consumergroup", ms.group, "topic", ms.topic).String()

	for _, variant := range []struct {
		name string
		expr string
	}{
		{"effective lag", lagAlert.expr},
		{"kafka_consumergroup_lag_sum", strings.ReplaceAll(lagAlert.expr, shipped, "kafka_consumergroup_lag_sum")},
	} {
		tests := []struct {
			name string
			expr string
			at   time.Time
			want map[string]float64
		}{
			{"above threshold", withThreshold(t, variant.expr, grownLag-1), after, map[string]float64{group: grownLag}},
			{"equal to threshold", withThreshold(t, variant.expr, grownLag), after, map[string]float64{}},
			{"below threshold before growth", withThreshold(t, variant.expr, grownLag-1), before, map[string]float64{}},
			{"shipped threshold", variant.expr, after, map[string]float64{}},
		}
		for _, tt := range tests {
			t.Run(variant.name+"/"+tt.name, func(t *testing.T) {
				got := store.evaluate(t, engine, tt.expr, tt.at)
				if diff := cmp.Diff(tt.want, got); diff != "" {
					t.Errorf("%s: result differs (-want +got):\n%s", tt.expr, diff)
				}
			})
		}
	}
}
