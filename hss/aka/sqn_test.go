package aka

import (
	"errors"
	"testing"
)

func mustJoin(tb testing.TB, cfg SQNConfig, seq uint64, ind uint32) SQN {
	tb.Helper()
	s, err := cfg.Join(seq, ind)
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

func TestSQNBytesRoundTrip(t *testing.T) {
	tests := []struct {
		name  string
		sqn   SQN
		bytes [6]byte
		str   string
	}{
		{name: "zero", sqn: 0, bytes: [6]byte{}, str: "000000000000"},
		{name: "TS 35.208 set 1", sqn: 0xff9bb4d0b607, bytes: [6]byte{0xff, 0x9b, 0xb4, 0xd0, 0xb6, 0x07}, str: "ff9bb4d0b607"},
		{name: "max", sqn: MaxSQN, bytes: [6]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, str: "ffffffffffff"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.sqn.Bytes(); got != tc.bytes {
				t.Errorf("Bytes() = %x, want %x", got, tc.bytes)
			}
			if got := SQNFromBytes(tc.bytes); got != tc.sqn {
				t.Errorf("SQNFromBytes = %s, want %s", got, tc.sqn)
			}
			if got := tc.sqn.String(); got != tc.str {
				t.Errorf("String() = %q, want %q", got, tc.str)
			}
		})
	}
	if (MaxSQN + 1).Valid() {
		t.Error("2^48 reported valid")
	}
}

func TestSQNConfigSplit(t *testing.T) {
	tests := []struct {
		name string
		cfg  SQNConfig
		sqn  SQN
		seq  uint64
		ind  uint32
	}{
		{name: "5 bits, SEQ 1 IND 0", cfg: DefaultSQNConfig(), sqn: 0x20, seq: 1, ind: 0},
		{name: "5 bits, SEQ 1 IND 31", cfg: DefaultSQNConfig(), sqn: 0x3f, seq: 1, ind: 31},
		{name: "5 bits, set 1 SQN", cfg: DefaultSQNConfig(), sqn: 0xff9bb4d0b607, seq: 0xff9bb4d0b607 >> 5, ind: 0x07},
		{name: "1 bit", cfg: SQNConfig{IndBits: 1, Delta: 1}, sqn: 0x7, seq: 3, ind: 1},
		{name: "16 bits, max", cfg: SQNConfig{IndBits: 16, Delta: 1}, sqn: MaxSQN, seq: 1<<32 - 1, ind: 0xffff},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if seq, ind := tc.cfg.SEQ(tc.sqn), tc.cfg.IND(tc.sqn); seq != tc.seq || ind != tc.ind {
				t.Errorf("SEQ, IND = %d, %d; want %d, %d", seq, ind, tc.seq, tc.ind)
			}
			if got := mustJoin(t, tc.cfg, tc.seq, tc.ind); got != tc.sqn {
				t.Errorf("Join = %s, want %s", got, tc.sqn)
			}
		})
	}
	cfg := DefaultSQNConfig()
	if _, err := cfg.Join(cfg.MaxSEQ()+1, 0); !errors.Is(err, ErrInvalidSQN) {
		t.Errorf("Join(MaxSEQ+1) err = %v, want ErrInvalidSQN", err)
	}
	if _, err := cfg.Join(0, 32); !errors.Is(err, ErrInvalidSQN) {
		t.Errorf("Join(IND 32) err = %v, want ErrInvalidSQN", err)
	}
}

func TestSQNConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  SQNConfig
		ok   bool
	}{
		{name: "default", cfg: DefaultSQNConfig(), ok: true},
		{name: "zero value", cfg: SQNConfig{}},
		{name: "IND 0 bits", cfg: SQNConfig{IndBits: 0, Delta: DefaultDelta}},
		{name: "IND 16 bits", cfg: SQNConfig{IndBits: 16, Delta: DefaultDelta}, ok: true},
		{name: "IND 17 bits", cfg: SQNConfig{IndBits: 17, Delta: DefaultDelta}},
		{name: "delta 0", cfg: SQNConfig{IndBits: 5}},
		{name: "delta beyond SEQ space", cfg: SQNConfig{IndBits: 5, Delta: 1 << 43}},
		{name: "no L", cfg: SQNConfig{IndBits: 5, Delta: 1}, ok: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			if tc.ok != (err == nil) {
				t.Fatalf("Validate() = %v, want ok=%v", err, tc.ok)
			}
			if err != nil && !errors.Is(err, ErrInvalidSQNConfig) {
				t.Errorf("%v does not wrap ErrInvalidSQNConfig", err)
			}
			if _, err := NextSQN(0, tc.cfg); tc.ok != (err == nil) {
				t.Errorf("NextSQN err = %v, want ok=%v", err, tc.ok)
			}
			if _, err := NewUSIM(testKeys(t), USIMConfig{SQN: tc.cfg}); tc.ok != (err == nil) {
				t.Errorf("NewUSIM err = %v, want ok=%v", err, tc.ok)
			}
		})
	}
	if got := DefaultSQNConfig(); got.IndBits != 5 || got.Delta != 1<<28 || got.L != 1<<5 {
		t.Errorf("DefaultSQNConfig() = %+v, want IND 5 bits, Δ 2^28, L 2^5", got)
	}
}

