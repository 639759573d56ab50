package wasm

// The test guests are WebAssembly text; the assembled .wasm files are
// committed so tests and CI need no wabt. Rebuild them after editing a .wat
// (needs wat2wasm from Debian's wabt). test/wasmbuild checks that every
// committed module is what these commands build:
//
//go:generate sh -c "for f in testdata/*.wat; do wat2wasm \"$DOLLAR{f}\" -o \"$DOLLAR{f%.wat}.wasm\" || exit 1; done"
//go:generate sh -c "cd testdata/goguest && GOWORK=off GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -trimpath -ldflags=\"-s -w\" -o ../goguest.wasm ."
