package driverapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strings"
)

// MaxRequestBytes bounds the body of one request: Docker's largest (a container with thousands
// of published ports) stays far below it.
const MaxRequestBytes = 4 << 20

// decode reads the body of a method's request into a new Req. An empty body is fine only for
// requests that carry nothing (Docker sends none for capabilities and address spaces); any
// other must be one JSON object, within MaxRequestBytes, with nothing after it.
func decode[Req any](w http.ResponseWriter, r *http.Request, method string) (*Req, error) {
	req := new(Req)
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, MaxRequestBytes))
	err := dec.Decode(req)
	var tooLarge *http.MaxBytesError
	switch {
	case errors.Is(err, io.EOF):
		if fields := jsonFields(reflect.TypeFor[Req]()); len(fields) > 0 {
			return nil, fmt.Errorf("the %s request has no body: expected a JSON object with %s", method, strings.Join(fields, ", "))
		}
		return req, nil
	case errors.As(err, &tooLarge):
		return nil, fmt.Errorf("the %s request is larger than %d bytes", method, MaxRequestBytes)
	case err != nil:
		return nil, fmt.Errorf("decoding the %s request: %w", method, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("the %s request has data after its JSON object", method)
	}
	return req, nil
}

// jsonFields names the JSON fields of a request type, as Docker spells them.
func jsonFields(t reflect.Type) []string {
	if t.Kind() != reflect.Struct {
		return nil
	}
	var out []string
	for f := range t.Fields() {
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = f.Name
		}
		out = append(out, name)
	}
	return out
}
