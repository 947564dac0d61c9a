package deploy

import (
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/promql/parser"
)

// grafanaVariable matches $name, ${name} and ${name:format} in a Grafana
// query.
var grafanaVariable = regexp.MustCompile(`\$\{?(\w+)(?::\w+)?\}?`)

// ParseQuery parses a PromQL expression from an alert rule or a Grafana
// panel. Grafana's interval variables ($__rate_interval and the like) become
// 5m and every other variable becomes the string "var", which fits label
// values and regular expressions.
func ParseQuery(query string) (parser.Expr, error) {
	expanded := grafanaVariable.ReplaceAllStringFunc(query, func(v string) string {
		name := grafanaVariable.FindStringSubmatch(v)[1]
		if strings.HasPrefix(name, "__") {
			return "5m"
		}
		return "var"
	})
	return parser.NewParser(parser.Options{}).ParseExpr(expanded)
}

// SeriesNames returns the sorted metric names that expr selects.
func SeriesNames(expr parser.Expr) []string {
	var names []string
	parser.Inspect(expr, func(node parser.Node, _ []parser.Node) error {
		if vs, ok := node.(*parser.VectorSelector); ok && vs.Name != "" {
			names = append(names, vs.Name)
		}
		return nil
	})
	slices.Sort(names)
	return slices.Compact(names)
}

// Functions whose range-vector argument must be a counter, and those whose
// argument must be a gauge.
var (
	counterFunctions = []string{"rate", "irate", "increase", "resets"}
	gaugeFunctions   = []string{"deriv", "delta", "idelta", "predict_linear"}
)

// CheckExpr reports every part of expr that does not fit the Catalog. These
// are unknown series, and label matchers, `by` labels or `on` labels that the
// series cannot carry. They also include rate or increase over a gauge, deriv
// or delta over a counter, and a histogram_quantile input without le.
func CheckExpr(expr parser.Expr) []error {
	var errs []error
	parser.Inspect(expr, func(node parser.Node, _ []parser.Node) error {
		switch n := node.(type) {
		case *parser.VectorSelector:
			errs = append(errs, checkSelector(n)...)
		case *parser.Call:
			errs = append(errs, checkCall(n)...)
		case *parser.AggregateExpr:
			errs = append(errs, checkGrouping(n)...)
		case *parser.BinaryExpr:
			errs = append(errs, checkMatching(n)...)
		}
		return nil
	})
	return errs
}

func checkSelector(vs *parser.VectorSelector) []error {
	if vs.Name == "" {
		return []error{fmt.Errorf("selector %s has no metric name", vs)}
	}
	series, ok := LookupSeries(vs.Name)
	if !ok {
		return []error{fmt.Errorf("series %q is not exported by lagscaler", vs.Name)}
	}
	var errs []error
	for _, m := range vs.LabelMatchers {
		if m.Name != model.MetricNameLabel && !slices.Contains(series.Labels, m.Name) {
			errs = append(errs, fmt.Errorf("series %q has no label %q", vs.Name, m.Name))
		}
	}
	return errs
}

func checkCall(call *parser.Call) []error {
	name := call.Func.Name
	switch {
	case slices.Contains(counterFunctions, name), slices.Contains(gaugeFunctions, name):
		wantMonotonic := slices.Contains(counterFunctions, name)
		var errs []error
		for _, seriesName := range SeriesNames(call.Args[0]) {
			series, ok := LookupSeries(seriesName)
			if ok && series.Monotonic != wantMonotonic {
				errs = append(errs, fmt.Errorf("%s() over %q, a %s", name, seriesName, series.Family.Type))
			}
		}
		return errs
	case name == "histogram_quantile":
		inner, known := OutputLabels(call.Args[1])
		if known && !inner["le"] {
			return []error{fmt.Errorf("histogram_quantile() input %s has no le label", call.Args[1])}
		}
	}
	return nil
}

func checkGrouping(agg *parser.AggregateExpr) []error {
	inner, known := OutputLabels(agg.Expr)
	if !known {
		return nil
	}
	var errs []error
	for _, label := range agg.Grouping {
		if !inner[label] {
			errs = append(errs, fmt.Errorf("%s by %q: input %s has no such label", agg.Op, label, agg.Expr))
		}
	}
	return errs
}

func checkMatching(b *parser.BinaryExpr) []error {
	if b.VectorMatching == nil || !b.VectorMatching.On {
		return nil
	}
	var errs []error
	for side, operand := range map[string]parser.Expr{"left": b.LHS, "right": b.RHS} {
		out, known := OutputLabels(operand)
		if !known {
			continue
		}
		for _, label := range b.VectorMatching.MatchingLabels {
			if !out[label] {
				errs = append(errs, fmt.Errorf("on(%s): the %s operand has no such label", label, side))
			}
		}
	}
	return errs
}

// OutputLabels returns the label names that the result of expr can carry.
// known is false when a function or series in expr is outside what this
// package models, so callers skip their label checks.
func OutputLabels(expr parser.Expr) (labelNames map[string]bool, known bool) {
	switch n := expr.(type) {
	case *parser.VectorSelector:
		series, ok := LookupSeries(n.Name)
		if !ok {
			return nil, false
		}
		return setOf(series.Labels...), true
	case *parser.MatrixSelector:
		return OutputLabels(n.VectorSelector)
	case *parser.SubqueryExpr:
		return OutputLabels(n.Expr)
	case *parser.ParenExpr:
		return OutputLabels(n.Expr)
	case *parser.UnaryExpr:
		return OutputLabels(n.Expr)
	case *parser.NumberLiteral, *parser.StringLiteral:
		return setOf(), true
	case *parser.AggregateExpr:
		return aggregateLabels(n)
	case *parser.Call:
		return callLabels(n)
	case *parser.BinaryExpr:
		return binaryLabels(n)
	}
	return nil, false
}

