package deploy

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	"github.com/prometheus/prometheus/promql/parser"
	corev1 "k8s.io/api/core/v1"
)

func TestServiceMonitor(t *testing.T) {
	docs := deployTree(t)
	monitors := Find[*monitoringv1.ServiceMonitor](docs)
	if len(monitors) != 1 {
		t.Fatalf("deploy/ has %d ServiceMonitors, want 1", len(monitors))
	}
	sm := monitors[0]
	metrics, ok := findNamed[*corev1.Service](docs, lagscalerNamespace, "lagscaler-metrics")
	if !ok {
		t.Fatal("no Service lagscaler-metrics")
	}
	grpc, ok := findNamed[*corev1.Service](docs, lagscalerNamespace, "lagscaler-grpc")
	if !ok {
		t.Fatal("no Service lagscaler-grpc")
	}

	if !labelsMatch(sm.Spec.Selector.MatchLabels, metrics.Labels) {
		t.Errorf("ServiceMonitor selector %v does not select Service lagscaler-metrics", sm.Spec.Selector.MatchLabels)
	}
	if labelsMatch(sm.Spec.Selector.MatchLabels, grpc.Labels) {
		t.Error("ServiceMonitor selector also selects the gRPC Service")
	}
	if !slices.Contains(sm.Spec.NamespaceSelector.MatchNames, lagscalerNamespace) {
		t.Errorf("ServiceMonitor namespaceSelector %v does not include %s", sm.Spec.NamespaceSelector.MatchNames, lagscalerNamespace)
	}
	if len(sm.Spec.Endpoints) != 1 {
		t.Fatalf("ServiceMonitor has %d endpoints, want 1", len(sm.Spec.Endpoints))
	}
	ep := sm.Spec.Endpoints[0]
	if ep.Port != metrics.Spec.Ports[0].Name {
		t.Errorf("ServiceMonitor endpoint port = %q, want %q", ep.Port, metrics.Spec.Ports[0].Name)
	}
	if ep.Path != "/metrics" {
		t.Errorf("ServiceMonitor endpoint path = %q, want /metrics", ep.Path)
	}
	// lagscaler_scaledobject_* series carry the ScaledObject's namespace in
	// a label called namespace, which must not be replaced by the target's.
	if !ep.HonorLabels {
		t.Error("ServiceMonitor endpoint honorLabels is false")
	}
}

// prometheusRule returns the single PrometheusRule under deploy/.
func prometheusRule(t *testing.T) *monitoringv1.PrometheusRule {
	t.Helper()
	rules := Find[*monitoringv1.PrometheusRule](deployTree(t))
	if len(rules) != 1 {
		t.Fatalf("deploy/ has %d PrometheusRules, want 1", len(rules))
	}
	return rules[0]
}

func TestAlertRules(t *testing.T) {
	rule := prometheusRule(t)
	queries := RuleQueries(rule)
	i := 0
	for _, group := range rule.Spec.Groups {
		for _, r := range group.Rules {
			q := queries[i]
			i++
			t.Run(r.Alert, func(t *testing.T) {
				if r.Alert == "" {
					t.Fatal("rule is not an alert")
				}
				if r.For == nil || *r.For == "" {
					t.Error("alert has no for duration, so one bad scrape fires it")
				}
				if s := r.Labels["severity"]; s != "warning" && s != "critical" {
					t.Errorf("severity label = %q, want warning or critical", s)
				}
				for _, key := range []string{"summary", "description"} {
					if r.Annotations[key] == "" {
						t.Errorf("annotation %s is empty", key)
					}
				}
				checkQuery(t, q)
			})
		}
	}
}

// checkQuery parses a query and reports each problem CheckExpr and
// CheckTemplateLabels find.
func checkQuery(t *testing.T, q Query) parser.Expr {
	t.Helper()
	expr, err := ParseQuery(q.Expr)
	if err != nil {
		t.Errorf("%s: invalid PromQL: %v", q.Source, err)
		return nil
	}
	for _, err := range CheckExpr(expr) {
		t.Errorf("%s: %v", q.Source, err)
	}
	for _, err := range CheckTemplateLabels(expr, q.Template, q.Legend) {
		t.Errorf("%s: %v", q.Source, err)
	}
	return expr
}

