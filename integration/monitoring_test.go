package integration

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"mime"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kedacore/keda/v2/pkg/scalers"
	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/lagscaler/lagscaler/integration/deploy"
)

// The clusters of the monitored server. The second one points at loopback
// port 1, a privileged port that no test opens, so every connection to it is
// refused.
const (
	mainCluster        = "main"
	unreachableCluster = "unreachable"
	unreachableBroker  = "127.0.0.1:1"
)

// The monitored group: three partitions whose lag grows from 5+5+5 to
// 10+9+9 when monitoredGrowth is produced. With lagThreshold 10 the
// ScaledObject's replica cap is the partition count, 3. Before the growth
// the desired replica count is 2. After it the count is 3, the cap, while
// the metric value (28) is still below the capped value (30) and grows.
var (
	monitoredRecords = []int{20, 20, 20}
	monitoredCommits = []int64{15, 15, 15}
	monitoredGrowth  = []int{5, 4, 4}
)

const (
	monitoredLag = 15
	grownLag     = 28
)

// The namespace and scaledobject labels of the ScaledObject that
// newKEDAScaler configures.
const (
	monitoredNamespace    = "shop"
	monitoredScaledObject = "orders-consumer"
)

// monitoredServe is a `lagscaler serve` with two configured clusters and a
// group exported through metrics.groups, which KEDA's client has called.
type monitoredServe struct {
	srv          *server
	bootstrap    string
	topic, group string
	scaler       scalers.Scaler
	metricName   string
	// beforeKEDA is /metrics as served before the first gRPC call.
	beforeKEDA []byte
}

// startMonitoredServe drives a new server until every metric family that
// deploy/monitoring queries has series:
//   - lag, offset, anomaly and snapshot series from the group listed in the
//     config file's metrics.groups,
//   - lagscaler_grpc_* and lagscaler_scaledobject_* series from
//     GetMetricSpec and GetMetrics calls through KEDA's client,
//   - Kafka request and refresh series from the background refreshes of both
//     clusters.
//
// The unreachable cluster makes lagscaler_kafka_request_errors_total count
// failed connections. lagscaler creates that counter's series at a request's
// first attempt, so the family would be on /metrics without any failure. The
// test still causes failures, because only a non-zero error rate makes the
// LagscalerKafkaUnreachable expression return a series, and because an
// exposition check should not depend on that eager creation.
func startMonitoredServe(ctx context.Context, t *testing.T) *monitoredServe {
	t.Helper()
	ms := &monitoredServe{bootstrap: needCluster(t)}
	ms.topic, ms.group = setUpGroup(ctx, t, ms.bootstrap, monitoredRecords, monitoredCommits, false)
	configPath := writeMonitoringConfig(t, ms.bootstrap, ms.topic, ms.group)
	// A short Kafka timeout ends the refreshes of the unreachable cluster
	// quickly, and a short refresh interval shows grown lag within seconds.
	ms.srv = startServeWith(t, "--config", configPath, "--refresh-interval", "1s", "--kafka-timeout", "2s")
	ms.beforeKEDA = ms.srv.scrapeMetrics(ctx, t)

	ms.scaler = newKEDAScaler(t, ms.srv.grpcAddr, map[string]string{
		"cluster":       mainCluster,
		"topic":         ms.topic,
		"consumerGroup": ms.group,
		"lagThreshold":  strconv.Itoa(scenarioThreshold),
	})
	ms.metricName = metricSpec(ctx, t, ms.scaler)
	ms.waitForMetricValue(ctx, t, monitoredLag)

	ms.waitForMetrics(ctx, t,
		ms.lagCondition("kafka_consumergroup_lag_sum", monitoredLag),
		ms.lagCondition("lagscaler_consumergroup_effective_lag_sum", monitoredLag),
		errorsAbove(0),
	)
	return ms
}

