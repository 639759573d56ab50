package main

import "errors"

// setEffectiveContext is proxy_set_effective_context, which the upstream
// SDK exposes as proxywasm.SetEffectiveContext; ours declares the import
// here until its proxywasm package has it.
func setEffectiveContext(id uint32) error {
	if st := proxySetEffectiveContext(id); st != 0 {
		return errors.New("proxy_set_effective_context: status " + itoa(st))
	}
	return nil
}

func itoa(n uint32) string {
	if n == 0 {
		return "0"
	}
	var b [10]byte
	i := len(b)
	for n > 0 {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
	}
	return string(b[i:])
}
