package bsf

import (
	"sync"
	"time"
)

// session is a bootstrapping session (TS 33.220 §4.5.2 step 6): what the BSF keeps per B-TID until the key
// lifetime ends. Ks never leaves the BSF; NAFs get Ks_NAF (zn.go).
type session struct {
	btid    string
	impi    string
	rand    []byte
	ks      []byte
	guss    []byte
	created time.Time
	expires time.Time
}

// challenge is the AKA vector of a 401 waiting for the UE's answer, keyed by its nonce; used once.
type challenge struct {
	impi    string
	rand    []byte
	xres    []byte
	ck, ik  []byte
	guss    []byte
	expires time.Time
}

// sessions holds the bootstrapping sessions and pending challenges in memory, each map bounded by max. A BSF
// restart loses them: UEs bootstrap again when a NAF answers 401 for an unknown B-TID (TS 24.109 §5.2.3).
type sessions struct {
	mu         sync.Mutex
	max        int
	byBTID     map[string]*session
	challenges map[string]*challenge
}

func newSessions(max int) *sessions {
	return &sessions{max: max, byBTID: map[string]*session{}, challenges: map[string]*challenge{}}
}

// put stores s, replacing a session of the same B-TID (TS 33.220 §4.5.2: a new bootstrapping replaces the
// old one); when full, expired sessions go, then the one expiring first.
func (ss *sessions) put(s *session, now time.Time) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if _, ok := ss.byBTID[s.btid]; !ok && len(ss.byBTID) >= ss.max {
		ss.sweepLocked(now)
		if len(ss.byBTID) >= ss.max {
			var oldest *session
			for _, o := range ss.byBTID {
				if oldest == nil || o.expires.Before(oldest.expires) {
					oldest = o
				}
			}
			delete(ss.byBTID, oldest.btid)
		}
	}
	ss.byBTID[s.btid] = s
}

// get returns the unexpired session of btid.
func (ss *sessions) get(btid string, now time.Time) *session {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	s := ss.byBTID[btid]
	if s == nil || !now.Before(s.expires) {
		return nil
	}
	return s
}

// addChallenge stores c under nonce; false when the pending challenges are at their bound.
func (ss *sessions) addChallenge(nonce string, c *challenge, now time.Time) bool {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if len(ss.challenges) >= ss.max {
		ss.sweepLocked(now)
		if len(ss.challenges) >= ss.max {
			return false
		}
	}
	ss.challenges[nonce] = c
	return true
}

// takeChallenge removes and returns the unexpired challenge of nonce: a nonce answers once (no replay).
func (ss *sessions) takeChallenge(nonce string, now time.Time) *challenge {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	c := ss.challenges[nonce]
	delete(ss.challenges, nonce)
	if c == nil || !now.Before(c.expires) {
		return nil
	}
	return c
}

// sweep removes what expired.
func (ss *sessions) sweep(now time.Time) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	ss.sweepLocked(now)
}

func (ss *sessions) sweepLocked(now time.Time) {
	for k, s := range ss.byBTID {
		if !now.Before(s.expires) {
			delete(ss.byBTID, k)
		}
	}
	for k, c := range ss.challenges {
		if !now.Before(c.expires) {
			delete(ss.challenges, k)
		}
	}
}

// counts returns the sessions and challenges held.
func (ss *sessions) counts() (int, int) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	return len(ss.byBTID), len(ss.challenges)
}
