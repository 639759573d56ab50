package admin

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/wasmgate/wasmgate/core/acme"
)

// revoke serves POST /certificates/revoke: {"name": ..., "reason": ...}.
// The guard has checked the admin token and the JSON content type.
func revoke(w http.ResponseWriter, r *http.Request, rb RevokeBackend) {
	var req struct {
		Name   string `json:"name"`
		Reason string `json:"reason"`
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		writeError(w, http.StatusBadRequest, "the body must be JSON {\"name\": \"a.example.com\", \"reason\": \"keyCompromise\"}: "+err.Error())
		return
	}
	if req.Name == "" {
		writeError(w, http.StatusBadRequest, "name is required")
		return
	}
	rev, err := rb.RevokeCertificate(r.Context(), req.Name, req.Reason)
	if err == nil {
		writeJSON(w, http.StatusOK, rev)
		return
	}
	status := http.StatusInternalServerError
	var caErr *acme.CAError
	switch {
	case errors.Is(err, acme.ErrBadReason):
		status = http.StatusBadRequest
	case errors.Is(err, acme.ErrStatic):
		status = http.StatusConflict
	case errors.Is(err, acme.ErrNotManaged), errors.Is(err, acme.ErrNoCertificate):
		status = http.StatusNotFound
	case errors.As(err, &caErr):
		status = http.StatusBadGateway
	}
	body := map[string]any{"error": err.Error(), "status": status, "name": req.Name}
	if rev.RevokedSerial != "" {
		body["revoked_serial"] = rev.RevokedSerial
		body["revoked"] = caErr == nil || caErr.Revoked
	}
	writeJSON(w, status, body)
}
