// A token check written the way @solo-io/proxy-runtime 0.1.8 documents its API
// (README "Hello, World" structure; send_local_response and stream_context as its
// examples use them). The plugin configuration is the expected token. A request
// whose "x-api-token" header does not match gets a local 403 with a text body and
// an "x-auth" header; an authorized one continues with "x-auth-user" added, and its
// response gets "x-auth: ok".
export * from "@solo-io/proxy-runtime/proxy"; // this exports the required functions for the proxy to interact with us.
import {
  RootContext, Context, registerRootContext, log, LogLevelValues,
  FilterHeadersStatusValues, GrpcStatusValues, HeaderPair,
  stream_context, send_local_response
} from "@solo-io/proxy-runtime";

class AuthRoot extends RootContext {
  createContext(context_id: u32): Context {
    return new Auth(context_id, this);
  }
}

class Auth extends Context {
  constructor(context_id: u32, root_context: AuthRoot) {
    super(context_id, root_context);
  }

  onRequestHeaders(a: u32, end_of_stream: bool): FilterHeadersStatusValues {
    const expected = this.root_context.getConfiguration();
    const token = stream_context.headers.request.get("x-api-token");
    if (expected == "" || token != expected) {
      log(LogLevelValues.warn, "auth: rejected " + stream_context.headers.request.get(":path"));
      const headers: HeaderPair[] = [];
      headers.push(new HeaderPair(String.UTF8.encode("x-auth"), String.UTF8.encode("denied")));
      send_local_response(403, "forbidden", String.UTF8.encode("forbidden: bad or missing x-api-token\n"),
        headers, GrpcStatusValues.PermissionDenied);
      return FilterHeadersStatusValues.StopIteration;
    }
    stream_context.headers.request.add("x-auth-user", "token-holder");
    return FilterHeadersStatusValues.Continue;
  }

  onResponseHeaders(a: u32, end_of_stream: bool): FilterHeadersStatusValues {
    stream_context.headers.response.add("x-auth", "ok");
    return FilterHeadersStatusValues.Continue;
  }
}

registerRootContext((context_id: u32) => { return new AuthRoot(context_id); }, "auth");
