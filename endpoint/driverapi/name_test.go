package driverapi

import "testing"

func TestSameName(t *testing.T) {
	tests := []struct {
		want, got string
		same      bool
	}{
		{"vic", "vic", true},
		{"vic", "vic:latest", false},
		{"vic:latest", "vic", false},
		{"vic:latest", "docker.io/library/vic:latest", true},
		{"docker-vic/vic:latest", "docker.io/docker-vic/vic:latest", true},
		{"docker-vic/vic:latest", "docker-vic/vic", false},
		{"localhost:5000/vic:latest", "localhost:5000/vic:latest", true},
		{"vic", "vic:1.0", false},
		{"vic", "bridge", false},
		{"docker-vic/vic:latest", "vic:latest", false},
	}
	for _, tt := range tests {
		if got := SameName(tt.want, tt.got); got != tt.same {
			t.Errorf("SameName(%q, %q) = %v, want %v", tt.want, tt.got, got, tt.same)
		}
	}
}
