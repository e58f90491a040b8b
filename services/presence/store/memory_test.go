package store_test

import (
	"testing"

	"github.com/imscore/imscore/services/presence/store"
	"github.com/imscore/imscore/services/presence/store/storetest"
)

func TestMemoryContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return store.NewMemory() })
}
