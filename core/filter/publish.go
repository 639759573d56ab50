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

// Documented is implemented by a built filter that asks something of a
// client (credentials, a request rate), so the portal can say, beside a
// route's API, what calling it takes. It describes the filter as built,
// never a secret.
type Documented interface {
	Requirement() Requirement
}

// Requirement is what one filter asks of a client, in words.
type Requirement struct {
	Kind RequirementKind
	// Title names it: "JWT bearer token", "API key", "Rate limit".
	Title string
	// Details are label and value pairs: {"Issuer", "https://auth..."},
	// {"Header", "X-API-Key"}, {"Rate", "100/s, burst 200"}.
	Details []Detail
}

// RequirementKind sorts requirements on the page.
type RequirementKind string

// Kinds of requirements.
const (
	RequiresAuth  RequirementKind = "auth"
	RequiresLimit RequirementKind = "limit"
)

// Detail is one labelled fact of a Requirement.
type Detail struct {
	Label, Value string
}
