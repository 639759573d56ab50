package basicauth

import (
	"strings"

	"golang.org/x/crypto/bcrypt"

	"github.com/wasmgate/wasmgate/core/config"
)

// The users are the consumers': consumers[].basic_auth is this package's
// credential block.

func init() {
	config.RegisterCredential("basic_auth", checkUsers)
}

// User is a username of a consumer and the bcrypt hash of its password
// ("$2a$10$..."; `htpasswd -nbB user pass` makes one).
type User struct {
	Username string `yaml:"username"`               // unique among consumers
	Bcrypt   string `yaml:"bcrypt" redact:"secret"` // the password's bcrypt hash
}

// UsersOf returns the consumer's basic-auth users.
func UsersOf(c *config.Consumer) []User {
	if u := config.Credential[[]User](c, "basic_auth"); u != nil {
		return *u
	}
	return nil
}

// checkUsers refuses a username two consumers share: the identity a
// request gets would depend on config order.
func checkUsers(v *config.Validator, blocks []*[]User) {
	owners := map[string]string{}
	for i, users := range blocks {
		if users == nil {
			continue
		}
		name := v.Config().Consumers[i].Name
		for j, u := range *users {
			up := config.JoinIndex(config.JoinIndex("consumers", i)+".basic_auth", j)
			switch {
			case u.Username == "" || strings.ContainsAny(u.Username, ":\r\n"):
				v.Errorf(up+".username", "a username is required and cannot contain ':' (it separates user and password in basic auth)")
			default:
				if other, dup := owners[u.Username]; dup {
					v.Errorf(up+".username", "username %q is already used by consumer %q", u.Username, other)
				}
				owners[u.Username] = name
			}
			if _, err := bcrypt.Cost([]byte(u.Bcrypt)); err != nil {
				v.Errorf(up+".bcrypt", `a bcrypt hash like "$2a$10$..." is required (htpasswd -nbB user password makes one): %v`, err)
			}
		}
	}
}
