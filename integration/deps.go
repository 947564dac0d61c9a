// Package integration tests lagscaler against a real Kafka broker and with
// KEDA's own external scaler client. The tests run the lagscaler binary built
// from ../cmd/lagscaler and do not import the root module.
//
// TestMain uses the cluster named by LAGSCALER_KAFKA_BOOTSTRAP, or else
// starts a broker with ../scripts/kafka.sh (which needs java and mvn). Without
// a cluster the tests skip, unless CI is set, where they fail.
package integration

// The blank imports keep the API modules that the manifest tests under
// deploy/ decode into in go.mod, which go mod tidy would otherwise drop.
import (
	_ "github.com/kedacore/keda/v2/apis/keda/v1alpha1"
	_ "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	_ "k8s.io/api/apps/v1"
	_ "sigs.k8s.io/yaml"
)
