package config

// Consumer is an identity the auth filters map credentials to, with
// metadata (tier, group) that rate limits and Wasm filters can use.
// Secrets are never stored in clear: API keys as SHA-256 hashes, passwords
// as bcrypt hashes; both may come from ${ENV}.
type Consumer struct {
	Name     string            `yaml:"name"`
	Metadata map[string]string `yaml:"metadata"`

	// Credentials, each checked by its own filter (apikey, basicauth, jwt,
	// mtls). A consumer may have any number of each.
	APIKeys   []APIKey        `yaml:"api_keys"`
	BasicAuth []BasicAuthUser `yaml:"basic_auth"`
	JWT       []JWTIdentity   `yaml:"jwt"`
	MTLS      []MTLSIdentity  `yaml:"mtls"`

	// credentials holds the credential blocks the auth filters own
	// (section.go), by key.
	credentials map[string]any
}

// APIKey is one API key, given either as the hex SHA-256 of the key or as
// the key itself, which should then come from ${ENV} ("key: ${PARTNER_KEY}").
// Loading hashes a clear key into Hash and forgets it, so a loaded Config
// never holds one.
type APIKey struct {
	SHA256 string `yaml:"sha256" redact:"secret"` // 64 hex digits
	Key    string `yaml:"key" redact:"secret"`    // cleared at load, after hashing

	// Hash is the key's SHA-256, filled at load from either field.
	Hash [32]byte `yaml:"-"`
}

// BasicAuthUser is a username and the bcrypt hash of its password
// ("$2a$10$..."; `htpasswd -nbB user pass` makes one).
type BasicAuthUser struct {
	Username string `yaml:"username"`
	Bcrypt   string `yaml:"bcrypt" redact:"secret"`
}

// JWTIdentity maps verified tokens to the consumer: a token matches when
// its iss equals Issuer (if given) and its sub equals Subject (if given).
// At least one is required; the most specific match wins (issuer and
// subject, then subject alone, then issuer alone).
type JWTIdentity struct {
	Issuer  string `yaml:"issuer"`
	Subject string `yaml:"subject"`
}

// MTLSIdentity maps a verified client certificate to the consumer, by its
// subject distinguished name as Go prints it ("CN=billing,O=Example") or by
// one of its subject alternative names (DNS name, email, URI or IP).
// Exactly one of the two is given.
type MTLSIdentity struct {
	Subject string `yaml:"subject"`
	SAN     string `yaml:"san"`
}
