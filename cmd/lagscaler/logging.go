package main

import (
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/spf13/pflag"
)

// logFlags are the logging flags of long-running subcommands.
type logFlags struct {
	level  string
	format string
}

func (f *logFlags) register(flags *pflag.FlagSet) {
	flags.StringVar(&f.level, "log-level", "info", "minimum log level: debug, info, warn or error")
	flags.StringVar(&f.format, "log-format", "text", "log format: text or json")
}

// logger returns a slog.Logger writing to w, or a usage error naming the bad
// flag value.
func (f *logFlags) logger(w io.Writer) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(f.level)); err != nil {
		return nil, usageError(fmt.Errorf("invalid --log-level %q: use debug, info, warn or error", f.level))
	}
	opts := &slog.HandlerOptions{Level: level}
	switch strings.ToLower(f.format) {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	default:
		return nil, usageError(fmt.Errorf("invalid --log-format %q: use text or json", f.format))
	}
}
