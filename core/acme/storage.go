package acme

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"fmt"
	"log/slog"
	"sync"

	"github.com/caddyserver/certmagic"

	"github.com/wasmgate/wasmgate/core/config"
)

// StorageFactory makes the certmagic storage of a store type from the
// config (the redis store reads stores.redis). at is the block's field
// path, for errors.
type StorageFactory func(cfg *config.Config, at string, logger *slog.Logger) (certmagic.Storage, error)

var (
	storagesMu sync.Mutex
	storages   = map[string]StorageFactory{}
)

// RegisterStorage makes store type name available to tls.acme.store. The
// redis store registers itself from the package that owns stores.redis
// (core does not import filters).
func RegisterStorage(name string, f StorageFactory) {
	storagesMu.Lock()
	defer storagesMu.Unlock()
	storages[name] = f
}

func newStorage(cfg *config.Config, at string, spec config.ACME, logger *slog.Logger) (certmagic.Storage, error) {
	var s certmagic.Storage
	switch spec.Store.Type {
	case "", "file":
		dir := spec.Store.Dir
		if dir == "" {
			dir = certmagic.Default.Storage.(*certmagic.FileStorage).Path
		}
		s = &certmagic.FileStorage{Path: dir}
	default:
		storagesMu.Lock()
		f := storages[spec.Store.Type]
		storagesMu.Unlock()
		if f == nil {
			return nil, config.FieldErr(at+".store.type", "%q is not a store this build has; use file or redis", spec.Store.Type)
		}
		var err error
		if s, err = f(cfg, at+".store", logger); err != nil {
			return nil, err
		}
	}
	if spec.EncryptionKey != "" {
		key, err := config.ACMEKey(spec.EncryptionKey)
		if err != nil {
			return nil, config.FieldErr(at+".encryption_key", "%v", err)
		}
		return newSealed(s, key)
	}
	return s, nil
}

// sealed encrypts every value it stores with AES-256-GCM (a random nonce
// before the ciphertext; the key name as additional data, so a value
// cannot be moved under another key). Listing, locks and metadata are the
// inner storage's.
type sealed struct {
	certmagic.Storage
	aead cipher.AEAD
}

func newSealed(inner certmagic.Storage, key []byte) (*sealed, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &sealed{Storage: inner, aead: aead}, nil
}

func (s *sealed) Store(ctx context.Context, key string, value []byte) error {
	nonce := make([]byte, s.aead.NonceSize(), s.aead.NonceSize()+len(value)+s.aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return err
	}
	return s.Storage.Store(ctx, key, s.aead.Seal(nonce, nonce, value, []byte(key)))
}

func (s *sealed) Load(ctx context.Context, key string) ([]byte, error) {
	v, err := s.Storage.Load(ctx, key)
	if err != nil {
		return nil, err
	}
	n := s.aead.NonceSize()
	if len(v) < n {
		return nil, fmt.Errorf("acme storage %s: too short to be encrypted (stored without encryption_key?)", key)
	}
	plain, err := s.aead.Open(nil, v[:n], v[n:], []byte(key))
	if err != nil {
		return nil, fmt.Errorf("acme storage %s: cannot decrypt (another encryption_key?): %w", key, err)
	}
	return plain, nil
}
