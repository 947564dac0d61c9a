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
	"strings"
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
		// With Args and RunE set, cobra reports an unknown command from
		// argument validation, whose error can carry an exit code. Without
		// them it reports it from command lookup, which no hook can wrap.
		Args:                       rejectUnknownCommand,
		RunE:                       func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
		SuggestionsMinimumDistance: 2,
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
	// cobra adds its help and completion commands only when it executes,
	// which is too late for the changes below.
	root.InitDefaultHelpCmd()
	root.InitDefaultCompletionCmd()
	for _, cmd := range root.Commands() {
		if cmd.Name() == "help" {
			cmd.Args = rejectUnknownHelpTopic
		}
	}
	wrapArgumentErrors(root)
	return root
}

// rejectUnknownCommand returns an error for any argument of the root
// command, because every argument there names an unknown command.
func rejectUnknownCommand(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	msg := fmt.Sprintf("unknown command %q for %q", args[0], cmd.CommandPath())
	if suggestions := cmd.SuggestionsFor(args[0]); len(suggestions) > 0 {
		msg += "; did you mean " + strings.Join(suggestions, " or ") + "?"
	}
	return errors.New(msg)
}

// rejectUnknownHelpTopic returns an error when the arguments of "lagscaler
// help" name no command. cobra's help command would print the root help and
// succeed, because the root command accepts arguments.
func rejectUnknownHelpTopic(cmd *cobra.Command, args []string) error {
	root := cmd.Root()
	if found, _, err := root.Find(args); err == nil && found == root {
		return rejectUnknownCommand(root, args)
	}
	return nil
}

// wrapArgumentErrors makes the positional-argument errors of cmd and its
// subcommands usage errors. cobra returns them as they are, before any hook
// runs.
func wrapArgumentErrors(cmd *cobra.Command) {
	if check := cmd.Args; check != nil {
		cmd.Args = func(c *cobra.Command, args []string) error {
			if err := check(c, args); err != nil {
				return usageError(err)
			}
			return nil
		}
	}
	for _, sub := range cmd.Commands() {
		wrapArgumentErrors(sub)
	}
}
