package sqlite

import (
	"testing"

	"github.com/imscore/imscore/services/presence/store"
	"github.com/imscore/imscore/services/presence/store/storetest"
)

func TestPresenceContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return newDB(t).Presence() })
}
