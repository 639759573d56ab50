package config

// consumers checks the consumers' names, which must be unique: rate limits,
// route allow lists and the upstream's X-Consumer-Name all go by them. Each
// credential block is checked by its owner (section.go), which also refuses
// a credential two consumers share.
func (v *Validator) consumers() {
	names := map[string]int{}
	for i := range v.c.Consumers {
		c := &v.c.Consumers[i]
		p := JoinIndex("consumers", i)
		switch {
		case c.Name == "":
			v.Errorf(p+".name", "a consumer needs a name (letters, digits, '_', '.' and '-')")
		case !validName.MatchString(c.Name):
			v.Name(p+".name", "consumer", c.Name)
		default:
			if j, dup := names[c.Name]; dup {
				v.Errorf(p+".name", "consumer %q is already defined at consumers[%d]; names must be unique", c.Name, j)
			}
			names[c.Name] = i
		}
	}
}
