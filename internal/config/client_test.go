package config_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/lagscaler/lagscaler/internal/config"
	"github.com/lagscaler/lagscaler/lag"
)

const (
	testUser     = "lagscaler"
	testPassword = "correct-horse-battery-staple"
	testTopic    = "orders"
	testGroup    = "orders-flink"
)

// pki is a throwaway CA with a server certificate for 127.0.0.1 and a client
// certificate, all written as PEM files into dir.
type pki struct {
	dir    string
	pool   *x509.CertPool
	server tls.Certificate
	// caFile, certFile and keyFile are the CA bundle and the client
	// certificate and key.
	caFile, certFile, keyFile string
}

func newPKI(t *testing.T) *pki {
	t.Helper()
	dir := t.TempDir()
	caKey, caCert := newCA(t)
	pool := x509.NewCertPool()
	pool.AddCert(caCert)

	serverTemplate := &x509.Certificate{
		Subject:     pkix.Name{CommonName: "kfake"},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	serverKey, serverDER := issue(t, serverTemplate, caCert, caKey)
	clientTemplate := &x509.Certificate{
		Subject:     pkix.Name{CommonName: testUser},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	clientKey, clientDER := issue(t, clientTemplate, caCert, caKey)

	return &pki{
		dir:      dir,
		pool:     pool,
		server:   tls.Certificate{Certificate: [][]byte{serverDER}, PrivateKey: serverKey},
		caFile:   writeFile(t, dir, "ca.crt", pemBlock("CERTIFICATE", caCert.Raw)),
		certFile: writeFile(t, dir, "tls.crt", pemBlock("CERTIFICATE", clientDER)),
		keyFile:  writeFile(t, dir, "tls.key", pemBlock("PRIVATE KEY", marshalKey(t, clientKey))),
	}
}

func newCA(t *testing.T) (*ecdsa.PrivateKey, *x509.Certificate) {
	t.Helper()
	key := newKey(t)
	template := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "lagscaler test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, template, template, &key.PublicKey, key)
	if err != nil {
		t.Fatalf("x509.CreateCertificate(CA): %v", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatalf("x509.ParseCertificate(CA): %v", err)
	}
	return key, cert
}

// issue signs template with the CA and returns the new key and certificate.
func issue(t *testing.T, template, ca *x509.Certificate, caKey *ecdsa.PrivateKey) (*ecdsa.PrivateKey, []byte) {
	t.Helper()
	key := newKey(t)
	template.SerialNumber = big.NewInt(time.Now().UnixNano())
	template.NotBefore = time.Now().Add(-time.Hour)
	template.NotAfter = time.Now().Add(time.Hour)
	template.KeyUsage = x509.KeyUsageDigitalSignature
	der, err := x509.CreateCertificate(rand.Reader, template, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatalf("x509.CreateCertificate(%s): %v", template.Subject.CommonName, err)
	}
	return key, der
}

func newKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("ecdsa.GenerateKey: %v", err)
	}
	return key
}

func marshalKey(t *testing.T, key *ecdsa.PrivateKey) []byte {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatalf("x509.MarshalPKCS8PrivateKey: %v", err)
	}
	return der
}

func pemBlock(kind string, der []byte) string {
	return string(pem.EncodeToMemory(&pem.Block{Type: kind, Bytes: der}))
}

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// serverTLS returns the kfake listener configuration. With clientCA set the
// broker requires a client certificate signed by it.
func (p *pki) serverTLS(clientCA *x509.CertPool) *tls.Config {
	cfg := &tls.Config{Certificates: []tls.Certificate{p.server}, MinVersion: tls.VersionTLS12}
	if clientCA != nil {
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
		cfg.ClientCAs = clientCA
	}
	return cfg
}

// startKafka starts a one-broker kfake cluster with opts.
func startKafka(t *testing.T, opts ...kfake.Opt) *kfake.Cluster {
	t.Helper()
	fake, err := kfake.NewCluster(append([]kfake.Opt{kfake.NumBrokers(1)}, opts...)...)
	if err != nil {
		t.Fatalf("kfake.NewCluster: %v", err)
	}
	t.Cleanup(fake.Close)
	return fake
}

// newClient validates a configuration with the one cluster cl and returns a
// client built from its ClientOptions.
func newClient(t *testing.T, cl config.Cluster) *kgo.Client {
	t.Helper()
	cfg := config.Config{Clusters: []config.Cluster{cl}}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	opts, err := cl.ClientOptions(3 * time.Second)
	if err != nil {
		t.Fatalf("ClientOptions: %v", err)
	}
	client, err := kgo.NewClient(opts...)
	if err != nil {
		t.Fatalf("kgo.NewClient: %v", err)
	}
	t.Cleanup(client.Close)
	return client
}

