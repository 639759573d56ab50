package config

// Observability configures what wraps every exchange. The core owns
// request IDs, set before any observer sees the exchange; the signals
// (metrics, tracing, access_log) are sections their package registers
// (section.go; observe/). Each is off unless configured.
type Observability struct {
	RequestID *RequestID `yaml:"request_id"` // present (even {}) turns it on

	// sections holds the signals other packages own.
	sections map[string]any
}

// RequestID names the header that carries a request ID. The gateway takes
// the client's (if well formed) or generates one, passes it to the upstream,
// and returns it to the client.
type RequestID struct {
	Header   string `yaml:"header"`   // default X-Request-Id
	Generate *bool  `yaml:"generate"` // generate when the client sent none (default true)
}

const defaultRequestIDHeader = "X-Request-Id"

// observabilityDefaults fills the core's part of the observability block.
func observabilityDefaults(o *Observability) {
	if r := o.RequestID; r != nil {
		setString(&r.Header, defaultRequestIDHeader)
		setBool(&r.Generate, true)
	}
}

func (v *Validator) observability() {
	if r := v.c.Observability.RequestID; r != nil && !IsToken(r.Header) {
		v.Errorf("observability.request_id.header", "%q is not a valid header name; e.g. X-Request-Id", r.Header)
	}
}
