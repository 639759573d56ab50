package main

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// Set by the Makefile through -ldflags; build info fills what it can otherwise.
var (
	version = ""
	commit  = ""
)

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version, commit, Go and wazero versions",
		Args:  cobra.NoArgs,
		Run: func(cmd *cobra.Command, _ []string) {
			fmt.Fprint(cmd.OutOrStdout(), versionText())
		},
	}
}

// versionText is what `wasmgate version` and `wasmgate --version` print.
func versionText() string {
	v, c, wazero := buildVersions()
	return fmt.Sprintf("wasmgate %s\ncommit:  %s\ngo:      %s %s/%s\nwazero:  %s\n",
		v, c, runtime.Version(), runtime.GOOS, runtime.GOARCH, wazero)
}

func buildVersions() (v, c, wazero string) {
	v, c, wazero = version, commit, "not linked"
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return orDev(v), orUnknown(c), wazero
	}
	if v == "" && info.Main.Version != "(devel)" {
		v = info.Main.Version
	}
	for _, s := range info.Settings {
		if s.Key == "vcs.revision" && c == "" {
			c = s.Value
		}
	}
	for _, d := range info.Deps {
		if d.Path == "github.com/tetratelabs/wazero" {
			wazero = d.Version
		}
	}
	return orDev(v), orUnknown(c), wazero
}

func orDev(s string) string {
	if s == "" {
		return "dev"
	}
	return s
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

// shortCommit is c as git abbreviates it.
func shortCommit(c string) string {
	if len(c) > 12 {
		return c[:12]
	}
	return c
}