// seed creates a topic with one partition of 10 records and commits offset 4
// for the test group, so the group's lag is 6.
func seed(t *testing.T, client *kgo.Client) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	admin := kadm.NewClient(client)
	if _, err := admin.CreateTopic(ctx, 1, 1, nil, testTopic); err != nil {
		t.Fatalf("CreateTopic(%s): %v", testTopic, err)
	}
	var records []*kgo.Record
	for range 10 {
		records = append(records, &kgo.Record{Topic: testTopic, Value: []byte("v")})
	}
	if err := client.ProduceSync(ctx, records...).FirstErr(); err != nil {
		t.Fatalf("produce to %s: %v", testTopic, err)
	}
	offsets := make(kadm.Offsets)
	offsets.Add(kadm.Offset{Topic: testTopic, Partition: 0, At: 4, LeaderEpoch: -1})
	if err := admin.CommitAllOffsets(ctx, testGroup, offsets); err != nil {
		t.Fatalf("CommitAllOffsets(%s): %v", testGroup, err)
	}
}

// readLag reads the test group's lag with a lag.Reader over client.
func readLag(client *kgo.Client) lag.Result {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	query := lag.Query{Cluster: "secure", Group: testGroup, Topics: []string{testTopic}}
	return lag.NewReader("secure", client).Read(ctx, []lag.Query{query})[0]
}

func checkLag(t *testing.T, res lag.Result) {
	t.Helper()
	if res.Err != nil {
		t.Fatalf("Read: %v", res.Err)
	}
	if got := len(res.Snapshot.Partitions); got != 1 {
		t.Fatalf("Read returned %d partitions, want 1", got)
	}
	p := res.Snapshot.Partitions[0]
	if p.Err != nil {
		t.Fatalf("Read partition 0: %v", p.Err)
	}
	if !p.HasOffsetLag || p.OffsetLag != 6 {
		t.Errorf("Read partition 0 lag = %d (known %t), want 6", p.OffsetLag, p.HasOffsetLag)
	}
}

func saslCluster(t *testing.T, fake *kfake.Cluster, p *pki, mechanism, password string) config.Cluster {
	return config.Cluster{
		Name:             "secure",
		BootstrapServers: fake.ListenAddrs(),
		TLS:              config.TLS{Enabled: true, CAFile: p.caFile},
		SASL: config.SASL{
			Mechanism:    mechanism,
			UsernameFile: writeFile(t, t.TempDir(), "sasl-username", testUser+"\n"),
			PasswordFile: writeFile(t, t.TempDir(), "sasl-password", password+"\n"),
		},
	}
}

func TestClientTLSAndSASLReadsLag(t *testing.T) {
	tests := []struct {
		mechanism string
		// kfakeMechanism is the Kafka name of mechanism.
		kfakeMechanism string
	}{
		{"SCRAM-SHA-256", "SCRAM-SHA-256"},
		{"scram_sha512", "SCRAM-SHA-512"},
		{"plaintext", "PLAIN"},
	}
	for _, tt := range tests {
		t.Run(tt.mechanism, func(t *testing.T) {
			p := newPKI(t)
			fake := startKafka(t,
				kfake.TLS(p.serverTLS(nil)),
				kfake.EnableSASL(),
				kfake.Superuser(tt.kfakeMechanism, testUser, testPassword))
			client := newClient(t, saslCluster(t, fake, p, tt.mechanism, testPassword))

			seed(t, client)
			checkLag(t, readLag(client))
		})
	}
}

func TestClientWrongPasswordFails(t *testing.T) {
	const wrongPassword = "wrong-password-8f3a"
	p := newPKI(t)
	fake := startKafka(t,
		kfake.TLS(p.serverTLS(nil)),
		kfake.EnableSASL(),
		kfake.Superuser("SCRAM-SHA-256", testUser, testPassword))
	client := newClient(t, saslCluster(t, fake, p, "SCRAM-SHA-256", wrongPassword))

	// NOTE: kfake closes the connection on a failed authentication where
	// Kafka returns SASL_AUTHENTICATION_FAILED, so only the failure itself is
	// checked here, not its error code.
	res := readLag(client)
	if res.Err == nil {
		t.Fatal("Read with a wrong password returned no error")
	}
	for _, secret := range []string{wrongPassword, testPassword} {
		if strings.Contains(res.Err.Error(), secret) {
			t.Errorf("Read error %q contains the password %q", res.Err, secret)
		}
	}
}

