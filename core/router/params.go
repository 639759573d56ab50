package router

// Param is one path parameter captured by a templated route.
type Param struct {
	Name  string
	Value string
}

// Params are a match's path parameters, in path order. A small slice beats a
// map here: routes have a handful of parameters and the slice is reused.
type Params []Param

// Get returns the value of the named parameter and whether it was captured.
func (ps Params) Get(name string) (string, bool) {
	for _, p := range ps {
		if p.Name == name {
			return p.Value, true
		}
	}
	return "", false
}
