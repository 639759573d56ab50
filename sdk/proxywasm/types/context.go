package types

// A filter is a tree of contexts, as in Envoy:
//
//	VMContext (one per Wasm VM)
//	  └─ PluginContext (one per plugin configuration; the "root context")
//	       ├─ HttpContext (one per HTTP request/response pair)
//	       └─ TcpContext  (one per TCP connection)
//
// A filter registers its VMContext with proxywasm.SetVMContext from an init
// function; the SDK creates the rest as the host asks for them. All callbacks
// run on the host's thread, one at a time: never call the host from another
// goroutine, and never block in a callback.

// VMContext is the entry point of a filter; one exists per VM.
type VMContext interface {
	// OnVMStart runs once, after the module is instantiated.
	// proxywasm.GetVMConfiguration is available during this call.
	OnVMStart(vmConfigurationSize int) OnVMStartStatus
	// NewPluginContext creates the context for one plugin configuration.
	NewPluginContext(contextID uint32) PluginContext
}

// PluginContext owns one plugin configuration and creates the per-stream
// contexts that use it. Parse the configuration in OnPluginStart, not per
// request.
type PluginContext interface {
	// OnPluginStart runs when the host configures the plugin.
	// proxywasm.GetPluginConfiguration is available during this call.
	OnPluginStart(pluginConfigurationSize int) OnPluginStartStatus
	// OnPluginDone runs before the host deletes the plugin. Return false to
	// finish asynchronously, then call proxywasm.PluginDone.
	OnPluginDone() bool
	// OnQueueReady runs when an item arrives on a queue this plugin registered.
	OnQueueReady(queueID uint32)
	// OnTick runs every period set with proxywasm.SetTickPeriodMilliSeconds.
	OnTick()
	// NewTcpContext creates the context of a TCP connection; nil if this
	// plugin does not filter TCP.
	NewTcpContext(contextID uint32) TcpContext
	// NewHttpContext creates the context of an HTTP stream; nil if this
	// plugin does not filter HTTP.
	NewHttpContext(contextID uint32) HttpContext
}

// HttpContext handles one HTTP request/response pair.
type HttpContext interface {
	// OnHttpRequestHeaders runs when the request headers arrive.
	OnHttpRequestHeaders(numHeaders int, endOfStream bool) Action
	// OnHttpRequestBody runs for each request body chunk; bodySize is the
	// size buffered so far. Return ActionPause until endOfStream to see the
	// whole body.
	OnHttpRequestBody(bodySize int, endOfStream bool) Action
	// OnHttpRequestTrailers runs when the request trailers arrive.
	OnHttpRequestTrailers(numTrailers int) Action
	// OnHttpResponseHeaders runs when the response headers arrive.
	OnHttpResponseHeaders(numHeaders int, endOfStream bool) Action
	// OnHttpResponseBody runs for each response body chunk, as for requests.
	OnHttpResponseBody(bodySize int, endOfStream bool) Action
	// OnHttpResponseTrailers runs when the response trailers arrive.
	OnHttpResponseTrailers(numTrailers int) Action
	// OnHttpStreamDone runs before the host deletes the context; headers are
	// still readable, which makes it the place for access logging.
	OnHttpStreamDone()
}

// TcpContext handles one TCP connection.
type TcpContext interface {
	OnNewConnection() Action
	OnDownstreamData(dataSize int, endOfStream bool) Action
	OnDownstreamClose(peerType PeerType)
	OnUpstreamData(dataSize int, endOfStream bool) Action
	OnUpstreamClose(peerType PeerType)
	OnStreamDone()
}

// Default contexts do nothing; embed them and implement only what you need.
type (
	DefaultVMContext     struct{}
	DefaultPluginContext struct{}
	DefaultHttpContext   struct{}
	DefaultTcpContext    struct{}
)

func (*DefaultVMContext) OnVMStart(int) OnVMStartStatus { return OnVMStartStatusOK }
func (*DefaultVMContext) NewPluginContext(uint32) PluginContext {
	return &DefaultPluginContext{}
}

func (*DefaultPluginContext) OnPluginStart(int) OnPluginStartStatus { return OnPluginStartStatusOK }
func (*DefaultPluginContext) OnPluginDone() bool                    { return true }
func (*DefaultPluginContext) OnQueueReady(uint32)                   {}
func (*DefaultPluginContext) OnTick()                               {}
func (*DefaultPluginContext) NewTcpContext(uint32) TcpContext       { return nil }
func (*DefaultPluginContext) NewHttpContext(uint32) HttpContext     { return nil }

func (*DefaultHttpContext) OnHttpRequestHeaders(int, bool) Action  { return ActionContinue }
func (*DefaultHttpContext) OnHttpRequestBody(int, bool) Action     { return ActionContinue }
func (*DefaultHttpContext) OnHttpRequestTrailers(int) Action       { return ActionContinue }
func (*DefaultHttpContext) OnHttpResponseHeaders(int, bool) Action { return ActionContinue }
func (*DefaultHttpContext) OnHttpResponseBody(int, bool) Action    { return ActionContinue }
func (*DefaultHttpContext) OnHttpResponseTrailers(int) Action      { return ActionContinue }
func (*DefaultHttpContext) OnHttpStreamDone()                      {}

func (*DefaultTcpContext) OnNewConnection() Action           { return ActionContinue }
func (*DefaultTcpContext) OnDownstreamData(int, bool) Action { return ActionContinue }
func (*DefaultTcpContext) OnDownstreamClose(PeerType)        {}
func (*DefaultTcpContext) OnUpstreamData(int, bool) Action   { return ActionContinue }
func (*DefaultTcpContext) OnUpstreamClose(PeerType)          {}
func (*DefaultTcpContext) OnStreamDone()                     {}

var (
	_ VMContext     = (*DefaultVMContext)(nil)
	_ PluginContext = (*DefaultPluginContext)(nil)
	_ HttpContext   = (*DefaultHttpContext)(nil)
	_ TcpContext    = (*DefaultTcpContext)(nil)
)

// Factories for the shorter entry points (proxywasm.SetPluginContext,
// SetHttpContext, SetTcpContext), for filters that need no VM context, or
// no plugin context either.
type (
	PluginContextFactory func(contextID uint32) PluginContext
	HttpContextFactory   func(contextID uint32) HttpContext
	TcpContextFactory    func(contextID uint32) TcpContext
)
