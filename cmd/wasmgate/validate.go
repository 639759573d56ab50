package main

import (
	"errors"
	"fmt"
	"io"
	"log/slog"

	"github.com/spf13/cobra"

	"github.com/wasmgate/wasmgate/core/config"
	"github.com/wasmgate/wasmgate/core/gateway"
	"github.com/wasmgate/wasmgate/filters/wasm"
)

func newValidateCmd() *cobra.Command {
	var (
		file         string
		maxSize      maxConfigSize
		placeholders bool
	)
	cmd := &cobra.Command{
		Use:   "validate -c FILE",
		Short: "Check a config without serving; list every error",
		Long: `Load a config and build everything a reload would build (routes, filters,
upstreams), without opening a listener. Plugin modules are compiled into the
compilation cache ($WASMGATE_CACHE_DIR), so a serve after it starts warm. Exit status 0 if valid, 1 if not;
every problem is listed with file, line and field. A route with two filters
of a kind that should not be doubled (cors, jwt, rate_limit on one key and
period) is valid but warned about, naming both. An admin API reachable
beyond loopback without authentication is valid but warned about: serve
refuses it unless admin.allow_unauthenticated is true.

--env-placeholders is for a CI without production secrets: an unset ${NAME}
(without a default) leaves its value unset and only what depends on that
value goes unchecked; the variables the config reads are listed, unset ones
marked.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			quiet := slog.New(slog.DiscardHandler)
			report, err := gateway.Check(gateway.Source{File: file, MaxSize: int64(maxSize), EnvPlaceholders: placeholders}, quiet)
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
			cfg := report.Config
			if placeholders {
				printEnvRefs(cmd.OutOrStdout(), cfg.EnvRefs)
			}
			for _, w := range report.Warnings {
				fmt.Fprintf(cmd.ErrOrStderr(), "warning: %v\n", w)
			}
			// Valid, but serve would refuse it as it stands: say so here,
			// before a deploy finds out.
			if e := cfg.AdminExposure(""); e != nil {
				fmt.Fprintf(cmd.ErrOrStderr(), "warning: %v (wasmgate serve refuses to start with this)\n", e)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: ok (%d listeners, %d routes, %d upstreams)\n",
				file, len(cfg.Listeners), len(cfg.Routes), len(cfg.Upstreams))
			// Building the routes compiled every plugin a route uses, through
			// the same on-disk cache serve reads: a deploy that validates
			// first starts serving without the cold compile (seconds for a
			// Go guest).
			if n := len(wasm.PluginsOf(cfg)); n > 0 {
				if dir := wasm.CacheDir(); dir != "off" {
					fmt.Fprintf(cmd.OutOrStdout(), "%d plugin module(s) compiled into the cache %s: the next serve skips compiling them\n", n, dir)
				}
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&file, "config", "c", "", "config file to check (required)")
	_ = cmd.MarkFlagRequired("config")
	cmd.Flags().BoolVar(&placeholders, "env-placeholders", false, "treat unset ${NAME} as placeholders and list the variables the config reads")
	maxSize.register(cmd)
	return cmd
}

// printEnvRefs lists the variables a config reads, for a deploy checklist.
func printEnvRefs(w io.Writer, refs []config.EnvRef) {
	if len(refs) == 0 {
		fmt.Fprintln(w, "environment: the config reads no variables")
		return
	}
	fmt.Fprintf(w, "environment: the config reads %d variable(s):\n", len(refs))
	for _, r := range refs {
		state := "set"
		switch {
		case !r.Set && r.HasDefault:
			state = "unset, has a default"
		case !r.Set:
			state = "UNSET (placeholder)"
		}
		fmt.Fprintf(w, "  %s\t(line %d)\t%s\n", r.Name, r.Line, state)
	}
}
