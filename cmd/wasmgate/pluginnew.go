package main

import (
	"bufio"
	"bytes"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"text/template"

	"github.com/spf13/cobra"
)

// scaffold holds one directory of templates per language; every file ends
// in .tmpl (so no go.mod or .go file in it is taken for part of this module),
// and uses [[ ]] as template delimiters, since Go code is full of {{ }}.
//
//go:embed scaffold
var scaffold embed.FS

const sdkModule = "github.com/wasmgate/wasmgate/sdk"

var pluginName = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,62}$`)

type scaffoldData struct {
	Name   string // the plugin's name: directory, .wasm file, config key
	Module string // the Go module path
	SDK    string // the replace target for the SDK, relative to the new module when possible
	RootID string // the root id an AssemblyScript filter registers
	Header string // the header the AssemblyScript filter adds, as Go's http prints it
}

func newPluginNewCmd() *cobra.Command {
	var lang, dir, sdk, module string
	cmd := &cobra.Command{
		Use:   "new NAME [--lang go|assemblyscript|c]",
		Short: "Write a working filter module to start from",
		Long: `Write a new filter module in ./NAME (or --dir): the source with its three
contexts (VM, plugin, HTTP), a unit test against the emulated host, a Makefile,
a README and a sample gateway config with a plugins: entry. Then:

  cd NAME && make && make test && make try

--lang assemblyscript writes an npm package with @solo-io/proxy-runtime
instead (make runs npm install and asc), --lang c a C file against the raw ABI
(make runs clang for wasm32-wasi); for both, make test runs the module through
plugin test.

Go modules get the SDK through a replace line (the SDK is not on the Go module
proxy): --sdk names a wasmgate checkout's sdk/ directory, else the nearest one
above the current directory or the wasmgate binary is used.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			if !pluginName.MatchString(name) {
				return fail(cmd, "plugin name %q: use lower-case letters, digits, - and _, starting with a letter (e.g. header-check)", name)
			}
			if dir == "" {
				dir = name
			}
			if module == "" {
				module = "example.com/" + name
			}
			data := scaffoldData{Name: name, Module: module, RootID: strings.ReplaceAll(name, "-", "_"),
				Header: http.CanonicalHeaderKey("x-" + name)}
			switch lang {
			case "go":
				root, err := findSDK(sdk)
				if err != nil {
					return fail(cmd, "%v", err)
				}
				if data.SDK, err = replacePath(dir, root); err != nil {
					return fail(cmd, "%v", err)
				}
			case "assemblyscript", "c":
			default:
				return fail(cmd, "--lang %q: valid languages are go, assemblyscript and c", lang)
			}
			written, err := writeScaffold(dir, lang, data)
			if err != nil {
				return fail(cmd, "%v", err)
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "wrote a %s filter in %s:\n", lang, dir)
			for _, f := range written {
				fmt.Fprintf(w, "  %s\n", f)
			}
			fmt.Fprintf(w, "next: cd %s && make && make test && make try\n", dir)
			return nil
		},
	}
	cmd.Flags().StringVar(&lang, "lang", "go", "the filter's language: go, assemblyscript or c")
	cmd.Flags().StringVar(&dir, "dir", "", "where to write the module (default ./NAME); must not exist or be empty")
	cmd.Flags().StringVar(&sdk, "sdk", "", "the SDK directory (a wasmgate checkout's sdk/) for Go modules")
	cmd.Flags().StringVar(&module, "module", "", "the Go module path (default example.com/NAME)")
	return cmd
}

// findSDK returns the SDK directory: flag, else $WASMGATE_SDK, else the
// nearest sdk/ holding the SDK's go.mod above the working directory or the
// executable.
func findSDK(flag string) (string, error) {
	if flag == "" {
		flag = os.Getenv("WASMGATE_SDK")
	}
	if flag != "" {
		abs, err := filepath.Abs(flag)
		if err != nil {
			return "", err
		}
		if !isSDK(abs) {
			return "", fmt.Errorf("--sdk %s: no go.mod for module %s there; give the sdk/ directory of a wasmgate checkout", flag, sdkModule)
		}
		return abs, nil
	}
	var starts []string
	if wd, err := os.Getwd(); err == nil {
		starts = append(starts, wd)
	}
	if exe, err := os.Executable(); err == nil {
		if exe, err = filepath.EvalSymlinks(exe); err == nil {
			starts = append(starts, filepath.Dir(exe))
		}
	}
	for _, d := range starts {
		for {
			if isSDK(filepath.Join(d, "sdk")) {
				return filepath.Join(d, "sdk"), nil
			}
			parent := filepath.Dir(d)
			if parent == d {
				break
			}
			d = parent
		}
	}
	return "", errors.New("no wasmgate SDK found above the working directory or the binary; the SDK is not on the Go module proxy, " +
		"so clone https://github.com/wasmgate/wasmgate and pass --sdk PATH/wasmgate/sdk (or set WASMGATE_SDK)")
}

func isSDK(dir string) bool {
	f, err := os.Open(filepath.Join(dir, "go.mod"))
	if err != nil {
		return false
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if line := strings.TrimSpace(s.Text()); strings.HasPrefix(line, "module ") {
			return strings.TrimSpace(strings.TrimPrefix(line, "module ")) == sdkModule
		}
	}
	return false
}

// replacePath is how the new module at dir names the SDK at sdk: relative
// when both are on one volume (the pair moves together), absolute otherwise.
func replacePath(dir, sdk string) (string, error) {
	absDir, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	rel, err := filepath.Rel(absDir, sdk)
	if err != nil {
		return filepath.ToSlash(sdk), nil
	}
	rel = filepath.ToSlash(rel)
	if !strings.HasPrefix(rel, "../") && rel != ".." {
		rel = "./" + rel
	}
	return rel, nil
}

// writeScaffold renders scaffold/<lang>/* into dir, which must not exist or
// be empty, and returns the files written.
func writeScaffold(dir, lang string, data scaffoldData) ([]string, error) {
	if entries, err := os.ReadDir(dir); err == nil && len(entries) > 0 {
		return nil, fmt.Errorf("%s exists and is not empty; choose another --dir", dir)
	}
	root := path.Join("scaffold", lang)
	var written []string
	err := fs.WalkDir(scaffold, root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		src, err := scaffold.ReadFile(p)
		if err != nil {
			return err
		}
		tmpl, err := template.New(p).Delims("[[", "]]").Parse(string(src))
		if err != nil {
			return fmt.Errorf("template %s: %w", p, err)
		}
		var out bytes.Buffer
		if err := tmpl.Execute(&out, data); err != nil {
			return fmt.Errorf("template %s: %w", p, err)
		}
		rel := strings.TrimSuffix(strings.TrimPrefix(p, root+"/"), ".tmpl")
		rel = strings.ReplaceAll(rel, "NAME", data.Name)
		if rel == "gitignore" {
			rel = ".gitignore" // a dot file would be left out of the embedded tree
		}
		target := filepath.Join(dir, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
			return err
		}
		mode := os.FileMode(0o644)
		if strings.HasSuffix(rel, ".sh") {
			mode = 0o755
		}
		if err := os.WriteFile(target, out.Bytes(), mode); err != nil {
			return err
		}
		written = append(written, filepath.Join(dir, filepath.FromSlash(rel)))
		return nil
	})
	return written, err
}
