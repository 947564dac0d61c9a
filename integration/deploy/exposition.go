package deploy

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// CheckExposition compares a /metrics response in the Prometheus text format
// with Catalog and with the series names the monitoring queries use
// (ReferencedMetrics). It reports:
//   - a referenced series whose family is missing from the response,
//   - a catalog family exported with another type or other label names,
//   - a kafka_* or lagscaler_* family that is missing from Catalog.
//
// client_golang omits a labelled family until its first series is set, so
// the server must have served data for every referenced family first.
func CheckExposition(exposition io.Reader, referenced []string) error {
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(exposition)
	if err != nil {
		return fmt.Errorf("parse exposition: %w", err)
	}

	var errs []error
	for _, name := range referenced {
		series, ok := LookupSeries(name)
		if !ok {
			errs = append(errs, fmt.Errorf("series %q is not in Catalog", name))
			continue
		}
		if series.Family.Name == "up" {
			continue // Prometheus records up itself, so the scaler never exports it.
		}
		if _, ok := families[series.Family.Name]; !ok {
			errs = append(errs, fmt.Errorf("family %s is not exported, but monitoring queries it as %s", series.Family.Name, name))
		}
	}

	for name, family := range families {
		if !strings.HasPrefix(name, "lagscaler_") && !strings.HasPrefix(name, "kafka_") {
			continue
		}
		index := slices.IndexFunc(Catalog, func(f MetricFamily) bool { return f.Name == name })
		if index < 0 {
			errs = append(errs, fmt.Errorf("family %s is exported but not in Catalog", name))
			continue
		}
		errs = append(errs, compareFamily(Catalog[index], family)...)
	}
	return errors.Join(errs...)
}

func compareFamily(want MetricFamily, got *dto.MetricFamily) []error {
	gotType := strings.ToLower(got.GetType().String())
	if gotType != string(want.Type) {
		return []error{fmt.Errorf("family %s has type %s, want %s", want.Name, gotType, want.Type)}
	}
	wantLabels := slices.Sorted(slices.Values(want.Labels))
	var errs []error
	for _, m := range got.GetMetric() {
		var labels []string
		for _, pair := range m.GetLabel() {
			labels = append(labels, pair.GetName())
		}
		slices.Sort(labels)
		if !slices.Equal(labels, wantLabels) {
			errs = append(errs, fmt.Errorf("family %s has a series with labels %v, want %v", want.Name, labels, wantLabels))
			break
		}
	}
	return errs
}