// writeMonitoringConfig writes a config file with the test cluster as
// mainCluster, unreachableBroker as unreachableCluster and the group
// exported on both, and returns its path.
func writeMonitoringConfig(t *testing.T, bootstrap, topic, group string) string {
	t.Helper()
	text := fmt.Sprintf(`clusters:
  - name: %s
    bootstrapServers: [%q]
  - name: %s
    bootstrapServers: [%q]
metrics:
  groups:
    - cluster: %s
      group: %q
      topics: [%q]
    - cluster: %s
      group: %q
`, mainCluster, bootstrap, unreachableCluster, unreachableBroker,
		mainCluster, group, topic, unreachableCluster, group)
	path := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// waitForMetricValue calls GetMetricsAndActivity through KEDA's client until
// the value is want, and fails the test after 30s. The value can lag behind
// /metrics by one refresh, because KEDA's query is refreshed apart from the
// group listed in metrics.groups.
func (ms *monitoredServe) waitForMetricValue(ctx context.Context, t *testing.T, want float64) {
	t.Helper()
	ms.poll(ctx, t, func() string {
		value, _, err := metricValue(ctx, t, ms.scaler, ms.metricName)
		if err == nil && value == want {
			return ""
		}
		return fmt.Sprintf("GetMetricsAndActivity(%s) = %v, %v; want %v", ms.metricName, value, err, want)
	})
}

// poll calls check every 250ms until it returns "". check otherwise
// describes what is not yet as expected, and poll fails the test with the
// last description after 30s or when ctx ends.
func (ms *monitoredServe) poll(ctx context.Context, t *testing.T, check func() (unmet string)) {
	t.Helper()
	const timeout = 30 * time.Second
	deadline := time.Now().Add(timeout)
	ticker := time.NewTicker(250 * time.Millisecond)
	defer ticker.Stop()
	for {
		unmet := check()
		if unmet == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %s\n%s", timeout, unmet, ms.srv.log())
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s: %v", unmet, ctx.Err())
		case <-ticker.C:
		}
	}
}

// metricsCondition is a state of /metrics that a test waits for.
type metricsCondition struct {
	description string
	met         func(families map[string]*dto.MetricFamily) bool
}

// lagCondition is met when the group's series of family on mainCluster has
// value lag.
func (ms *monitoredServe) lagCondition(family string, lag float64) metricsCondition {
	match := map[string]string{"cluster": mainCluster, "consumergroup": ms.group, "topic": ms.topic}
	return metricsCondition{
		description: fmt.Sprintf("%s%v = %v", family, match, lag),
		met: func(families map[string]*dto.MetricFamily) bool {
			got, ok := seriesSum(families, family, match)
			return ok && got == lag
		},
	}
}

// errorsAbove is met when lagscaler_kafka_request_errors_total of
// unreachableCluster exceeds count.
func errorsAbove(count float64) metricsCondition {
	return metricsCondition{
		description: fmt.Sprintf("lagscaler_kafka_request_errors_total{cluster=%q} > %v", unreachableCluster, count),
		met: func(families map[string]*dto.MetricFamily) bool {
			return unreachableErrors(families) > count
		},
	}
}

func unreachableErrors(families map[string]*dto.MetricFamily) float64 {
	errs, _ := seriesSum(families, "lagscaler_kafka_request_errors_total",
		map[string]string{"cluster": unreachableCluster})
	return errs
}

// waitForMetrics scrapes /metrics until every condition is met, and fails
// the test with the unmet conditions after 30s.
func (ms *monitoredServe) waitForMetrics(ctx context.Context, t *testing.T, conditions ...metricsCondition) {
	t.Helper()
	ms.poll(ctx, t, func() string {
		families := parseExposition(t, ms.srv.scrapeMetrics(ctx, t))
		var unmet []string
		for _, c := range conditions {
			if !c.met(families) {
				unmet = append(unmet, c.description)
			}
		}
		if len(unmet) == 0 {
			return ""
		}
		return "/metrics: not yet " + strings.Join(unmet, "; ")
	})
}

// scrapeMetrics returns the body of GET /metrics in the Prometheus text
// format 0.0.4, which Prometheus' own text parser reads.
func (s *server) scrapeMetrics(ctx context.Context, t *testing.T) []byte {
	t.Helper()
	url := "http://" + s.httpAddr + "/metrics"
	reqCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(reqCtx, http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "text/plain; version=0.0.4")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: reading the body: %v", url, err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: status %s\n%s", url, resp.Status, body)
	}
	if mediaType, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mediaType != "text/plain" {
		t.Fatalf("GET %s: Content-Type %q, want text/plain", url, resp.Header.Get("Content-Type"))
	}
	return body
}

// parseExposition parses a /metrics body in the text format.
func parseExposition(t *testing.T, exposition []byte) map[string]*dto.MetricFamily {
	t.Helper()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(bytes.NewReader(exposition))
	if err != nil {
		t.Fatalf("parse /metrics: %v\n%s", err, exposition)
	}
	return families
}

