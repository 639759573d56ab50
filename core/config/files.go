package config

import "sync"

// Files a config reads besides itself, such as a plugin's module: the
// config watch reloads when one of them changes, as it does for the config
// file and the TLS files. The package owning a section registers a lister
// in init (filters/wasm lists its plugins' sources).

var (
	fileListersMu sync.Mutex
	fileListers   []func(*Config) []string
)

// RegisterFiles adds a lister of files a config depends on.
func RegisterFiles(list func(*Config) []string) {
	fileListersMu.Lock()
	defer fileListersMu.Unlock()
	fileListers = append(fileListers, list)
}

// Files returns the files registered listers name for c, in their order.
func (c *Config) Files() []string {
	fileListersMu.Lock()
	listers := fileListers
	fileListersMu.Unlock()
	var files []string
	for _, list := range listers {
		files = append(files, list(c)...)
	}
	return files
}
