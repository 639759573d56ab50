package cache

import (
	"encoding/json"
	"errors"
	"io"
	"maps"
	"net/http"
	"slices"
	"sync"

	"github.com/wasmgate/wasmgate/core/admin"
)

// The admin API's cache endpoints:
//
//	POST /cache/purge {"route": "users", "key": "GET api.example.com/users/1"}
//	POST /cache/purge {"prefix": "GET api.example.com/users/"}
//	GET  /cache       the stores' counts, by route
//
// Without route, a purge applies to every route's cache. A Redis store is
// shared, so a purge through one instance purges it for all.
func init() {
	admin.Register(admin.Extension{Name: "cache_purge", Pattern: "POST /cache/purge", Handler: http.HandlerFunc(servePurge)})
	admin.Register(admin.Extension{Name: "cache", Pattern: "GET /cache", Handler: http.HandlerFunc(serveStats)})
}

// live holds the stores of the caches this process serves, by route: a
// store joins when it is made and leaves when the last snapshot using it
// lets it go. (Several gateways in one process, as in tests, share it.)
var live = struct {
	sync.Mutex
	m map[*liveStore]struct{}
}{m: map[*liveStore]struct{}{}}

// liveStore is a route's store as kept across snapshots.
type liveStore struct {
	Store
	route string
}

func newLive(route string, s Store) *liveStore {
	ls := &liveStore{Store: s, route: route}
	live.Lock()
	live.m[ls] = struct{}{}
	live.Unlock()
	return ls
}

func (ls *liveStore) Close() error {
	live.Lock()
	delete(live.m, ls)
	live.Unlock()
	return ls.Store.Close()
}

func liveStores(route string) []*liveStore {
	live.Lock()
	defer live.Unlock()
	var out []*liveStore
	for ls := range live.m {
		if route == "" || ls.route == route {
			out = append(out, ls)
		}
	}
	slices.SortFunc(out, func(a, b *liveStore) int {
		if a.route < b.route {
			return -1
		}
		if a.route > b.route {
			return 1
		}
		return 0
	})
	return out
}

type purgeRequest struct {
	Route  string `json:"route"`
	Key    string `json:"key"`
	Prefix string `json:"prefix"`
}

func servePurge(w http.ResponseWriter, r *http.Request) {
	var req purgeRequest
	dec := json.NewDecoder(io.LimitReader(r.Body, 64<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		writeError(w, http.StatusBadRequest, `the body must be JSON: {"route": "...", "key": "..."} or {"route": "...", "prefix": "..."} (route optional): `+err.Error())
		return
	}
	if (req.Key == "") == (req.Prefix == "") {
		writeError(w, http.StatusBadRequest, `give one of key (an entry and its variants) or prefix (every entry whose key starts with it)`)
		return
	}
	stores := liveStores(req.Route)
	if len(stores) == 0 {
		msg := "no route has a cache"
		if req.Route != "" {
			msg = "no route named " + strconvQuote(req.Route) + " has a cache"
		}
		writeError(w, http.StatusNotFound, msg)
		return
	}
	key, prefix := req.Key, false
	if req.Prefix != "" {
		key, prefix = req.Prefix, true
	}
	total := 0
	routes := map[string]int{}
	var errs []error
	for _, s := range stores {
		n, err := s.Purge(r.Context(), key, prefix)
		if err != nil {
			errs = append(errs, errors.New(s.route+": "+err.Error()))
		}
		total += n
		routes[s.route] += n
	}
	if len(errs) > 0 {
		writeJSON(w, http.StatusBadGateway, map[string]any{"error": errors.Join(errs...).Error(), "status": http.StatusBadGateway, "purged": total})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"purged": total, "routes": routes})
}

func serveStats(w http.ResponseWriter, r *http.Request) {
	out := map[string]Stats{}
	for _, s := range liveStores(r.URL.Query().Get("route")) {
		st := s.Stats()
		prev := out[s.route]
		prev.Entries += st.Entries
		prev.Bytes += st.Bytes
		prev.MaxBytes += st.MaxBytes
		prev.Evictions += st.Evictions
		prev.StoreErrors += st.StoreErrors
		out[s.route] = prev
	}
	routes := make([]map[string]any, 0, len(out))
	for _, name := range slices.Sorted(maps.Keys(out)) {
		routes = append(routes, map[string]any{"route": name, "store": out[name]})
	}
	writeJSON(w, http.StatusOK, map[string]any{"routes": routes})
}

func strconvQuote(s string) string { b, _ := json.Marshal(s); return string(b) }

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, reason string) {
	writeJSON(w, status, map[string]any{"error": reason, "status": status})
}
