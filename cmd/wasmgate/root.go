package main

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/spf13/cobra"
)

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "wasmgate",
		Short: "An API gateway with sandboxed WebAssembly filters",
		Long: `wasmgate is an API gateway: routing, load balancing, auth, rate limits and
observability in a fast native core, extended by WebAssembly filters (Proxy-Wasm ABI).

Run 'wasmgate serve' with no config to start the embedded demo.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(newServeCmd(), newValidateCmd(), newVersionCmd())
	// --version prints what `wasmgate version` prints.
	root.Version = versionText()
	root.SetVersionTemplate("{{.Version}}")
	root.AddCommand(newPluginCmd(), newConfigCmd(), newOpenAPICmd())
	root.SetErrPrefix("wasmgate:")
	return root
}

// logFlags are shared by the commands that log.
type logFlags struct {
	level  string
	format string
}

func (f *logFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.level, "log-level", "info", "log level: debug, info, warn, error")
	cmd.Flags().StringVar(&f.format, "log-format", "text", "log format: text or json")
}

func (f *logFlags) logger(w io.Writer) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(f.level)); err != nil {
		return nil, fmt.Errorf("--log-level %q: valid levels are debug, info, warn, error", f.level)
	}
	opts := &slog.HandlerOptions{Level: level}
	switch strings.ToLower(f.format) {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	default:
		return nil, fmt.Errorf("--log-format %q: valid formats are text and json", f.format)
	}
}

// errReported is returned by a command that has already printed why it
// failed; main only sets the exit status.
var errReported = errors.New("reported")

// fail prints a message for the user and returns errReported.
func fail(cmd *cobra.Command, format string, args ...any) error {
	fmt.Fprintf(cmd.ErrOrStderr(), "wasmgate: "+format+"\n", args...)
	return errReported
}
