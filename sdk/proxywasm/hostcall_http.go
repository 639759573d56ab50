package proxywasm

import (
	"github.com/wasmgate/wasmgate/sdk/internal/abi"
	"github.com/wasmgate/wasmgate/sdk/internal/vmstate"
	"github.com/wasmgate/wasmgate/sdk/proxywasm/types"
)

func getHeader(m types.MapType, key string) (string, error) {
	v, st := abi.GetHeaderMapValue(m, key)
	if st != types.StatusOK {
		return "", st.Err()
	}
	return string(v), nil
}

func getHeaders(m types.MapType) ([][2]string, error) {
	b, st := abi.GetHeaderMapPairs(m)
	if st != types.StatusOK {
		return nil, st.Err()
	}
	return deserializeMap(b), nil
}

func setHeaders(m types.MapType, pairs [][2]string) error {
	return abi.SetHeaderMapPairs(m, serializeMap(pairs)).Err()
}

func getBuffer(b types.BufferType, start, maxSize int) ([]byte, error) {
	if start < 0 || maxSize < 0 {
		return nil, types.ErrorStatusBadArgument
	}
	data, st := abi.GetBufferBytes(b, uint32(start), uint32(min(maxSize, bufferEnd)))
	if st != types.StatusOK {
		return nil, st.Err()
	}
	if len(data) == 0 {
		// As the upstream SDK: an empty buffer (an empty configuration, say)
		// reads as NOT_FOUND, so filters ported from it see what they expect.
		return nil, types.ErrorStatusNotFound
	}
	return data, nil
}

func appendBuffer(b types.BufferType, data []byte) error {
	return abi.SetBufferBytes(b, bufferEnd, 0, data).Err()
}

func prependBuffer(b types.BufferType, data []byte) error {
	return abi.SetBufferBytes(b, 0, 0, data).Err()
}

func replaceBuffer(b types.BufferType, data []byte) error {
	return abi.SetBufferBytes(b, 0, bufferEnd, data).Err()
}

// Request headers.

// GetHttpRequestHeaders returns every request header (pseudo-headers such as
// :path and :method included).
func GetHttpRequestHeaders() ([][2]string, error) { return getHeaders(types.MapTypeHttpRequestHeaders) }

// ReplaceHttpRequestHeaders replaces every request header.
func ReplaceHttpRequestHeaders(headers [][2]string) error {
	return setHeaders(types.MapTypeHttpRequestHeaders, headers)
}

// GetHttpRequestHeader returns a request header, or ErrorStatusNotFound.
func GetHttpRequestHeader(key string) (string, error) {
	return getHeader(types.MapTypeHttpRequestHeaders, key)
}

// RemoveHttpRequestHeader removes a request header (every value).
func RemoveHttpRequestHeader(key string) error {
	return abi.RemoveHeaderMapValue(types.MapTypeHttpRequestHeaders, key).Err()
}

// ReplaceHttpRequestHeader sets a request header, replacing any value.
func ReplaceHttpRequestHeader(key, value string) error {
	return abi.ReplaceHeaderMapValue(types.MapTypeHttpRequestHeaders, key, value).Err()
}

// AddHttpRequestHeader adds a value to a request header.
func AddHttpRequestHeader(key, value string) error {
	return abi.AddHeaderMapValue(types.MapTypeHttpRequestHeaders, key, value).Err()
}

// Request body.

// GetHttpRequestBody returns up to maxSize bytes of the buffered request body
// from start. Call it from OnHttpRequestBody with (0, bodySize).
func GetHttpRequestBody(start, maxSize int) ([]byte, error) {
	return getBuffer(types.BufferTypeHttpRequestBody, start, maxSize)
}

// AppendHttpRequestBody appends to the buffered request body.
func AppendHttpRequestBody(data []byte) error {
	return appendBuffer(types.BufferTypeHttpRequestBody, data)
}

// PrependHttpRequestBody prepends to the buffered request body.
func PrependHttpRequestBody(data []byte) error {
	return prependBuffer(types.BufferTypeHttpRequestBody, data)
}

// ReplaceHttpRequestBody replaces the buffered request body.
func ReplaceHttpRequestBody(data []byte) error {
	return replaceBuffer(types.BufferTypeHttpRequestBody, data)
}

// Request trailers.

func GetHttpRequestTrailers() ([][2]string, error) {
	return getHeaders(types.MapTypeHttpRequestTrailers)
}
func ReplaceHttpRequestTrailers(trailers [][2]string) error {
	return setHeaders(types.MapTypeHttpRequestTrailers, trailers)
}
func GetHttpRequestTrailer(key string) (string, error) {
	return getHeader(types.MapTypeHttpRequestTrailers, key)
}
func RemoveHttpRequestTrailer(key string) error {
	return abi.RemoveHeaderMapValue(types.MapTypeHttpRequestTrailers, key).Err()
}
func ReplaceHttpRequestTrailer(key, value string) error {
	return abi.ReplaceHeaderMapValue(types.MapTypeHttpRequestTrailers, key, value).Err()
}
func AddHttpRequestTrailer(key, value string) error {
	return abi.AddHeaderMapValue(types.MapTypeHttpRequestTrailers, key, value).Err()
}