// seriesSum returns the sum of the values of the series of family name
// whose labels include match, and whether any series matched. A histogram
// series contributes its observation count.
func seriesSum(families map[string]*dto.MetricFamily, name string, match map[string]string,
) (sum float64, found bool) {
	family, ok := families[name]
	if !ok {
		return 0, false
	}
	for _, m := range family.GetMetric() {
		if !hasLabels(m, match) {
			continue
		}
		found = true
		switch family.GetType() {
		case dto.MetricType_COUNTER:
			sum += m.GetCounter().GetValue()
		case dto.MetricType_GAUGE:
			sum += m.GetGauge().GetValue()
		case dto.MetricType_HISTOGRAM:
			sum += float64(m.GetHistogram().GetSampleCount())
		default:
			sum += m.GetUntyped().GetValue()
		}
	}
	return sum, found
}

func hasLabels(m *dto.Metric, match map[string]string) bool {
	matched := 0
	for _, pair := range m.GetLabel() {
		if want, ok := match[pair.GetName()]; ok {
			if pair.GetValue() != want {
				return false
			}
			matched++
		}
	}
	return matched == len(match)
}

// repoRoot returns the root of the repository, the parent of this
// package's directory.
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// monitoringRule returns the PrometheusRule under deploy/monitoring.
func monitoringRule(t *testing.T) *monitoringv1.PrometheusRule {
	t.Helper()
	docs, err := deploy.LoadTree(filepath.Join(repoRoot(t), "deploy", "monitoring"))
	if err != nil {
		t.Fatalf("deploy.LoadTree(deploy/monitoring): %v", err)
	}
	rules := deploy.Find[*monitoringv1.PrometheusRule](docs)
	if len(rules) != 1 {
		t.Fatalf("deploy/monitoring has %d PrometheusRules, want 1", len(rules))
	}
	return rules[0]
}

// renameMetric returns a copy of rule in which every alert expression
// selects to in place of from. It fails the test when no expression
// contains from.
func renameMetric(t *testing.T, rule *monitoringv1.PrometheusRule, from, to string,
) *monitoringv1.PrometheusRule {
	t.Helper()
	renamed := rule.DeepCopy()
	replaced := 0
	for g := range renamed.Spec.Groups {
		rules := renamed.Spec.Groups[g].Rules
		for i := range rules {
			expr := rules[i].Expr.String()
			replaced += strings.Count(expr, from)
			rules[i].Expr = intstr.FromString(strings.ReplaceAll(expr, from, to))
		}
	}
	if replaced == 0 {
		t.Fatalf("no alert of PrometheusRule %s selects %s", rule.Name, from)
	}
	return renamed
}

// TestServeExportsReferencedMetrics checks the /metrics of a running server
// against every series that the alerts and the dashboard under
// deploy/monitoring query, and against deploy.Catalog.
func TestServeExportsReferencedMetrics(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	referenced, err := deploy.ReferencedMetrics(repoRoot(t))
	if err != nil {
		t.Fatalf("deploy.ReferencedMetrics: %v", err)
	}
	ms := startMonitoredServe(ctx, t)
	exposition := ms.srv.scrapeMetrics(ctx, t)

	if err := deploy.CheckExposition(bytes.NewReader(exposition), referenced); err != nil {
		t.Errorf("CheckExposition(/metrics, deploy/monitoring) = %v, want nil\n%s", err, exposition)
	}

	t.Run("alert on unexported metric", func(t *testing.T) {
		const unexported = "lagscaler_consumergroup_unread_records"
		rule := renameMetric(t, monitoringRule(t), "lagscaler_consumergroup_effective_lag_sum", unexported)
		names, err := deploy.QueriedSeries(deploy.RuleQueries(rule))
		if err != nil {
			t.Fatalf("deploy.QueriedSeries(renamed rule): %v", err)
		}
		err = deploy.CheckExposition(bytes.NewReader(exposition), names)
		if err == nil || !strings.Contains(err.Error(), strconv.Quote(unexported)) {
			t.Errorf("CheckExposition(/metrics, rule on %s) = %v, want an error naming it", unexported, err)
		}
	})

	// client_golang leaves out a labelled family until it has a series, so
	// before any gRPC call the families of KEDA's calls are missing.
	t.Run("families without series", func(t *testing.T) {
		err := deploy.CheckExposition(bytes.NewReader(ms.beforeKEDA), referenced)
		for _, family := range []string{
			"lagscaler_grpc_requests_total",
			"lagscaler_scaledobject_metric_value",
			"lagscaler_scaledobject_replica_cap",
		} {
			want := "family " + family + " is not exported"
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("CheckExposition(/metrics before KEDA calls) = %v, want an error containing %q",
					err, want)
			}
		}
	})
}
