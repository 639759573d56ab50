package admin

import (
	"bytes"
	"regexp"

	"gopkg.in/yaml.v3"
)

// secretKey matches config keys whose values are secrets. Values that came
// from ${ENV} are never shown expanded: Redact works on the file as written.
var secretKey = regexp.MustCompile(`(?i)(secret|password|passwd|token|api[-_]?key|private|credential|sha256|bcrypt|hmac|authorization|cookie)`)

// Redacted is what a secret value is replaced with.
const Redacted = "[redacted]"

// Redact returns the YAML document src with the values of secret-looking
// keys replaced. It works on the source text (before ${ENV} expansion), so
// environment secrets never appear; unparsable input yields a comment only.
func Redact(src []byte) []byte {
	var doc yaml.Node
	if err := yaml.Unmarshal(src, &doc); err != nil {
		return []byte("# config not shown: it does not parse\n")
	}
	redactNode(&doc, false)
	var out bytes.Buffer
	enc := yaml.NewEncoder(&out)
	enc.SetIndent(2)
	if err := enc.Encode(&doc); err != nil {
		return []byte("# config not shown: it cannot be encoded\n")
	}
	_ = enc.Close()
	return out.Bytes()
}

func redactNode(n *yaml.Node, secret bool) {
	switch n.Kind {
	case yaml.ScalarNode:
		if secret && n.Value != "" {
			n.Value, n.Tag, n.Style = Redacted, "!!str", 0
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			redactNode(n.Content[i+1], secret || secretKey.MatchString(n.Content[i].Value))
		}
	case yaml.DocumentNode, yaml.SequenceNode:
		for _, c := range n.Content {
			redactNode(c, secret)
		}
	}
}
