package vicinit

import (
	"testing"

	"gotest.tools/v3/assert"
)

// TestEndpointNumber: no key is endpoint 1; a number names an endpoint of the VCH; anything
// else is one sentence naming the key.
func TestEndpointNumber(t *testing.T) {
	tests := []struct {
		raw     string
		count   int
		want    int
		wantErr string
	}{
		{raw: "", count: 1, want: 1},
		{raw: "  ", count: 3, want: 1},
		{raw: "1", count: 3, want: 1},
		{raw: "3", count: 3, want: 3},
		{raw: " 2\n", count: 2, want: 2},
		{raw: "4", count: 3, wantErr: "guestinfo.vic.endpoint is 4, but the VCH has 3 endpoints: this endpoint VM is not one of them"},
		{raw: "2", count: 1, wantErr: "guestinfo.vic.endpoint is 2, but the VCH has a single endpoint: this endpoint VM is not one of them"},
		{raw: "0", count: 3, wantErr: `guestinfo.vic.endpoint "0" is not an endpoint number: it must be a whole number from 1`},
		{raw: "two", count: 3, wantErr: `guestinfo.vic.endpoint "two" is not an endpoint number: it must be a whole number from 1`},
	}
	for _, tt := range tests {
		t.Run(tt.raw, func(t *testing.T) {
			i, err := EndpointNumber(tt.raw, tt.count)
			if tt.wantErr != "" {
				assert.Error(t, err, tt.wantErr)
				return
			}
			assert.NilError(t, err)
			assert.Equal(t, i, tt.want)
		})
	}
}
