package aka_test

import (
	"errors"
	"fmt"

	"github.com/imscore/imscore/hss/aka"
)

// The HSS answers a MAR for n vectors: allocate inside the transaction that holds SQN_HE, store the last
// SQN, then compute the vectors.
func ExampleNextSQNs() {
	cfg := aka.DefaultSQNConfig()
	current := aka.SQN(0x21) // SQN_HE as read under the row lock: SEQ 1, IND 1

	sqns, err := aka.NextSQNs(current, 3, cfg) // SIP-Number-Auth-Items = 3
	if err != nil {
		fmt.Println("rollback:", err) // ErrSQNExhausted: nothing allocated
		return
	}
	for _, s := range sqns {
		fmt.Printf("SQN %s = SEQ %d, IND %d\n", s, cfg.SEQ(s), cfg.IND(s))
	}
	fmt.Println("store SQN_HE =", sqns[len(sqns)-1])
	// Output:
	// SQN 000000000042 = SEQ 2, IND 2
	// SQN 000000000063 = SEQ 3, IND 3
	// SQN 000000000084 = SEQ 4, IND 4
	// store SQN_HE = 000000000084
}

// A UE whose USIM is ahead of the HSS answers with AUTS; the HSS verifies it, moves SQN_HE and the next
// vector is accepted.
func ExampleResync() {
	opc := [16]byte{0xcd, 0x63, 0xcb, 0x71, 0x95, 0x4a, 0x9f, 0x4e, 0x48, 0xa5, 0x99, 0x4e, 0x37, 0xa0, 0x2b, 0xaf}
	keys := aka.Keys{K: [16]byte{0x46, 0x5b, 0x5c, 0xe8, 0xb1, 0x99, 0xb4, 0x9f, 0xaa, 0x5f, 0x0a, 0x2e, 0xe2, 0x38, 0xa6, 0xbc}, OPc: &opc, AMF: [2]byte{0x80, 0x00}}
	cfg := aka.DefaultSQNConfig()

	usim, _ := aka.NewUSIM(keys, aka.DefaultUSIMConfig())
	_ = usim.SetSQNms(0x4e20) // the card has seen SEQ 625
	sqnHE := aka.SQN(0x0100)  // the HSS thinks SEQ 8

	next, _ := aka.NextSQN(sqnHE, cfg)
	rand, _ := aka.NewRAND()
	v, _ := aka.GenerateVector(keys, next, rand)
	_, err := usim.Authenticate(v.RAND, v.AUTN)
	var sf *aka.SyncFailure
	if !errors.As(err, &sf) {
		fmt.Println("expected a sync failure, got", err)
		return
	}
	sqnMS, err := aka.Resync(keys, v.RAND, sf.AUTS) // MAR with RAND ‖ AUTS
	if err != nil {
		fmt.Println("keep SQN_HE:", err) // ErrMACSMismatch
		return
	}
	sqnHE, _ = aka.SQNAfterResync(sqnHE, sqnMS, cfg)
	fmt.Println("SQN_MS", sqnMS, "-> SQN_HE", sqnHE)

	next, _ = aka.NextSQN(sqnHE, cfg)
	v, _ = aka.GenerateVector(keys, next, rand)
	if _, err := usim.Authenticate(v.RAND, v.AUTN); err == nil {
		fmt.Println("accepted SQN", next)
	}
	// Output:
	// SQN_MS 000000004e20 -> SQN_HE 000000004e20
	// accepted SQN 000000004e41
}
