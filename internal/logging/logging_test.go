package logging

import "testing"

func TestNew(t *testing.T) {
	tests := []struct {
		name    string
		cfg     Config
		wantErr bool
	}{
		{"defaults", Default(), false},
		{"json debug", Config{Level: "debug", Format: "json"}, false},
		{"upper case level", Config{Level: "WARN", Format: "console"}, false},
		{"bad level", Config{Level: "loud", Format: "console"}, true},
		{"bad format", Config{Level: "info", Format: "xml"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			log, err := New(tt.cfg, "test")
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if err == nil && log == nil {
				t.Fatal("nil logger without error")
			}
		})
	}
}