// TestNextSQN covers SEQ increment and IND cycling (TS 33.102 Annex C.1.1, C.1.2).
func TestNextSQN(t *testing.T) {
	cfg := DefaultSQNConfig()
	tests := []struct {
		name    string
		cfg     SQNConfig
		current SQN
		want    SQN
		wantErr error
	}{
		{name: "fresh subscriber", cfg: cfg, current: 0, want: mustJoin(t, cfg, 1, 1)},
		{name: "IND advances", cfg: cfg, current: mustJoin(t, cfg, 7, 3), want: mustJoin(t, cfg, 8, 4)},
		{name: "IND wraps to 0, SEQ still increments", cfg: cfg, current: mustJoin(t, cfg, 7, 31), want: mustJoin(t, cfg, 8, 0)},
		{name: "1-bit IND alternates", cfg: SQNConfig{IndBits: 1, Delta: 1}, current: 0b101, want: 0b110},
		{name: "last SEQ is usable", cfg: cfg, current: mustJoin(t, cfg, cfg.MaxSEQ()-1, 2), want: mustJoin(t, cfg, cfg.MaxSEQ(), 3)},
		{name: "exhausted at MaxSEQ", cfg: cfg, current: mustJoin(t, cfg, cfg.MaxSEQ(), 3), wantErr: ErrSQNExhausted},
		{name: "exhausted at MaxSQN", cfg: cfg, current: MaxSQN, wantErr: ErrSQNExhausted},
		{name: "current beyond 48 bits", cfg: cfg, current: MaxSQN + 1, wantErr: ErrInvalidSQN},
		{name: "bad config", cfg: SQNConfig{}, current: 0, wantErr: ErrInvalidSQNConfig},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := NextSQN(tc.current, tc.cfg)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("NextSQN(%s) = %s, %v; want %v", tc.current, got, err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("NextSQN(%s) = %s, %v; want %s", tc.current, got, err, tc.want)
			}
		})
	}
}

// TestNextSQNs checks batch allocation for SIP-Number-Auth-Items: n consecutive values, equal to n calls
// of NextSQN, all-or-nothing at exhaustion.
func TestNextSQNs(t *testing.T) {
	cfg := DefaultSQNConfig()
	tests := []struct {
		name    string
		current SQN
		n       int
		wantErr error
	}{
		{name: "one", current: 0, n: 1},
		{name: "five", current: mustJoin(t, cfg, 100, 30), n: 5},
		{name: "more than one IND cycle", current: mustJoin(t, cfg, 5, 0), n: 70},
		{name: "exactly up to MaxSEQ", current: mustJoin(t, cfg, cfg.MaxSEQ()-3, 9), n: 3},
		{name: "one past MaxSEQ", current: mustJoin(t, cfg, cfg.MaxSEQ()-3, 9), n: 4, wantErr: ErrSQNExhausted},
		{name: "zero", current: 0, n: 0, wantErr: ErrInvalidCount},
		{name: "negative", current: 0, n: -1, wantErr: ErrInvalidCount},
		{name: "MaxSQNBatch", current: 0, n: MaxSQNBatch},
		{name: "above MaxSQNBatch", current: 0, n: MaxSQNBatch + 1, wantErr: ErrInvalidCount},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := NextSQNs(tc.current, tc.n, cfg)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) || got != nil {
					t.Fatalf("NextSQNs = %v, %v; want nil, %v", got, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != tc.n {
				t.Fatalf("got %d SQNs, want %d", len(got), tc.n)
			}
			prev := tc.current
			for i, s := range got {
				want, err := NextSQN(prev, cfg)
				if err != nil {
					t.Fatal(err)
				}
				if s != want {
					t.Fatalf("SQN %d = %s, want %s", i, s, want)
				}
				if cfg.SEQ(s) != cfg.SEQ(prev)+1 || cfg.IND(s) != (cfg.IND(prev)+1)%32 {
					t.Fatalf("SQN %d = SEQ %d IND %d after SEQ %d IND %d", i, cfg.SEQ(s), cfg.IND(s), cfg.SEQ(prev), cfg.IND(prev))
				}
				prev = s
			}
		})
	}
}

