package hsscx

import "testing"

// /debug/pprof/cmdline must not hand out the store's password.
func TestMaskCredentials(t *testing.T) {
	tests := []struct{ name, arg, want string }{
		{"url password", "--db=postgres://ims:s3cr:et@db.example:5432/ims?sslmode=disable",
			"--db=postgres://ims:xxxxx@db.example:5432/ims?sslmode=disable"},
		{"url without password", "postgres://ims@db/ims", "postgres://ims@db/ims"},
		{"key=value password", "host=db user=ims password=s3cret dbname=ims", "host=db user=ims password=xxxxx dbname=ims"},
		{"query password", "postgres://db/ims?user=ims&password=s3cret&sslmode=require", "postgres://db/ims?user=ims&password=xxxxx&sslmode=require"},
		{"sip uri untouched", "sip:alice@ims.example:5060", "sip:alice@ims.example:5060"},
		{"plain flag", "--http-listen=127.0.0.1:9103", "--http-listen=127.0.0.1:9103"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := maskCredentials(tt.arg); got != tt.want {
				t.Errorf("maskCredentials(%q) = %q, want %q", tt.arg, got, tt.want)
			}
		})
	}
}
