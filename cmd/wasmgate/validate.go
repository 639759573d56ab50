package main

import (
	"errors"
	"fmt"
	"log/slog"

	"github.com/spf13/cobra"

	"github.com/wasmgate/wasmgate/core/config"
	"github.com/wasmgate/wasmgate/core/gateway"
)

func newValidateCmd() *cobra.Command {
	var (
		file    string
		maxSize maxConfigSize
	)
	cmd := &cobra.Command{
		Use:   "validate -c FILE",
		Short: "Check a config without serving; list every error",
		Long: `Load a config and build everything a reload would build (routes, filters,
upstreams), without opening a listener. Exit status 0 if valid, 1 if not;
every problem is listed with file, line and field. An admin API reachable
beyond loopback without authentication is valid but warned about: serve
refuses it unless admin.allow_unauthenticated is true.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			quiet := slog.New(slog.DiscardHandler)
			cfg, err := gateway.Validate(gateway.Source{File: file, MaxSize: int64(maxSize)}, quiet)
			if err != nil {
				var errs config.Errors
				if errors.As(err, &errs) {
					for _, e := range errs {
						fmt.Fprintln(cmd.ErrOrStderr(), e)
					}
					return fail(cmd, "%s: %d problem(s)", file, len(errs))
				}
				return fail(cmd, "%v", err)
			}
			// Valid, but serve would refuse it as it stands: say so here,
			// before a deploy finds out.
			if e := cfg.AdminExposure(""); e != nil {
				fmt.Fprintf(cmd.ErrOrStderr(), "warning: %v (wasmgate serve refuses to start with this)\n", e)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: ok (%d listeners, %d routes, %d upstreams)\n",
				file, len(cfg.Listeners), len(cfg.Routes), len(cfg.Upstreams))
			return nil
		},
	}
	cmd.Flags().StringVarP(&file, "config", "c", "", "config file to check (required)")
	_ = cmd.MarkFlagRequired("config")
	maxSize.register(cmd)
	return cmd
}