func TestAlertsCoverFailureModes(t *testing.T) {
	rule := prometheusRule(t)
	type alert struct {
		expr   parser.Expr
		text   string
		series []string
		after  time.Duration
	}
	var alerts []alert
	for _, group := range rule.Spec.Groups {
		for _, r := range group.Rules {
			expr, err := ParseQuery(r.Expr.String())
			if err != nil {
				t.Fatalf("alert %s: %v", r.Alert, err)
			}
			var after time.Duration
			if r.For != nil {
				after, _ = time.ParseDuration(string(*r.For))
			}
			alerts = append(alerts, alert{expr, expr.String(), SeriesNames(expr), after})
		}
	}

	uses := func(a alert, names ...string) bool {
		for _, n := range names {
			if !slices.Contains(a.series, n) {
				return false
			}
		}
		return true
	}
	tests := []struct {
		name  string
		match func(a alert) bool
	}{
		{"consumer lag high for 5 minutes", func(a alert) bool {
			return (uses(a, "lagscaler_consumergroup_effective_lag_sum") || uses(a, "kafka_consumergroup_lag_sum")) &&
				a.after >= 5*time.Minute
		}},
		{"Kafka requests failing", func(a alert) bool {
			return uses(a, "lagscaler_kafka_request_errors_total") && strings.Contains(a.text, "rate(")
		}},
		{"snapshot stale", func(a alert) bool { return uses(a, "lagscaler_snapshot_age_seconds") }},
		{"pinned at replica cap while lag grows", func(a alert) bool {
			return uses(a, "lagscaler_scaledobject_desired_replicas", "lagscaler_scaledobject_replica_cap") &&
				strings.Contains(a.text, "deriv(")
		}},
		{"offset anomalies", func(a alert) bool { return uses(a, "lagscaler_consumergroup_anomaly_partitions") }},
		{"gRPC errors to KEDA", func(a alert) bool {
			return uses(a, "lagscaler_grpc_requests_total") && strings.Contains(a.text, `code!="OK"`)
		}},
		{"scaler down", func(a alert) bool { return uses(a, "up") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !slices.ContainsFunc(alerts, tt.match) {
				t.Error("no alert covers this")
			}
		})
	}
}

func readDashboard(t *testing.T) *Dashboard {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(repoRoot(t), "deploy", "monitoring", "dashboards", "lagscaler.json"))
	if err != nil {
		t.Fatal(err)
	}
	d, err := ParseDashboard(data)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestDashboardQueries(t *testing.T) {
	d := readDashboard(t)
	if d.UID == "" || d.Title == "" {
		t.Errorf("dashboard uid = %q, title = %q; want both set", d.UID, d.Title)
	}
	for _, p := range d.AllPanels() {
		if p.Type == "row" {
			continue
		}
		if p.Datasource == nil || p.Datasource.UID != "${datasource}" {
			t.Errorf("panel %q datasource = %v, want the ${datasource} variable", p.Title, p.Datasource)
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no targets", p.Title)
		}
	}
	for _, q := range d.Queries() {
		checkQuery(t, q)
	}
}

func TestDashboardVariables(t *testing.T) {
	d := readDashboard(t)
	for _, v := range d.Templating.List {
		if v.Type != "query" {
			continue
		}
		query, err := v.QueryText()
		if err != nil {
			t.Error(err)
			continue
		}
		if err := CheckLabelValuesQuery(query); err != nil {
			t.Errorf("variable %s: %v", v.Name, err)
		}
	}
}

func TestDashboardShowsEveryConcern(t *testing.T) {
	var used []string
	for _, q := range readDashboard(t).Queries() {
		expr, err := ParseQuery(q.Expr)
		if err != nil {
			t.Fatalf("%s: %v", q.Source, err)
		}
		used = append(used, SeriesNames(expr)...)
	}
	for _, want := range []string{
		"kafka_consumergroup_lag_sum",
		"lagscaler_consumergroup_effective_lag_sum",
		"lagscaler_consumergroup_anomaly_partitions",
		"lagscaler_snapshot_age_seconds",
		"lagscaler_scaledobject_replica_cap",
		"lagscaler_scaledobject_desired_replicas",
		"lagscaler_scaledobject_metric_value",
		"lagscaler_scaledobject_active",
		"lagscaler_grpc_requests_total",
		"lagscaler_grpc_request_duration_seconds_bucket",
		"lagscaler_kafka_request_duration_seconds_bucket",
		"lagscaler_kafka_request_errors_total",
	} {
		if !slices.Contains(used, want) {
			t.Errorf("no dashboard panel queries %s", want)
		}
	}
}

