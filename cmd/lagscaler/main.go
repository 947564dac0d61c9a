// Command lagscaler turns Kafka consumer-group lag into scaling decisions.
// It serves KEDA's external scaler protocol, exports lag as Prometheus
// metrics, and inspects lag from a terminal.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
)

// Exit codes shared by every subcommand.
const (
	exitOK          = 0
	exitFailure     = 1
	exitUsage       = 2
	exitNotFound    = 3
	exitInterrupted = 130
)

// exitError carries an exit code through cobra's error return.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// usageError marks err as a problem with flags or arguments (exit code 2).
func usageError(err error) error { return &exitError{code: exitUsage, err: err} }

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	root := newRootCommand()
	err := root.ExecuteContext(ctx)
	// The code is computed before stop, because stop cancels ctx and every
	// error would then look like an interrupt.
	code := exitCode(err, ctx)
	stop()
	os.Exit(code)
}

func exitCode(err error, ctx context.Context) int {
	if err == nil {
		return exitOK
	}
	fmt.Fprintln(os.Stderr, "lagscaler:", err)
	var coded *exitError
	switch {
	case errors.As(err, &coded):
		return coded.code
	case ctx.Err() != nil:
		return exitInterrupted
	default:
		return exitFailure
	}
}

func newRootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:   "lagscaler",
		Short: "Kafka consumer-group lag for KEDA, Prometheus and the terminal",
		Long: `lagscaler computes Kafka consumer-group lag and turns it into scaling
decisions. "lagscaler serve" is a KEDA external scaler and a Prometheus
exporter; "lagscaler lag", "groups" and "explain" inspect lag from a terminal;
"lagscaler demo" shows autoscaling against an in-process Kafka.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError(err) })
	root.AddCommand(
		newServeCommand(),
		newLagCommand(),
		newGroupsCommand(),
		newExplainCommand(),
		newDemoCommand(),
		newVersionCommand(),
	)
	return root
}
