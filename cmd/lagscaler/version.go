package main

import (
	"fmt"
	"runtime"

	"github.com/spf13/cobra"

	"github.com/lagscaler/lagscaler/internal/buildinfo"
)

func newVersionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version, commit and Go version of this binary",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := fmt.Fprintf(cmd.OutOrStdout(), "lagscaler %s (commit %s, %s)\n",
				buildinfo.Version, buildinfo.Commit, runtime.Version())
			return err
		},
	}
}
