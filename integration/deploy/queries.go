package deploy

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
)

// Query is one PromQL expression of an alert rule or a dashboard panel.
type Query struct {
	// Source names where the query is, for messages.
	Source string
	Expr   string
	// Template is the text whose label references must exist in the result:
	// the alert's annotations, or the panel target's legend format.
	Template string
	// Legend is true when Template uses Grafana's {{name}} syntax.
	Legend bool
}

// RuleQueries returns the expression of every rule in rule, with the
// alert's annotations as its template.
func RuleQueries(rule *monitoringv1.PrometheusRule) []Query {
	var queries []Query
	for _, group := range rule.Spec.Groups {
		for _, r := range group.Rules {
			name := r.Alert
			if name == "" {
				name = r.Record
			}
			var template strings.Builder
			for _, key := range slices.Sorted(maps.Keys(r.Annotations)) {
				template.WriteString(r.Annotations[key] + "\n")
			}
			queries = append(queries, Query{
				Source:   fmt.Sprintf("PrometheusRule %s group %s rule %s", rule.Name, group.Name, name),
				Expr:     r.Expr.String(),
				Template: template.String(),
			})
		}
	}
	return queries
}

// Dashboard is the part of a Grafana dashboard that the checks read.
type Dashboard struct {
	UID        string  `json:"uid"`
	Title      string  `json:"title"`
	Panels     []Panel `json:"panels"`
	Templating struct {
		List []Variable `json:"list"`
	} `json:"templating"`
}

// Panel is a Grafana panel. A row panel nests further panels.
type Panel struct {
	ID         int              `json:"id"`
	Type       string           `json:"type"`
	Title      string           `json:"title"`
	Datasource *PanelDatasource `json:"datasource"`
	Targets    []Target         `json:"targets"`
	Panels     []Panel          `json:"panels"`
}

// PanelDatasource names the data source of a panel or target.
type PanelDatasource struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

// Target is one query of a panel.
type Target struct {
	RefID        string           `json:"refId"`
	Expr         string           `json:"expr"`
	LegendFormat string           `json:"legendFormat"`
	Datasource   *PanelDatasource `json:"datasource"`
}

// Variable is a dashboard template variable. Query is a string, or an object
// with a "query" field in newer Grafana versions.
type Variable struct {
	Name  string          `json:"name"`
	Type  string          `json:"type"`
	Query json.RawMessage `json:"query"`
}

// QueryText returns the variable's query as a string.
func (v Variable) QueryText() (string, error) {
	var text string
	if err := json.Unmarshal(v.Query, &text); err == nil {
		return text, nil
	}
	var object struct {
		Query string `json:"query"`
	}
	if err := json.Unmarshal(v.Query, &object); err != nil {
		return "", fmt.Errorf("variable %s: query is neither a string nor an object: %w", v.Name, err)
	}
	return object.Query, nil
}

// ParseDashboard decodes Grafana dashboard JSON.
func ParseDashboard(data []byte) (*Dashboard, error) {
	var d Dashboard
	if err := json.Unmarshal(data, &d); err != nil {
		return nil, fmt.Errorf("invalid dashboard JSON: %w", err)
	}
	return &d, nil
}

// AllPanels returns the dashboard's panels with the panels of rows
// flattened in.
func (d *Dashboard) AllPanels() []Panel {
	var all []Panel
	var walk func([]Panel)
	walk = func(panels []Panel) {
		for _, p := range panels {
			all = append(all, p)
			walk(p.Panels)
		}
	}
	walk(d.Panels)
	return all
}

// Queries returns every panel target's expression with its legend format as
// template.
func (d *Dashboard) Queries() []Query {
	var queries []Query
	for _, p := range d.AllPanels() {
		for _, t := range p.Targets {
			queries = append(queries, Query{
				Source:   fmt.Sprintf("dashboard %s panel %q target %s", d.UID, p.Title, t.RefID),
				Expr:     t.Expr,
				Template: t.LegendFormat,
				Legend:   true,
			})
		}
	}
	return queries
}

// MonitoringQueries returns the queries of every PrometheusRule under
// root/deploy/monitoring and every dashboard in
// root/deploy/monitoring/dashboards.
func MonitoringQueries(root string) ([]Query, error) {
	dir := filepath.Join(root, "deploy", "monitoring")
	docs, err := LoadTree(dir)
	if err != nil {
		return nil, err
	}
	var queries []Query
	for _, rule := range Find[*monitoringv1.PrometheusRule](docs) {
		queries = append(queries, RuleQueries(rule)...)
	}

	dashboards, err := filepath.Glob(filepath.Join(dir, "dashboards", "*.json"))
	if err != nil {
		return nil, err
	}
	for _, path := range dashboards {
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		d, err := ParseDashboard(data)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		queries = append(queries, d.Queries()...)
	}
	return queries, nil
}

// ReferencedMetrics returns the sorted series names that the alert rules and
// dashboards under root/deploy/monitoring query. Histogram series keep their
// _bucket, _count or _sum suffix. The list includes `up`, which Prometheus
// records itself. LookupSeries maps each name to its family.
func ReferencedMetrics(root string) ([]string, error) {
	queries, err := MonitoringQueries(root)
	if err != nil {
		return nil, err
	}
	return QueriedSeries(queries)
}

// QueriedSeries returns the sorted series names that queries select, in the
// form ReferencedMetrics returns them. A query that does not parse is
// reported in the error, and the names of the other queries are still
// returned.
func QueriedSeries(queries []Query) ([]string, error) {
	var names []string
	var errs []error
	for _, q := range queries {
		expr, err := ParseQuery(q.Expr)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", q.Source, err))
			continue
		}
		names = append(names, SeriesNames(expr)...)
	}
	slices.Sort(names)
	return slices.Compact(names), errors.Join(errs...)
}
