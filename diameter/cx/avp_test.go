package cx

import "testing"

func TestCommandRequest(t *testing.T) {
	for c, want := range map[Command]string{CmdUserAuthorization: "UAR", CmdServerAssignment: "SAR", CmdLocationInfo: "LIR",
		CmdMultimediaAuth: "MAR", CmdRegistrationTermination: "RTR", CmdPushProfile: "PPR", 280: "280"} {
		if got := c.Request(); got != want {
			t.Errorf("Command(%d).Request() = %q, want %q", uint32(c), got, want)
		}
	}
}
