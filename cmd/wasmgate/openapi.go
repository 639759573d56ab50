package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/wasmgate/wasmgate/filters/openapi"
)

func newOpenAPICmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "openapi",
		Short: "Tools for OpenAPI documents",
		Args:  cobra.NoArgs,
	}
	var o openapi.RoutesOptions
	routes := &cobra.Command{
		Use:   "routes SPEC",
		Short: "Print routes for an OpenAPI document's operations",
		Long: `Print a routes: section with one route per path of an OpenAPI 3.0/3.1
document (YAML or JSON), matching its methods under the servers' base path,
each validating requests with the openapi filter and forwarding to the
upstream named by --upstream. It is a starting point: add auth, rate limits
and the upstream itself, then paste it into a config.`,
		Example: `  wasmgate openapi routes api.yaml --upstream orders >> gateway.yaml`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			data, err := os.ReadFile(args[0])
			if err != nil {
				return err
			}
			if o.SpecPath == "" {
				o.SpecPath = args[0]
			}
			out, err := openapi.Routes(args[0], data, o)
			if err != nil {
				return fmt.Errorf("openapi routes: %w", err)
			}
			_, err = cmd.OutOrStdout().Write(out)
			return err
		},
	}
	routes.Flags().StringVar(&o.Upstream, "upstream", "", "the upstream the routes forward to (required)")
	routes.Flags().StringVar(&o.BasePath, "base-path", "", "the path the API is served under, in place of the document's servers")
	routes.Flags().StringVar(&o.SpecPath, "spec-path", "", "how the routes' openapi filters name the document (default: SPEC as given)")
	routes.Flags().BoolVar(&o.NoFilter, "no-filter", false, "leave the openapi filter out of the routes")
	_ = routes.MarkFlagRequired("upstream")
	cmd.AddCommand(routes)
	return cmd
}
