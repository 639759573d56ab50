package portal

import (
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"
)

// merge makes one OpenAPI 3.1 document of every published one, served at
// PREFIX/openapi.json for tools that take a single document. With more
// than one API, each one's components are renamed NAME.COMPONENT (and its
// $refs and security requirements with them), so two APIs' "Error"
// schemas stay two; a path two APIs both define keeps both's methods, the
// first API's where both define one, and lists the others under
// x-wasmgate-conflicts. A document's (and a path item's) servers move onto
// its operations, where they apply to them alone.
func merge(title string, names []string, docs []*Document) ([]byte, error) {
	out := map[string]any{
		"openapi": "3.1.0",
		"info": map[string]any{
			"title":       title,
			"version":     "merged",
			"description": "Every API this gateway publishes, merged: " + strings.Join(names, ", ") + ".",
		},
	}
	paths := map[string]any{}
	components := map[string]any{}
	webhooks := map[string]any{}
	var tags []any
	tagSeen := map[string]bool{}
	var conflicts []any
	prefixed := len(docs) > 1
	for i, d := range docs {
		var root map[string]any
		if err := json.Unmarshal(d.JSON, &root); err != nil { // a copy to rewrite
			return nil, fmt.Errorf("merging %s: %w", names[i], err)
		}
		prefix := ""
		if prefixed {
			prefix = componentSafe(names[i]) + "."
			renameRefs(root, prefix)
		}
		globalSec, hasGlobalSec := root["security"]
		servers, hasServers := root["servers"]
		ps, _ := root["paths"].(map[string]any)
		pathNames := make([]string, 0, len(ps))
		for p := range ps {
			pathNames = append(pathNames, p)
		}
		sort.Strings(pathNames)
		for _, p := range pathNames {
			item, ok := ps[p].(map[string]any)
			if !ok {
				continue
			}
			for _, m := range methods {
				op, ok := item[m].(map[string]any)
				if !ok {
					continue
				}
				if _, own := op["security"]; !own && hasGlobalSec {
					op["security"] = globalSec
				}
				if prefixed {
					renameSecurity(op, prefix)
				}
				// On the operation, not the path item: another API's
				// operations may join this path.
				_, ownPath := item["servers"]
				if _, own := op["servers"]; !own && !ownPath && hasServers {
					op["servers"] = servers
				}
			}
			if pathServers, ok := item["servers"]; ok {
				for _, m := range methods {
					if op, ok := item[m].(map[string]any); ok && op["servers"] == nil {
						op["servers"] = pathServers
					}
				}
				delete(item, "servers")
			}
			have, ok := paths[p].(map[string]any)
			if !ok {
				paths[p] = item
				continue
			}
			for k, v := range item {
				if _, taken := have[k]; !taken {
					have[k] = v
				} else if isMethod(k) {
					conflicts = append(conflicts, map[string]any{"api": names[i], "path": p, "method": k})
				}
			}
		}
		if cs, ok := root["components"].(map[string]any); ok {
			for kind, v := range cs {
				entries, ok := v.(map[string]any)
				if !ok {
					continue
				}
				dst, _ := components[kind].(map[string]any)
				if dst == nil {
					dst = map[string]any{}
					components[kind] = dst
				}
				for name, c := range entries {
					if _, taken := dst[prefix+name]; !taken {
						dst[prefix+name] = c
					}
				}
			}
		}
		if wh, ok := root["webhooks"].(map[string]any); ok {
			for name, w := range wh {
				webhooks[prefix+name] = w
			}
		}
		for _, t := range list(root["tags"]) {
			if tm, ok := t.(map[string]any); ok && !tagSeen[str(tm["name"])] {
				tagSeen[str(tm["name"])] = true
				tags = append(tags, tm)
			}
		}
	}
	out["paths"] = paths
	if len(components) > 0 {
		out["components"] = components
	}
	if len(webhooks) > 0 {
		out["webhooks"] = webhooks
	}
	if len(tags) > 0 {
		out["tags"] = tags
	}
	if len(conflicts) > 0 {
		out["x-wasmgate-conflicts"] = conflicts
	}
	return json.MarshalIndent(out, "", "  ")
}

func isMethod(k string) bool {
	for _, m := range methods {
		if m == k {
			return true
		}
	}
	return false
}

var componentUnsafe = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// componentSafe makes a name a valid component key (^[a-zA-Z0-9.\-_]+$).
func componentSafe(name string) string {
	return componentUnsafe.ReplaceAllString(name, "_")
}

// renameRefs rewrites every "#/components/KIND/NAME" $ref under v to
// "#/components/KIND/PREFIXNAME".
func renameRefs(v any, prefix string) {
	switch t := v.(type) {
	case map[string]any:
		if ref, ok := t["$ref"].(string); ok {
			if rest, ok := strings.CutPrefix(ref, "#/components/"); ok {
				if kind, name, ok := strings.Cut(rest, "/"); ok {
					t["$ref"] = "#/components/" + kind + "/" + prefix + name
				}
			}
		}
		for _, c := range t {
			renameRefs(c, prefix)
		}
	case []any:
		for _, c := range t {
			renameRefs(c, prefix)
		}
	}
}

// renameSecurity renames the security schemes an operation requires, as
// components.securitySchemes was renamed.
func renameSecurity(op map[string]any, prefix string) {
	reqs, ok := op["security"].([]any)
	if !ok {
		return
	}
	renamed := make([]any, 0, len(reqs))
	for _, r := range reqs {
		rm, ok := r.(map[string]any)
		if !ok {
			continue
		}
		n := make(map[string]any, len(rm))
		for k, v := range rm {
			n[prefix+k] = v
		}
		renamed = append(renamed, n)
	}
	op["security"] = renamed
}
