package config

// Consumer is an identity the auth filters map credentials to, with
// metadata (tier, group) that rate limits and Wasm filters can use.
//
// Its credential blocks (api_keys, basic_auth, jwt, mtls) belong to the
// auth filter that checks them, registered with RegisterCredential and
// read with Credential. A consumer may have any number of each. Secrets
// are never stored in clear: API keys as SHA-256 hashes, passwords as
// bcrypt hashes; both may come from ${ENV}.
type Consumer struct {
	Name     string            `yaml:"name"`     // unique; what logs and rate limit keys name it by
	Metadata map[string]string `yaml:"metadata"` // free-form, for filters to read

	// credentials holds the registered credential blocks, by key.
	credentials map[string]any
}
