package proxywasm

import (
	"github.com/wasmgate/wasmgate/sdk/internal/vmstate"
	"github.com/wasmgate/wasmgate/sdk/proxywasm/types"
)

// SetVMContext registers the filter's VM context. Call it from an init
// function of the main package.
func SetVMContext(ctx types.VMContext) { vmstate.SetVMContext(ctx) }