// TestSQNAfterResync covers TS 33.102 §6.3.5 steps 2–5.
func TestSQNAfterResync(t *testing.T) {
	cfg := SQNConfig{IndBits: 5, Delta: 1000, L: 32}
	tests := []struct {
		name    string
		current SQN
		sqnMS   SQN
		want    SQN
	}{
		{name: "HSS behind USIM: reset to SQN_MS", current: mustJoin(t, cfg, 10, 10), sqnMS: mustJoin(t, cfg, 500, 3), want: mustJoin(t, cfg, 500, 3)},
		{name: "HSS equal to USIM: next SEQ is fresh, keep", current: mustJoin(t, cfg, 500, 3), sqnMS: mustJoin(t, cfg, 500, 3), want: mustJoin(t, cfg, 500, 3)},
		{name: "HSS ahead within delta: keep", current: mustJoin(t, cfg, 1499, 7), sqnMS: mustJoin(t, cfg, 500, 3), want: mustJoin(t, cfg, 1499, 7)},
		{name: "HSS ahead, next SEQ exactly delta above: keep", current: mustJoin(t, cfg, 1499, 0), sqnMS: mustJoin(t, cfg, 500, 0), want: mustJoin(t, cfg, 1499, 0)},
		{name: "HSS ahead, next SEQ delta+1 above: reset", current: mustJoin(t, cfg, 1500, 0), sqnMS: mustJoin(t, cfg, 500, 0), want: mustJoin(t, cfg, 500, 0)},
		{name: "fresh USIM, HSS far ahead: reset to zero", current: mustJoin(t, cfg, 1<<30, 4), sqnMS: 0, want: 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := SQNAfterResync(tc.current, tc.sqnMS, cfg)
			if err != nil || got != tc.want {
				t.Fatalf("SQNAfterResync(%s, %s) = %s, %v; want %s", tc.current, tc.sqnMS, got, err, tc.want)
			}
			// Whatever it returns, the next SQN is one the USIM accepts: above SEQ_MS, at most Δ above.
			next, err := NextSQN(got, cfg)
			if err != nil {
				t.Fatal(err)
			}
			if seq, seqMS := cfg.SEQ(next), cfg.SEQ(tc.sqnMS); seq <= seqMS || seq-seqMS > cfg.Delta {
				t.Errorf("next SEQ %d not in (SEQ_MS %d, SEQ_MS+Δ]", seq, seqMS)
			}
		})
	}
	for _, bad := range []struct {
		name           string
		current, sqnMS SQN
		cfg            SQNConfig
		want           error
	}{
		{name: "current too big", current: MaxSQN + 1, cfg: cfg, want: ErrInvalidSQN},
		{name: "SQN_MS too big", sqnMS: MaxSQN + 1, cfg: cfg, want: ErrInvalidSQN},
		{name: "bad config", cfg: SQNConfig{}, want: ErrInvalidSQNConfig},
	} {
		t.Run(bad.name, func(t *testing.T) {
			if _, err := SQNAfterResync(bad.current, bad.sqnMS, bad.cfg); !errors.Is(err, bad.want) {
				t.Errorf("err = %v, want %v", err, bad.want)
			}
		})
	}
}

// SQNAfter(cur, n) is the last of NextSQNs(cur, n): a reserved block ends where issuing one by one would.
func TestSQNAfterMatchesNextSQNs(t *testing.T) {
	cfg := DefaultSQNConfig()
	for _, cur := range []SQN{0, 0x1f, 0x20, 0x3ff, 0x123456789a} {
		for _, n := range []int{1, 2, 16, 31, 32, 33, 1000} {
			sqns, err := NextSQNs(cur, n, cfg)
			if err != nil {
				t.Fatal(err)
			}
			end, err := SQNAfter(cur, uint64(n), cfg)
			if err != nil || end != sqns[n-1] {
				t.Errorf("SQNAfter(%s, %d) = %s, %v; want %s", cur, n, end, err, sqns[n-1])
			}
		}
	}
	if _, err := SQNAfter(SQN(cfg.MaxSEQ()<<cfg.IndBits), 1, cfg); !errors.Is(err, ErrSQNExhausted) {
		t.Errorf("SQNAfter at MaxSEQ: %v, want ErrSQNExhausted", err)
	}
	if _, err := SQNAfter(0, 0, cfg); !errors.Is(err, ErrInvalidCount) {
		t.Errorf("SQNAfter(0, 0): %v, want ErrInvalidCount", err)
	}
}