func aggregateLabels(agg *parser.AggregateExpr) (map[string]bool, bool) {
	inner, known := OutputLabels(agg.Expr)
	if !known {
		return nil, false
	}
	switch agg.Op {
	case parser.TOPK, parser.BOTTOMK, parser.LIMITK, parser.LIMIT_RATIO:
		return inner, true
	}

	var out map[string]bool
	if agg.Without {
		out = maps.Clone(inner)
		for _, label := range agg.Grouping {
			delete(out, label)
		}
	} else {
		out = setOf(agg.Grouping...)
	}
	if agg.Op == parser.COUNT_VALUES {
		if param, ok := agg.Param.(*parser.StringLiteral); ok {
			out[param.Val] = true
		}
	}
	return out, true
}

func callLabels(call *parser.Call) (map[string]bool, bool) {
	switch call.Func.Name {
	case "histogram_quantile":
		inner, known := OutputLabels(call.Args[1])
		if !known {
			return nil, false
		}
		out := maps.Clone(inner)
		delete(out, "le")
		return out, true
	case "label_replace", "label_join":
		inner, known := OutputLabels(call.Args[0])
		destination, ok := call.Args[1].(*parser.StringLiteral)
		if !known || !ok {
			return nil, false
		}
		out := maps.Clone(inner)
		out[destination.Val] = true
		return out, true
	case "absent", "absent_over_time":
		// The result carries the equality matchers of the argument, which
		// this package does not model.
		return nil, false
	case "time", "vector", "scalar", "pi":
		return setOf(), true
	}
	// Every other function keeps the labels of its instant or range vector
	// argument.
	for _, arg := range call.Args {
		switch arg.Type() {
		case parser.ValueTypeVector, parser.ValueTypeMatrix:
			return OutputLabels(arg)
		}
	}
	return setOf(), true
}

func binaryLabels(b *parser.BinaryExpr) (map[string]bool, bool) {
	lhs, lhsKnown := OutputLabels(b.LHS)
	rhs, rhsKnown := OutputLabels(b.RHS)
	if !lhsKnown || !rhsKnown {
		return nil, false
	}
	lhsVector := b.LHS.Type() == parser.ValueTypeVector
	rhsVector := b.RHS.Type() == parser.ValueTypeVector
	switch {
	case !lhsVector && !rhsVector:
		return setOf(), true
	case !rhsVector:
		return lhs, true
	case !lhsVector:
		return rhs, true
	}

	m := b.VectorMatching
	switch {
	case b.Op == parser.LOR:
		out := maps.Clone(lhs)
		maps.Copy(out, rhs)
		return out, true
	case b.Op.IsSetOperator():
		return lhs, true
	case m.Card == parser.CardManyToOne:
		out := maps.Clone(lhs)
		for _, label := range m.Include {
			out[label] = true
		}
		return out, true
	case m.Card == parser.CardOneToMany:
		out := maps.Clone(rhs)
		for _, label := range m.Include {
			out[label] = true
		}
		return out, true
	case m.On:
		// One-to-one matching with on() keeps only the matching labels.
		return setOf(m.MatchingLabels...), true
	}
	out := maps.Clone(lhs)
	for _, label := range m.MatchingLabels {
		delete(out, label)
	}
	return out, true
}

func setOf(names ...string) map[string]bool {
	set := make(map[string]bool, len(names))
	for _, n := range names {
		set[n] = true
	}
	return set
}

// templateLabel matches {{ $labels.name }} in alert annotations and
// {{name}} in Grafana legend formats.
var (
	alertTemplateLabel  = regexp.MustCompile(`\$labels\.(\w+)`)
	legendTemplateLabel = regexp.MustCompile(`\{\{\s*(\w+)\s*\}\}`)
)

// CheckTemplateLabels reports each label that template refers to and that
// the result of expr cannot carry. legend selects Grafana's {{name}} syntax
// instead of alert templates' {{ $labels.name }}.
func CheckTemplateLabels(expr parser.Expr, template string, legend bool) []error {
	out, known := OutputLabels(expr)
	if !known {
		return nil
	}
	pattern := alertTemplateLabel
	if legend {
		pattern = legendTemplateLabel
	}
	var errs []error
	for _, match := range pattern.FindAllStringSubmatch(template, -1) {
		if !out[match[1]] {
			errs = append(errs, fmt.Errorf("template refers to label %q, which %s does not carry", match[1], expr))
		}
	}
	return errs
}

// labelValuesQuery matches Grafana's label_values(selector, label) and
// label_values(label) variable queries.
var labelValuesQuery = regexp.MustCompile(`^\s*label_values\(\s*(?:(.+),\s*)?(\w+)\s*\)\s*$`)

// CheckLabelValuesQuery checks a Grafana label_values variable query: the
// selector must parse and pass CheckExpr, and its series must carry the
// label.
func CheckLabelValuesQuery(query string) error {
	match := labelValuesQuery.FindStringSubmatch(query)
	if match == nil {
		return fmt.Errorf("query %q is not label_values(selector, label)", query)
	}
	if match[1] == "" {
		return fmt.Errorf("query %q has no selector, so it reads the label from every series", query)
	}
	expr, err := ParseQuery(match[1])
	if err != nil {
		return fmt.Errorf("query %q: %w", query, err)
	}
	errs := CheckExpr(expr)
	if out, known := OutputLabels(expr); known && !out[match[2]] {
		errs = append(errs, fmt.Errorf("query %q: %s has no label %q", query, match[1], match[2]))
	}
	return errors.Join(errs...)
}