func TestDashboardConfigMapGenerator(t *testing.T) {
	k, err := ReadKustomization(filepath.Join(repoRoot(t), "deploy", "monitoring", "kustomization.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range k.ConfigMapGenerator {
		if !slices.Contains(g.Files, "dashboards/lagscaler.json") {
			continue
		}
		if g.Options == nil || g.Options.Labels["grafana_dashboard"] != "1" {
			t.Errorf("ConfigMap %s lacks the label grafana_dashboard: \"1\" that Grafana's sidecar looks for", g.Name)
		}
		return
	}
	t.Error("no configMapGenerator includes dashboards/lagscaler.json")
}

func TestReferencedMetricsAreExported(t *testing.T) {
	names, err := ReferencedMetrics(repoRoot(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(names) == 0 {
		t.Fatal("ReferencedMetrics() is empty")
	}
	for _, name := range names {
		if _, ok := LookupSeries(name); !ok {
			t.Errorf("monitoring queries %q, which lagscaler does not export", name)
		}
	}
	t.Logf("referenced series: %s", strings.Join(names, " "))
}

func TestCheckExprRejects(t *testing.T) {
	tests := []struct {
		name string
		expr string
		want string
	}{
		{"unknown metric", `kafka_consumergroup_lags > 0`, `"kafka_consumergroup_lags" is not exported`},
		{"label the metric lacks", `kafka_consumergroup_lag_sum{partition="0"}`, `has no label "partition"`},
		{"rate over a gauge", `rate(lagscaler_snapshot_age_seconds[5m])`, `rate() over "lagscaler_snapshot_age_seconds", a gauge`},
		{"deriv over a counter", `deriv(lagscaler_grpc_requests_total[5m])`, `deriv() over "lagscaler_grpc_requests_total", a counter`},
		{"quantile without le", `histogram_quantile(0.9, sum by (method) (rate(lagscaler_grpc_request_duration_seconds_bucket[5m])))`, "has no le label"},
		{"grouping by missing label", `sum by (partition) (kafka_consumergroup_lag_sum)`, `by "partition"`},
		{"on() label missing after aggregation", `max by (namespace) (lagscaler_scaledobject_replica_cap) >= on (scaledobject) lagscaler_scaledobject_desired_replicas`, "on(scaledobject)"},
		{"selector without name", `{consumergroup="x"}`, "has no metric name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			expr, err := ParseQuery(tt.expr)
			if err != nil {
				t.Fatalf("ParseQuery(%q) = %v", tt.expr, err)
			}
			errs := CheckExpr(expr)
			if !slices.ContainsFunc(errs, func(err error) bool { return strings.Contains(err.Error(), tt.want) }) {
				t.Errorf("CheckExpr(%q) = %v, want an error containing %q", tt.expr, errs, tt.want)
			}
		})
	}
}

func TestCheckTemplateLabelsRejects(t *testing.T) {
	expr, err := ParseQuery(`max by (cluster, consumergroup) (lagscaler_snapshot_age_seconds) > 90`)
	if err != nil {
		t.Fatal(err)
	}
	if errs := CheckTemplateLabels(expr, "{{ $labels.consumergroup }} on {{ $labels.cluster }}", false); len(errs) > 0 {
		t.Errorf("CheckTemplateLabels(kept labels) = %v, want none", errs)
	}
	if errs := CheckTemplateLabels(expr, "{{ $labels.topic }}", false); len(errs) != 1 {
		t.Errorf("CheckTemplateLabels($labels.topic) = %v, want one error", errs)
	}
	if errs := CheckTemplateLabels(expr, "{{topic}}", true); len(errs) != 1 {
		t.Errorf("CheckTemplateLabels(legend {{topic}}) = %v, want one error", errs)
	}
}

func TestParseQueryExpandsGrafanaVariables(t *testing.T) {
	expr, err := ParseQuery(`sum by (cluster) (rate(lagscaler_kafka_request_errors_total{cluster=~"$cluster", request=~"${request:regex}"}[$__rate_interval]))`)
	if err != nil {
		t.Fatalf("ParseQuery() = %v", err)
	}
	if errs := CheckExpr(expr); len(errs) > 0 {
		t.Errorf("CheckExpr() = %v, want none", errs)
	}
}
