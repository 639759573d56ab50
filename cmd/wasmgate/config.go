package main

//go:generate go run ./internal/fielddocs/gen

import (
	"encoding/json"
	"reflect"

	"github.com/spf13/cobra"

	"github.com/wasmgate/wasmgate/core/config"
	"github.com/wasmgate/wasmgate/core/filter"
)

func newConfigCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Tools for writing configs",
		Args:  cobra.NoArgs,
	}
	cmd.AddCommand(&cobra.Command{
		Use:   "schema",
		Short: "Print the config's JSON Schema, for editors and linters",
		Long: `Print the JSON Schema (draft 2020-12) of a wasmgate config file, with every
filter and section this binary is built with. Save it and point your editor
at it with a first line in the config:

  # yaml-language-server: $schema=./wasmgate.schema.json

The schema knows the shape (fields, types, enumerations, units); validate
still checks what it cannot (required fields, names that must exist).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			enc := json.NewEncoder(cmd.OutOrStdout())
			enc.SetIndent("", "  ")
			return enc.Encode(configSchema())
		},
	})
	return cmd
}

// configSchema is the JSON Schema of a config this binary loads, described
// from the config types' doc comments (schemadocs.go).
func configSchema() map[string]any {
	return config.Schema(config.SchemaOptions{
		Filters: filter.ConfigTypes(),
		Describe: func(t reflect.Type, field string) string {
			if t.Name() == "" {
				return ""
			}
			key := t.PkgPath() + "." + t.Name()
			if field != "" {
				key += "." + field
			}
			return schemaDocs[key]
		},
	})
}
