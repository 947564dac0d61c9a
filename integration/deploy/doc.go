// Package deploy checks the deployment files of lagscaler: the Kubernetes
// manifests under deploy/, the Prometheus rules and Grafana dashboard under
// deploy/monitoring, and the Dockerfile.
//
// DecodeStrict and LoadTree decode every YAML document into the Go type that
// its apiVersion and kind name (k8s.io/api, KEDA's v1alpha1, the Prometheus
// Operator's monitoring/v1), rejecting unknown and duplicate fields, and
// return an error for a kind they do not know. FlinkDeployment, whose Go
// types are not published, decodes into unstructured.Unstructured and is
// checked field by field by CheckFlinkDeployment.
//
// PodChecks and LagscalerPodChecks list the hardening conditions of a pod
// spec one by one, so a test reports each violated condition on its own.
//
// Catalog lists the metric families that `lagscaler serve` exports on
// /metrics with their types and labels. CheckExpr reports the metrics, labels
// and functions of a PromQL expression that do not fit the catalog.
// ReferencedMetrics lists every series name that the alerts and the dashboard
// use, and CheckExposition compares them with the /metrics output of a
// running server.
//
// ParseDockerfile and DockerfileChecks check the image build: pinned base
// images, a distroless final stage, a numeric non-root user and an exec-form
// entrypoint.
package deploy
