package config_test

// core/upstream owns the balancer and hash-key checks and registers them
// with this package (RegisterUpstreamCheck). Linking it into this package's
// test binary, as the gateway binary does, lets the table tests here pin
// those messages with every other problem of a file.
import _ "github.com/wasmgate/wasmgate/core/upstream"
