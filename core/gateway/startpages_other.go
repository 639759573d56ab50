//go:build !linux

package gateway

// releasePages does nothing where there is no /proc/self/smaps to tell
// which mappings are the executable's.
func releasePages() (before, after int64, err error) { return 0, 0, nil }
