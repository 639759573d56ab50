package filter

// Publisher is implemented by a built filter that publishes an API
// description, as the openapi filter does for its document. The portal lists
// every published API with the routes whose chains hold it; the gateway finds
// publishers by walking each route's Chain.Filters once per snapshot.
type Publisher interface {
	PublishedAPI() PublishedAPI
}

// PublishedAPI is one API description as its filter loaded it.
type PublishedAPI struct {
	// Name identifies the API in the portal and in /openapi/NAME.json; it
	// is unique per config (the filter's declared name, or the document's
	// title when none is given).
	Name string
	// Document is the OpenAPI 3.0/3.1 document as JSON, as loaded (a
	// document refreshed from a URL publishes its latest version).
	Document []byte
}