// ResumeHttpRequest resumes a request paused by an earlier callback.
func ResumeHttpRequest() error { return abi.ContinueStream(types.StreamTypeRequest).Err() }

// Response headers.

func GetHttpResponseHeaders() ([][2]string, error) {
	return getHeaders(types.MapTypeHttpResponseHeaders)
}
func ReplaceHttpResponseHeaders(headers [][2]string) error {
	return setHeaders(types.MapTypeHttpResponseHeaders, headers)
}
func GetHttpResponseHeader(key string) (string, error) {
	return getHeader(types.MapTypeHttpResponseHeaders, key)
}
func RemoveHttpResponseHeader(key string) error {
	return abi.RemoveHeaderMapValue(types.MapTypeHttpResponseHeaders, key).Err()
}
func ReplaceHttpResponseHeader(key, value string) error {
	return abi.ReplaceHeaderMapValue(types.MapTypeHttpResponseHeaders, key, value).Err()
}
func AddHttpResponseHeader(key, value string) error {
	return abi.AddHeaderMapValue(types.MapTypeHttpResponseHeaders, key, value).Err()
}

// Response body.

func GetHttpResponseBody(start, maxSize int) ([]byte, error) {
	return getBuffer(types.BufferTypeHttpResponseBody, start, maxSize)
}
func AppendHttpResponseBody(data []byte) error {
	return appendBuffer(types.BufferTypeHttpResponseBody, data)
}
func PrependHttpResponseBody(data []byte) error {
	return prependBuffer(types.BufferTypeHttpResponseBody, data)
}
func ReplaceHttpResponseBody(data []byte) error {
	return replaceBuffer(types.BufferTypeHttpResponseBody, data)
}

// Response trailers.

func GetHttpResponseTrailers() ([][2]string, error) {
	return getHeaders(types.MapTypeHttpResponseTrailers)
}
func ReplaceHttpResponseTrailers(trailers [][2]string) error {
	return setHeaders(types.MapTypeHttpResponseTrailers, trailers)
}
func GetHttpResponseTrailer(key string) (string, error) {
	return getHeader(types.MapTypeHttpResponseTrailers, key)
}
func RemoveHttpResponseTrailer(key string) error {
	return abi.RemoveHeaderMapValue(types.MapTypeHttpResponseTrailers, key).Err()
}
func ReplaceHttpResponseTrailer(key, value string) error {
	return abi.ReplaceHeaderMapValue(types.MapTypeHttpResponseTrailers, key, value).Err()
}
func AddHttpResponseTrailer(key, value string) error {
	return abi.AddHeaderMapValue(types.MapTypeHttpResponseTrailers, key, value).Err()
}

// ResumeHttpResponse resumes a response paused by an earlier callback.
func ResumeHttpResponse() error { return abi.ContinueStream(types.StreamTypeResponse).Err() }

// SendHttpResponse ends the stream with a response of the filter's own.
// Return types.ActionPause from the callback afterwards. gRPCStatus -1 means
// "not gRPC".
func SendHttpResponse(statusCode uint32, headers [][2]string, body []byte, gRPCStatus int32) error {
	return abi.SendLocalResponse(statusCode, "", body, serializeMap(headers), gRPCStatus).Err()
}

// HTTP callouts.

// DispatchHttpCall sends a request to a named upstream; callBack runs when
// the response (or the timeout) arrives, with the dispatching context made
// current again. headers must carry :method, :path and :authority.
func DispatchHttpCall(cluster string, headers [][2]string, body []byte, trailers [][2]string,
	timeoutMillisecond uint32, callBack func(numHeaders, bodySize, numTrailers int)) (calloutID uint32, err error) {
	h := append([]byte(nil), serializeMap(headers)...)
	t := serializeMap(trailers)
	id, st := abi.HttpCall(cluster, h, body, t, timeoutMillisecond)
	if st != types.StatusOK {
		return 0, st.Err()
	}
	vmstate.RegisterCallout(id, callBack)
	return id, nil
}

// GetHttpCallResponseHeaders returns the headers of the callout response;
// call it from the DispatchHttpCall callback.
func GetHttpCallResponseHeaders() ([][2]string, error) {
	return getHeaders(types.MapTypeHttpCallResponseHeaders)
}

// GetHttpCallResponseBody returns the body of the callout response.
func GetHttpCallResponseBody(start, maxSize int) ([]byte, error) {
	return getBuffer(types.BufferTypeHttpCallResponseBody, start, maxSize)
}

// GetHttpCallResponseTrailers returns the trailers of the callout response.
func GetHttpCallResponseTrailers() ([][2]string, error) {
	return getHeaders(types.MapTypeHttpCallResponseTrailers)
}
