package filter

import "strings"

// CompileBodyTemplate parses a response body template: the placeholders of
// CompileTemplate, with braces that do not form one left as they are, so a
// JSON body needs no escaping. A placeholder is "{" + a name of letters,
// digits, '.', '_' and '-' + "}"; anything else ({"ok": true}, a lone "}")
// is literal. "{{name}}" is the literal text "{name}".
func CompileBodyTemplate(s string, params []string) (*Template, error) {
	var b strings.Builder
	// Rewrite s into CompileTemplate's syntax: escape every brace that is
	// not part of a placeholder.
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case '{':
			if strings.HasPrefix(s[i:], "{{") {
				if n := placeholderName(s[i+2:]); n > 0 && strings.HasPrefix(s[i+2+n:], "}}") {
					b.WriteString("{{" + s[i+2:i+2+n] + "}}") // stays literal "{name}"
					i += 3 + n
					continue
				}
			}
			if n := placeholderName(s[i+1:]); n > 0 && i+1+n < len(s) && s[i+1+n] == '}' {
				b.WriteString(s[i : i+2+n])
				i += 1 + n
				continue
			}
			b.WriteString("{{")
		case '}':
			b.WriteString("}}")
		default:
			b.WriteByte(c)
		}
	}
	return CompileTemplate(b.String(), params)
}

// placeholderName is the length of the placeholder name s starts with.
func placeholderName(s string) int {
	n := 0
	for n < len(s) {
		c := s[n]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			break
		}
		n++
	}
	return n
}