func TestClientWrongCAFails(t *testing.T) {
	p := newPKI(t)
	other := newPKI(t)
	fake := startKafka(t, kfake.TLS(p.serverTLS(nil)))
	client := newClient(t, config.Cluster{
		Name:             "secure",
		BootstrapServers: fake.ListenAddrs(),
		TLS:              config.TLS{Enabled: true, CAFile: other.caFile},
	})

	res := readLag(client)
	if res.Err == nil {
		t.Fatal("Read against a broker signed by another CA returned no error")
	}
	var unknownAuthority x509.UnknownAuthorityError
	if !errors.As(res.Err, &unknownAuthority) {
		t.Errorf("Read error = %v, want x509.UnknownAuthorityError", res.Err)
	}
}

func TestClientMutualTLS(t *testing.T) {
	p := newPKI(t)
	fake := startKafka(t, kfake.TLS(p.serverTLS(p.pool)))
	base := config.Cluster{Name: "secure", BootstrapServers: fake.ListenAddrs()}

	t.Run("with client certificate", func(t *testing.T) {
		cl := base
		cl.TLS = config.TLS{Enabled: true, CAFile: p.caFile, CertFile: p.certFile, KeyFile: p.keyFile}
		client := newClient(t, cl)
		seed(t, client)
		checkLag(t, readLag(client))
	})
	t.Run("without client certificate", func(t *testing.T) {
		cl := base
		cl.TLS = config.TLS{Enabled: true, CAFile: p.caFile}
		if res := readLag(newClient(t, cl)); res.Err == nil {
			t.Error("Read without the client certificate the broker requires returned no error")
		}
	})
}

func TestClientServerNameOverride(t *testing.T) {
	// The server certificate names only 127.0.0.1, so a serverName that
	// differs from it must fail verification, and insecureSkipVerify must
	// accept it anyway.
	p := newPKI(t)
	fake := startKafka(t, kfake.TLS(p.serverTLS(nil)))
	base := config.Cluster{Name: "secure", BootstrapServers: fake.ListenAddrs()}

	t.Run("wrong serverName", func(t *testing.T) {
		cl := base
		cl.TLS = config.TLS{Enabled: true, CAFile: p.caFile, ServerName: "kafka.example.com"}
		if res := readLag(newClient(t, cl)); res.Err == nil {
			t.Error("Read with a serverName the certificate does not contain returned no error")
		}
	})
	t.Run("insecureSkipVerify", func(t *testing.T) {
		cl := base
		cl.TLS = config.TLS{Enabled: true, ServerName: "kafka.example.com", InsecureSkipVerify: true}
		client := newClient(t, cl)
		seed(t, client)
		checkLag(t, readLag(client))
	})
}

func TestClientOptionsFileErrors(t *testing.T) {
	const secret = "do-not-print-this-value"
	dir := t.TempDir()
	notPEM := writeFile(t, dir, "not-pem", secret)
	empty := writeFile(t, dir, "empty", "\n")
	user := writeFile(t, dir, "user", testUser)
	p := newPKI(t)

	tests := []struct {
		name string
		cl   config.Cluster
		want string
	}{
		{"caFile without PEM", config.Cluster{TLS: config.TLS{Enabled: true, CAFile: notPEM}},
			`tls.caFile "` + notPEM + `" contains no PEM certificate`},
		{"keyFile without PEM", config.Cluster{TLS: config.TLS{Enabled: true, CertFile: p.certFile, KeyFile: notPEM}},
			`loading tls.certFile "` + p.certFile + `" and tls.keyFile "` + notPEM + `"`},
		{"key of another certificate", config.Cluster{TLS: config.TLS{Enabled: true, CertFile: p.certFile, KeyFile: newPKI(t).keyFile}},
			"private key does not match public key"},
		{"caFile deleted", config.Cluster{TLS: config.TLS{Enabled: true, CAFile: filepath.Join(dir, "gone")}},
			"reading tls.caFile"},
		{"empty password file", config.Cluster{SASL: config.SASL{Mechanism: "PLAIN", UsernameFile: user, PasswordFile: empty}},
			`sasl.passwordFile "` + empty + `" is empty`},
		{"empty user name file", config.Cluster{SASL: config.SASL{Mechanism: "PLAIN", UsernameFile: empty, PasswordFile: notPEM}},
			`sasl.usernameFile "` + empty + `" is empty`},
		{"password file deleted", config.Cluster{SASL: config.SASL{Mechanism: "PLAIN", UsernameFile: user, PasswordFile: filepath.Join(dir, "gone")}},
			"reading sasl.passwordFile"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.cl.ClientOptions(time.Second)
			if err == nil {
				t.Fatal("ClientOptions returned no error")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("ClientOptions error %q does not contain %q", err, tt.want)
			}
			if strings.Contains(err.Error(), secret) {
				t.Errorf("ClientOptions error %q contains the content of a file", err)
			}
		})
	}
}
