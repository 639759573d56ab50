package main

import (
	"fmt"

	"github.com/spf13/cobra"
	"go.yaml.in/yaml/v3"

	"github.com/wasmgate/wasmgate/core/config"
)

// maxConfigSize is the --max-config-size flag of the commands that load a
// config: written like a size in the config ("16MiB"), 0 for the default.
type maxConfigSize config.Size

func (s *maxConfigSize) register(cmd *cobra.Command) {
	cmd.Flags().Var(s, "max-config-size", fmt.Sprintf("largest config file accepted, e.g. 64MiB (default %dMiB)", config.DefaultLimits.FileSize>>20))
}

func (s *maxConfigSize) Set(text string) error {
	var v config.Size
	if err := v.UnmarshalNode(&yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: text}); err != nil {
		return err
	}
	*s = maxConfigSize(v)
	return nil
}

func (s *maxConfigSize) String() string {
	if *s == 0 {
		return ""
	}
	return fmt.Sprint(int64(*s))
}

func (s *maxConfigSize) Type() string { return "size" }
