package deploy

import (
	"fmt"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

const lagscalerNamespace = "lagscaler"

func TestNamespaceEnforcesRestricted(t *testing.T) {
	ns, ok := findNamed[*corev1.Namespace](deployTree(t), "", lagscalerNamespace)
	if !ok {
		t.Fatal("no Namespace lagscaler")
	}
	for _, mode := range []string{"enforce", "audit", "warn"} {
		key := "pod-security.kubernetes.io/" + mode
		if got := ns.Labels[key]; got != "restricted" {
			t.Errorf("Namespace lagscaler label %s = %q, want restricted", key, got)
		}
	}
}

func TestServiceAccountHasNoToken(t *testing.T) {
	sa, ok := findNamed[*corev1.ServiceAccount](deployTree(t), lagscalerNamespace, "lagscaler")
	if !ok {
		t.Fatal("no ServiceAccount lagscaler/lagscaler")
	}
	if sa.AutomountServiceAccountToken == nil || *sa.AutomountServiceAccountToken {
		t.Error("ServiceAccount lagscaler automountServiceAccountToken is not false")
	}
	d := lagscalerDeployment(t, deployTree(t))
	if got := d.Spec.Template.Spec.ServiceAccountName; got != sa.Name {
		t.Errorf("Deployment lagscaler serviceAccountName = %q, want %q", got, sa.Name)
	}
}

func TestNoRBAC(t *testing.T) {
	// The scaler reads nothing from the API server, so the tree grants it
	// nothing. DecodeStrict rejects the RBAC kinds, so finding none of them
	// among the decoded kinds is the check.
	for _, d := range FindDocuments(deployTree(t), "deploy/base") {
		if d.APIVersion == "rbac.authorization.k8s.io/v1" {
			t.Errorf("%s grants API access", d.Name())
		}
	}
}

func TestPodDisruptionBudget(t *testing.T) {
	docs := deployTree(t)
	pdb, ok := findNamed[*policyv1.PodDisruptionBudget](docs, lagscalerNamespace, "lagscaler")
	if !ok {
		t.Fatal("no PodDisruptionBudget lagscaler/lagscaler")
	}
	if pdb.Spec.MinAvailable == nil || *pdb.Spec.MinAvailable != intstr.FromInt32(1) {
		t.Errorf("PodDisruptionBudget minAvailable = %v, want 1", pdb.Spec.MinAvailable)
	}
	d := lagscalerDeployment(t, docs)
	if pdb.Spec.Selector == nil || !labelsMatch(pdb.Spec.Selector.MatchLabels, d.Spec.Template.Labels) {
		t.Error("PodDisruptionBudget selector does not select the lagscaler pods")
	}
}

func TestServices(t *testing.T) {
	docs := deployTree(t)
	pods := lagscalerDeployment(t, docs).Spec.Template.Labels

	tests := []struct {
		name     string
		headless bool
		port     corev1.ServicePort
	}{
		{"lagscaler-grpc", true, corev1.ServicePort{Name: "grpc", Port: 6000, TargetPort: intstr.FromString("grpc")}},
		{"lagscaler-metrics", false, corev1.ServicePort{Name: "http-metrics", Port: 8080, TargetPort: intstr.FromString("http-metrics")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			svc, ok := findNamed[*corev1.Service](docs, lagscalerNamespace, tt.name)
			if !ok {
				t.Fatalf("no Service %s/%s", lagscalerNamespace, tt.name)
			}
			if headless := svc.Spec.ClusterIP == corev1.ClusterIPNone; headless != tt.headless {
				t.Errorf("Service %s headless = %v, want %v", tt.name, headless, tt.headless)
			}
			if !labelsMatch(svc.Spec.Selector, pods) {
				t.Errorf("Service %s selector %v does not select the lagscaler pods", tt.name, svc.Spec.Selector)
			}
			if len(svc.Spec.Ports) != 1 {
				t.Fatalf("Service %s has %d ports, want 1", tt.name, len(svc.Spec.Ports))
			}
			got := svc.Spec.Ports[0]
			if got.Name != tt.port.Name || got.Port != tt.port.Port || got.TargetPort != tt.port.TargetPort {
				t.Errorf("Service %s port = %s %d -> %s, want %s %d -> %s", tt.name,
					got.Name, got.Port, got.TargetPort.String(), tt.port.Name, tt.port.Port, tt.port.TargetPort.String())
			}
		})
	}
}

// describeRule returns the namespaces (or address blocks) that the peers of
// one NetworkPolicy rule select, and its ports as "protocol/port".
func describeRule(peers []networkingv1.NetworkPolicyPeer, ports []networkingv1.NetworkPolicyPort) (namespaces, portList []string) {
	for _, p := range peers {
		switch {
		case p.NamespaceSelector != nil:
			namespaces = append(namespaces, p.NamespaceSelector.MatchLabels["kubernetes.io/metadata.name"])
		case p.IPBlock != nil:
			namespaces = append(namespaces, "ipBlock "+p.IPBlock.CIDR)
		default:
			namespaces = append(namespaces, "same namespace")
		}
	}
	for _, p := range ports {
		protocol := corev1.ProtocolTCP
		if p.Protocol != nil {
			protocol = *p.Protocol
		}
		portList = append(portList, fmt.Sprintf("%s/%s", protocol, p.Port.String()))
	}
	slices.Sort(portList)
	return namespaces, portList
}

func TestNetworkPolicy(t *testing.T) {
	docs := deployTree(t)
	np, ok := findNamed[*networkingv1.NetworkPolicy](docs, lagscalerNamespace, "lagscaler")
	if !ok {
		t.Fatal("no NetworkPolicy lagscaler/lagscaler")
	}
	if !labelsMatch(np.Spec.PodSelector.MatchLabels, lagscalerDeployment(t, docs).Spec.Template.Labels) {
		t.Error("NetworkPolicy podSelector does not select the lagscaler pods")
	}
	types := np.Spec.PolicyTypes
	if !slices.Contains(types, networkingv1.PolicyTypeIngress) || !slices.Contains(types, networkingv1.PolicyTypeEgress) {
		t.Errorf("NetworkPolicy policyTypes = %v, want Ingress and Egress", types)
	}

	type rule struct{ namespaces, ports []string }
	var ingress, egress []rule
	for _, r := range np.Spec.Ingress {
		ns, ports := describeRule(r.From, r.Ports)
		ingress = append(ingress, rule{ns, ports})
	}
	for _, r := range np.Spec.Egress {
		ns, ports := describeRule(r.To, r.Ports)
		egress = append(egress, rule{ns, ports})
	}

	wantIngress := []rule{
		{[]string{"keda"}, []string{"TCP/6000"}},
		{[]string{"monitoring"}, []string{"TCP/8080"}},
	}
	// The Kafka rule is egress index 1, which the kafka-egress-ipblock
	// overlay and the comment in networkpolicy.yaml patch by position.
	wantEgress := []rule{
		{[]string{"kube-system"}, []string{"TCP/53", "UDP/53"}},
		{[]string{"kafka"}, []string{"TCP/9092", "TCP/9093"}},
	}
	if fmt.Sprint(ingress) != fmt.Sprint(wantIngress) {
		t.Errorf("NetworkPolicy ingress = %v, want %v", ingress, wantIngress)
	}
	if fmt.Sprint(egress) != fmt.Sprint(wantEgress) {
		t.Errorf("NetworkPolicy egress = %v, want %v", egress, wantEgress)
	}
	if dns := np.Spec.Egress[0].To; len(dns) != 1 || dns[0].PodSelector == nil ||
		dns[0].PodSelector.MatchLabels["k8s-app"] != "kube-dns" {
		t.Error("NetworkPolicy DNS egress is not limited to the kube-dns pods")
	}
}

func TestGRPCCertificateSecretRequired(t *testing.T) {
	d := lagscalerDeployment(t, deployTree(t))
	for _, v := range d.Spec.Template.Spec.Volumes {
		if v.Secret == nil || v.Secret.SecretName != "lagscaler-grpc-tls" {
			continue
		}
		// Without the certificate the scaler would serve plaintext gRPC or
		// fail to start. A missing Secret must keep the pod pending instead.
		if v.Secret.Optional != nil && *v.Secret.Optional {
			t.Error("Secret volume lagscaler-grpc-tls is optional")
		}
		return
	}
	t.Error("no volume of the Secret lagscaler-grpc-tls")
}
