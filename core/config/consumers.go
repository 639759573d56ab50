package config

// Consumer is an identity the auth filters map credentials to, with
// metadata (tier, group) that rate limits and Wasm filters can use.
// Secrets are never stored in clear: API keys as SHA-256 hashes, passwords
// as bcrypt hashes; both may come from ${ENV}.
type Consumer struct {
	Name     string            `yaml:"name"`
	Metadata map[string]string `yaml:"metadata"`
}
