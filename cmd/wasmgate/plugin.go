package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/wasmgate/wasmgate/filters/wasm"
)

func newPluginCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "plugin",
		Short: "Write, inspect and test Wasm filters",
		// Cobra shows help and exits 0 for an unknown subcommand of a command
		// that does not run; a typo in a script must fail instead.
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				var names []string
				for _, c := range cmd.Commands() {
					if c.IsAvailableCommand() {
						names = append(names, c.Name())
					}
				}
				return fail(cmd, "plugin %s: unknown command; valid commands are %s", args[0], strings.Join(names, ", "))
			}
			return cmd.Help()
		},
	}
	cmd.AddCommand(newPluginInspectCmd(), newPluginNewCmd(), newPluginTestCmd())
	return cmd
}

func newPluginInspectCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "inspect FILE",
		Short: "Show a module's ABI, imports, exports and memory",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			code, err := os.ReadFile(args[0])
			if err != nil {
				return fail(cmd, "%v", err)
			}
			info, err := wasm.Inspect(cmd.Context(), code)
			if err != nil {
				return fail(cmd, "%s: %v", args[0], err)
			}
			w := cmd.OutOrStdout()
			abi := info.ABI
			if abi == "" {
				abi = "none (not a Proxy-Wasm module)"
			}
			fmt.Fprintf(w, "file:    %s (%d bytes)\nabi:     proxy-wasm %s\n", args[0], len(code), abi)
			mem := fmt.Sprintf("%d KiB initial", info.MemoryKB)
			if info.MaxKB > 0 {
				mem += fmt.Sprintf(", %d KiB max", info.MaxKB)
			}
			fmt.Fprintf(w, "memory:  %s\nimports: %d\n", mem, len(info.Imports))
			for _, im := range info.Imports {
				note := ""
				if !im.Provided {
					note = "  (answers UNIMPLEMENTED/ENOSYS)"
				}
				fmt.Fprintf(w, "  %s.%s%s%s\n", im.Module, im.Name, im.Signature, note)
			}
			fmt.Fprintf(w, "exports: %d\n", len(info.Exports))
			for _, e := range info.Exports {
				fmt.Fprintf(w, "  %s\n", e)
			}
			if info.Problem != nil {
				return fail(cmd, "%s would not load: %v", args[0], info.Problem)
			}
			fmt.Fprintln(w, "status:  loadable")
			return nil
		},
	}
}

type pluginTestFlags struct {
	config   string
	request  string
	headers  []string
	body     string
	bodies   []string
	failOpen bool
	rootID   string
	name     string
	logLevel string
	callouts []string
}

