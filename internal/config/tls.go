package config

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
)

// TLS configures TLS to the brokers of one cluster. The zero value connects
// without TLS.
type TLS struct {
	// Enabled turns TLS on. The other fields are rejected while it is false,
	// so that a cluster meant to use TLS is never read in plaintext.
	Enabled bool `json:"enabled"`
	// CAFile is a PEM bundle of the CAs that sign the brokers' certificates.
	// Default: the system's trusted roots.
	CAFile string `json:"caFile,omitempty"`
	// CertFile and KeyFile are a PEM client certificate and its private key
	// for mutual TLS. Set both or neither.
	CertFile string `json:"certFile,omitempty"`
	KeyFile  string `json:"keyFile,omitempty"`
	// ServerName is the host name the brokers' certificates must contain.
	// Default: the host of the broker being dialed.
	ServerName string `json:"serverName,omitempty"`
	// InsecureSkipVerify accepts any broker certificate, from any issuer and
	// for any host.
	//
	// WARNING: this turns off the protection TLS exists for. Anyone who can
	// intercept the connection can then impersonate the brokers and read
	// everything sent over it, including a SASL PLAIN password. Use it only
	// to debug a certificate problem, never in production, and fix the
	// problem with CAFile or ServerName instead.
	InsecureSkipVerify bool `json:"insecureSkipVerify,omitempty"`
}

// validate appends the problems of t, named under the field path at.
func (t TLS) validate(at string, errs []error) []error {
	if !t.Enabled {
		for _, f := range []struct {
			name string
			set  bool
		}{
			{"caFile", t.CAFile != ""},
			{"certFile", t.CertFile != ""},
			{"keyFile", t.KeyFile != ""},
			{"serverName", t.ServerName != ""},
			{"insecureSkipVerify", t.InsecureSkipVerify},
		} {
			if f.set {
				errs = append(errs, fmt.Errorf("%s.%s is set but %s.enabled is false: set enabled: true to use TLS", at, f.name, at))
			}
		}
		return errs
	}

	if t.CertFile != "" && t.KeyFile == "" {
		errs = append(errs, fmt.Errorf("%s.certFile is set without %s.keyFile: set both for a client certificate, or neither", at, at))
	}
	if t.KeyFile != "" && t.CertFile == "" {
		errs = append(errs, fmt.Errorf("%s.keyFile is set without %s.certFile: set both for a client certificate, or neither", at, at))
	}
	if t.InsecureSkipVerify && t.CAFile != "" {
		errs = append(errs, fmt.Errorf("%s.caFile has no effect with %s.insecureSkipVerify: remove one of them", at, at))
	}
	errs = checkFile(at+".caFile", t.CAFile, errs)
	errs = checkFile(at+".certFile", t.CertFile, errs)
	return checkFile(at+".keyFile", t.KeyFile, errs)
}

// checkFile appends an error when path is set and is not a regular file.
// The file is read later, by ClientOptions.
func checkFile(field, path string, errs []error) []error {
	if path == "" {
		return errs
	}
	info, err := os.Stat(path)
	switch {
	case err != nil:
		return append(errs, fmt.Errorf("%s %q cannot be read: %w", field, path, err))
	case !info.Mode().IsRegular():
		return append(errs, fmt.Errorf("%s %q is not a regular file", field, path))
	}
	return errs
}

// config reads the files of t and returns the client TLS configuration.
// Errors name the files but never contain their content.
func (t TLS) config() (*tls.Config, error) {
	cfg := &tls.Config{
		MinVersion:         tls.VersionTLS12,
		ServerName:         t.ServerName,
		InsecureSkipVerify: t.InsecureSkipVerify,
	}

	if t.CAFile != "" {
		pem, err := os.ReadFile(t.CAFile)
		if err != nil {
			return nil, fmt.Errorf("reading tls.caFile: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("tls.caFile %q contains no PEM certificate", t.CAFile)
		}
		cfg.RootCAs = pool
	}

	if t.CertFile != "" || t.KeyFile != "" {
		if t.CertFile == "" || t.KeyFile == "" {
			return nil, errors.New("tls.certFile and tls.keyFile must be set together")
		}
		// The errors of LoadX509KeyPair describe the PEM structure, never the
		// key material.
		cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("loading tls.certFile %q and tls.keyFile %q: %w", t.CertFile, t.KeyFile, err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}
