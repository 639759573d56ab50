package gateway

import (
	"github.com/wasmgate/wasmgate/core/admin"
	"github.com/wasmgate/wasmgate/core/config"
)

// adminPolicy compiles who may use the admin API under cfg. A config whose
// admin API would listen beyond loopback without authentication is refused,
// at start and on reload alike (a reload must not drop the tokens of an
// exposed listener), as is one that turns the admin's TLS on or off, which
// only a restart can do. nil while admin.address is off (a running admin
// listener then keeps its policy: a reload does not close it).
func (g *Gateway) adminPolicy(cfg *config.Config) (*admin.Policy, error) {
	if cfg.Admin.Address == "off" {
		return nil, nil
	}
	bound := ""
	if g.admin != nil {
		bound = g.admin.Addr().String()
	}
	if e := cfg.AdminExposure(bound); e != nil {
		return nil, config.Errors{e}
	}
	p, err := admin.NewPolicy(&cfg.Admin)
	if err == nil && g.admin != nil {
		err = g.admin.Accepts(p)
	}
	if err != nil {
		return nil, cfg.Resolve("", err)
	}
	return p, nil
}
