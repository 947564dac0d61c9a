package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

func TestUnknownCommandsAndArgumentsExitUsage(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		wantErr string
	}{
		{"unknown command", []string{"nosuchcmd"}, `unknown command "nosuchcmd"`},
		{"misspelt command", []string{"lags"}, `unknown command "lags"`},
		{"argument to lag", []string{"lag", "extra", "--bootstrap-server", "127.0.0.1:1", "--group", "g"}, `"extra"`},
		{"argument to serve", []string{"serve", "extra"}, `"extra"`},
		{"argument to version", []string{"version", "extra"}, `"extra"`},
		{"argument to completion script", []string{"completion", "bash", "extra"}, `"extra"`},
		{"help for unknown command", []string{"help", "nosuchcmd"}, `unknown command "nosuchcmd"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := runCLI(t, tc.args...)
			if r.code != exitUsage {
				t.Errorf("lagscaler %s exit code = %d (%v), want %d", strings.Join(tc.args, " "), r.code, r.err, exitUsage)
			}
			if r.err == nil || !strings.Contains(r.err.Error(), tc.wantErr) {
				t.Errorf("error = %v, want it to contain %q", r.err, tc.wantErr)
			}
		})
	}
}

func TestUnknownCommandSuggestsCommand(t *testing.T) {
	r := runCLI(t, "lags")
	if r.err == nil || !strings.Contains(r.err.Error(), "did you mean lag?") {
		t.Errorf("error = %v, want it to suggest the lag command", r.err)
	}
}

func TestConfigFileErrorsExitUsage(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"unparsable": "clusters: [}\n",
		"invalid":    "clusters: []\n",
		"unknown key": "clusters:\n  - name: main\n    bootstrapServers: [127.0.0.1:1]\n" +
			"    bootstrapServer: 127.0.0.1:1\n",
	}
	// Each subcommand with --config, with the other flags it needs to reach
	// the point where it reads the file.
	commands := map[string][]string{
		"serve":   {"--grpc-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0"},
		"lag":     {"--group", "g"},
		"groups":  nil,
		"explain": {"--metadata", "consumerGroup=g"},
	}
	for _, cmd := range newRootCommand().Commands() {
		if _, ok := commands[cmd.Name()]; !ok && hasConfigFlag(cmd) {
			t.Errorf("subcommand %s has --config but no case in this test", cmd.Name())
		}
	}

	paths := map[string]string{"missing": filepath.Join(dir, "missing.yaml")}
	for name, content := range files {
		paths[name] = filepath.Join(dir, strings.ReplaceAll(name, " ", "-")+".yaml")
		if err := os.WriteFile(paths[name], []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for command, extra := range commands {
		for file, path := range paths {
			t.Run(command+"/"+file, func(t *testing.T) {
				r := runCLI(t, append([]string{command, "--config", path}, extra...)...)
				if r.code != exitUsage {
					t.Errorf("exit code = %d (%v), want %d", r.code, r.err, exitUsage)
				}
				if r.err == nil || !strings.Contains(r.err.Error(), "--config") {
					t.Errorf("error = %v, want it to name --config", r.err)
				}
			})
		}
	}
}

func hasConfigFlag(cmd *cobra.Command) bool {
	return cmd.Flags().Lookup("config") != nil
}