func newPluginTestCmd() *cobra.Command {
	var f pluginTestFlags
	cmd := &cobra.Command{
		Use:   "test FILE --request 'METHOD URL' [--config JSON|@file] [-H 'K: V'] [--body @file]",
		Short: "Run one request through a filter and print what it did",
		Long: `Load a Proxy-Wasm module as the gateway would, run one request through it
(request callbacks, a 200 upstream response, response callbacks, done/log/delete)
and print the headers it added, replaced or removed, any local response, and
everything it logged.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error { return runPluginTest(cmd, args[0], &f) },
	}
	cmd.Flags().StringVar(&f.config, "config", "", "plugin config: JSON (or any text) or @file")
	cmd.Flags().StringVar(&f.request, "request", "GET http://localhost/", "the request: 'METHOD URL'")
	cmd.Flags().StringArrayVarP(&f.headers, "header", "H", nil, "a request header 'Name: value' (repeatable)")
	cmd.Flags().StringVar(&f.body, "body", "", "request body: text or @file (turns on request body buffering)")
	cmd.Flags().StringSliceVar(&f.bodies, "bodies", nil, "bodies the plugin sees: request, response")
	cmd.Flags().BoolVar(&f.failOpen, "fail-open", false, "apply fail_open instead of fail_closed")
	cmd.Flags().StringVar(&f.rootID, "root-id", "", "the plugin_root_id property (SDKs with several root contexts pick theirs by it)")
	cmd.Flags().StringVar(&f.name, "name", "", "the plugin's name, as in plugins: (default: the file name without .wasm)")
	cmd.Flags().StringVar(&f.logLevel, "log-level", "info", "the guest's log level: trace, debug, info, warn, error, critical")
	cmd.Flags().StringArrayVar(&f.callouts, "callout", nil, "a canned answer for proxy_http_call to an upstream: 'NAME=STATUS[:BODY]', BODY text or @file (repeatable)")
	return cmd
}

func readArg(s string) ([]byte, error) {
	if name, ok := strings.CutPrefix(s, "@"); ok {
		return os.ReadFile(name)
	}
	return []byte(s), nil
}

func runPluginTest(cmd *cobra.Command, file string, f *pluginTestFlags) error {
	cfg, err := readArg(f.config)
	if err != nil {
		return fail(cmd, "--config: %v", err)
	}
	method, url, ok := strings.Cut(strings.TrimSpace(f.request), " ")
	if !ok {
		return fail(cmd, "--request %q: want 'METHOD URL', e.g. 'GET http://localhost/users/1'", f.request)
	}
	level, ok := guestLevels[strings.ToLower(f.logLevel)]
	if !ok {
		return fail(cmd, "--log-level %q: valid levels are trace, debug, info, warn, error, critical", f.logLevel)
	}
	name := f.name
	if name == "" {
		name = strings.TrimSuffix(filepath.Base(file), ".wasm")
	}
	logs := &testLogHandler{level: level}
	opts := wasm.Options{Name: name, Config: cfg, FailOpen: f.failOpen, Instances: 1, RootID: f.rootID,
		Logger: slog.New(logs)}
	for _, b := range f.bodies {
		switch b {
		case "request":
			opts.RequestBody = true
		case "response":
			opts.ResponseBody = true
		default:
			return fail(cmd, "--bodies %q: valid values are request and response", b)
		}
	}
	callouts := &cannedCallouts{}
	for _, c := range f.callouts {
		upstream, answer, err := parseCallout(c)
		if err != nil {
			return fail(cmd, "--callout %q: %v", c, err)
		}
		if opts.Callouts == nil {
			opts.Callouts = map[string]wasm.Caller{}
		}
		opts.Callouts[upstream] = callouts.caller(upstream, answer)
	}
	var body []byte
	if f.body != "" {
		if body, err = readArg(f.body); err != nil {
			return fail(cmd, "--body: %v", err)
		}
		opts.RequestBody = true
	}
	ctx := cmd.Context()
	if ctx == nil {
		ctx = context.Background()
	}
	w := bufio.NewWriter(cmd.OutOrStdout())
	defer w.Flush()
	p, err := wasm.Load(ctx, file, opts)
	printStartLogs(w, logs.take())
	if err != nil {
		w.Flush()
		return fail(cmd, "%v", err)
	}
	defer p.Close()

	req := httptest.NewRequest(strings.ToUpper(method), url, nil)
	req.RemoteAddr = "127.0.0.1:40000"
	for _, h := range f.headers {
		k, v, ok := strings.Cut(h, ":")
		if !ok {
			return fail(cmd, "-H %q: want 'Name: value'", h)
		}
		req.Header.Add(strings.TrimSpace(k), strings.TrimSpace(v))
	}
	if body != nil && req.Header.Get("Content-Length") == "" {
		// What a client sends with a body; filters read it to size theirs.
		req.Header.Set("Content-Length", strconv.Itoa(len(body)))
	}
	before := req.Header.Clone()
	beforeURL := req.URL.RequestURI()
	out, err := p.Exchange(ctx, wasm.Run{Request: req, Body: body, Route: "test"})
	if err != nil {
		return fail(cmd, "%v", err)
	}
	fmt.Fprintf(w, "request: %s %s\n", method, url)
	if u := out.Request.URL.RequestURI(); u != beforeURL {
		fmt.Fprintf(w, "  path rewritten: %s\n", u)
	}
	printHeaderDiff(w, "request header", before, out.Request.Header)
	if body != nil && !bytes.Equal(body, out.Body) {
		fmt.Fprintf(w, "  request body replaced: %q\n", out.Body)
	}
	callouts.print(w)
	if out.PausedIn != "" {
		fmt.Fprintf(w, "paused: %s returned Pause and nothing resumed the exchange\n", out.PausedIn)
	}
	switch {
	case out.Local != nil:
		fmt.Fprintf(w, "local response: %d\n", out.Local.Status)
		printHeaders(w, out.Local.Header)
		fmt.Fprintf(w, "  body: %q\n", out.Local.Body)
	case out.Response != nil:
		fmt.Fprintf(w, "response: %d (the upstream's 200 after the response phase)\n", out.Response.Status)
		printHeaderDiff(w, "response header", http.Header{}, out.Response.Header)
	}
	fmt.Fprintf(w, "logs: %d\n", len(out.Logs))
	for _, l := range out.Logs {
		fmt.Fprintf(w, "  [%s] %s\n", l.Level, l.Message)
	}
	if out.Failed != nil {
		w.Flush()
		return fail(cmd, "plugin %s failed: %v", name, out.Failed)
	}
	if out.PausedIn != "" {
		w.Flush()
		return fail(cmd, "plugin %s paused the exchange in %s and never resumed it (no proxy_continue_stream, no local response): "+
			"a gateway holds such a request until it times out", name, out.PausedIn)
	}
	return nil
}

func printHeaderDiff(w io.Writer, what string, before, after http.Header) {
	keys := map[string]bool{}
	for k := range before {
		keys[k] = true
	}
	for k := range after {
		keys[k] = true
	}
	sorted := make([]string, 0, len(keys))
	for k := range keys {
		sorted = append(sorted, k)
	}
	sort.Strings(sorted)
	for _, k := range sorted {
		b, a := before[k], after[k]
		switch {
		case len(b) == 0:
			fmt.Fprintf(w, "  + %s %s: %s\n", what, k, strings.Join(a, ", "))
		case len(a) == 0:
			fmt.Fprintf(w, "  - %s %s\n", what, k)
		case strings.Join(a, "\x00") != strings.Join(b, "\x00"):
			fmt.Fprintf(w, "  ~ %s %s: %s (was %s)\n", what, k, strings.Join(a, ", "), strings.Join(b, ", "))
		}
	}
}

func printHeaders(w io.Writer, h http.Header) {
	keys := make([]string, 0, len(h))
	for k := range h {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(w, "  %s: %s\n", k, strings.Join(h[k], ", "))
	}
}
