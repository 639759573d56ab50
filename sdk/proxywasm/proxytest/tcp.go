package proxytest

import (
	"slices"

	"github.com/wasmgate/wasmgate/sdk/internal/vmstate"
	"github.com/wasmgate/wasmgate/sdk/proxywasm/types"
)

// tcpConn is an emulated TCP connection: the data of the last chunk each
// way (accumulated while the filter pauses), and what the filter closed.
type tcpConn struct {
	downstream, upstream             []byte
	downPaused, upPaused             bool
	action                           types.Action
	downstreamClosed, upstreamClosed bool
}

func (h *hostEmulator) conn(id uint32) *tcpConn {
	c, ok := h.conns[id]
	if !ok {
		panic("proxytest: unknown TCP context id; create one with InitializeConnection")
	}
	h.active = id
	return c
}

// InitializeConnection creates a TCP context and calls OnNewConnection.
func (h *hostEmulator) InitializeConnection() (uint32, types.Action) {
	id := h.nextID
	h.nextID++
	c := &tcpConn{}
	h.conns[id] = c
	h.active = id
	vmstate.OnContextCreate(id, PluginContextID)
	c.action = vmstate.OnNewConnection(id)
	return id, c.action
}

// CallOnDownstreamData delivers data from the client; while the filter
// pauses, chunks accumulate.
func (h *hostEmulator) CallOnDownstreamData(id uint32, data []byte) types.Action {
	c := h.conn(id)
	if c.downPaused {
		c.downstream = append(c.downstream, data...)
	} else {
		c.downstream = slices.Clone(data)
	}
	c.action = vmstate.OnDownstreamData(id, len(c.downstream), false)
	c.downPaused = c.action != types.ActionContinue
	return c.action
}

// CallOnUpstreamData delivers data from the upstream, as above.
func (h *hostEmulator) CallOnUpstreamData(id uint32, data []byte) types.Action {
	c := h.conn(id)
	if c.upPaused {
		c.upstream = append(c.upstream, data...)
	} else {
		c.upstream = slices.Clone(data)
	}
	c.action = vmstate.OnUpstreamData(id, len(c.upstream), false)
	c.upPaused = c.action != types.ActionContinue
	return c.action
}

// CloseDownstreamConnection tells the filter the client closed.
func (h *hostEmulator) CloseDownstreamConnection(id uint32) {
	h.conn(id)
	vmstate.OnDownstreamClose(id, types.PeerTypeRemote)
}

// CloseUpstreamConnection tells the filter the upstream closed.
func (h *hostEmulator) CloseUpstreamConnection(id uint32) {
	h.conn(id)
	vmstate.OnUpstreamClose(id, types.PeerTypeRemote)
}

// CompleteConnection ends the connection: done, log (OnStreamDone), delete.
func (h *hostEmulator) CompleteConnection(id uint32) {
	h.conn(id)
	vmstate.OnDone(id)
	vmstate.OnLog(id)
	vmstate.OnDelete(id)
}

// GetCurrentDownstreamData returns the client's data as the filter left it.
func (h *hostEmulator) GetCurrentDownstreamData(id uint32) []byte {
	return slices.Clone(h.conn(id).downstream)
}

// GetCurrentUpstreamData returns the upstream's data as the filter left it.
func (h *hostEmulator) GetCurrentUpstreamData(id uint32) []byte {
	return slices.Clone(h.conn(id).upstream)
}
