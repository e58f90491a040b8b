// Package aka holds the AKA authentication functions of the HSS (network side) and of the UE simulator's
// USIM (user side): authentication vectors, AUTS re-synchronisation and SQN management. It is pure logic:
// no storage, no networking, no logging, no package-level state.
//
// Specifications (read the clause before changing the code):
//   - TS 33.102 §6.3.2 (vector generation), §6.3.3 (USIM side, AUTS), §6.3.5 (re-synchronisation),
//     Annex C (SQN = SEQ ‖ IND, the USIM's SEQ array, Δ and L), Annex H (AMF separation bit).
//   - TS 35.205/35.206 (Milenage f1–f5*, OPc = E_K(OP) ⊕ OP), TS 35.208 (test data, see testdata/).
//
// Milenage itself comes from github.com/wmnsk/milenage; milenage.go is the adapter that gives it fixed-size
// inputs, f1*/f5* for any SQN and AMF, and turns a library panic into an error.
//
// # HSS usage
//
// SQN_HE is one 48-bit counter per subscriber, read and written by the store. It holds the last SQN
// allocated (TS 33.102 §6.3.5 resets it "to SQN_MS"), never the next one: a vector's SQN always comes from
// NextSQN/NextSQNs, and a new subscriber starts at 0 (first vector SEQ 1). Allocation is a pure function of
// the stored value, so it belongs inside the row lock or transaction that guards that value:
//
//	tx: current := SELECT sqn ... FOR UPDATE
//	    sqns, err := aka.NextSQNs(current, n, cfg)   // n = SIP-Number-Auth-Items
//	    if err != nil { rollback; return err }       // ErrSQNExhausted: nothing was allocated
//	    UPDATE ... SET sqn = sqns[len(sqns)-1]
//	commit, then outside the transaction, for each sqn in sqns:
//	    rand, err := aka.NewRAND()
//	    v, err := aka.GenerateVector(keys, sqn, rand)   // v.RAND ‖ v.AUTN, v.XRES, v.CK, v.IK into the MAA
//
// A vector is only handed out once its SQN is committed, so two HSS replicas never issue the same SQN. The
// one exception is a resync that must move SQN_HE back (TS 33.102 §6.3.5 step 5): SEQ values above SQN_MS
// may then be issued again, which is safe because the USIM accepts each SEQ at most once per IND.
//
// On a MAR carrying RAND ‖ AUTS: sqnMS, err := aka.Resync(keys, rand, auts). On ErrMACSMismatch leave the
// stored SQN alone. Otherwise, in the transaction, store aka.SQNAfterResync(current, sqnMS, cfg) and
// allocate the new vectors after it as above.
package aka
