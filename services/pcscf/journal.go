package pcscf

// The bindings' journal (docs/pcscf.md "State"): memory is authoritative, the store (SQLite by default,
// PostgreSQL for pools) gets the changed bindings behind it, as rows, at most DBFlushInterval after they
// changed, from one goroutine that holds no lock of the registry while it writes. A clean stop writes what is
// left; a crash loses at most the last DBFlushInterval of changes. A start loads this node's rows and installs
// their SA sets again.

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/imscore/imscore/services/pcscf/bindings"
	"github.com/imscore/imscore/sip/ipsec"
	"github.com/imscore/imscore/storage"
)

// journalTimeout bounds one write of the journal.
const journalTimeout = 10 * time.Second

// openStore opens and migrates the database of Config.DB (or the one Config.Store gives), unless the bindings
// are kept in memory only.
func (n *Node) openStore() error {
	n.nodeID = n.cfg.nodeID()
	if n.cfg.Store != nil {
		n.store = n.cfg.Store
		return nil
	}
	dsn := n.cfg.dsn()
	if dsn == "" {
		return nil
	}
	kind, path, err := storage.ParseDSN(dsn)
	if err != nil {
		return fmt.Errorf("pcscf db: %w", err)
	}
	if kind == storage.KindSQLite {
		// The rows hold CK and IK (docs/security.md): the directory and the files are the P-CSCF's alone.
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return fmt.Errorf("pcscf db: %w", err)
		}
		if f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600); err == nil {
			f.Close()
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	db, err := storage.OpenAndMigrate(ctx, dsn, n.log.Named("db"))
	if err != nil {
		return fmt.Errorf("pcscf db: %w", err)
	}
	st, ok := db.(bindings.Store)
	if !ok {
		db.Close()
		return fmt.Errorf("pcscf db: backend %T cannot store bindings", db)
	}
	if kind == storage.KindSQLite {
		for _, f := range []string{path, path + "-wal", path + "-shm"} {
			if err := os.Chmod(f, 0o600); err != nil && !errors.Is(err, os.ErrNotExist) {
				n.log.Warn("restricting the database file failed: it holds SA keys", zap.String("file", f), zap.Error(err))
			}
		}
	}
	n.store, n.db = st, db
	return nil
}

func (n *Node) closeStore() {
	if n.db != nil {
		_ = n.db.Close()
		n.db = nil
	}
}

// journalWriter writes the changed bindings at most once per DBFlushInterval while changes come in.
func (n *Node) journalWriter() {
	for {
		select {
		case <-n.base.Done():
			return // Run writes once more after every goroutine stopped
		case <-n.journalKick:
		}
		if d := n.cfg.DBFlushInterval; d > 0 {
			select {
			case <-n.base.Done():
				return
			case <-time.After(d):
			}
		}
		n.flush()
	}
}

// flush writes the changes since the last write to the store in one transaction. A failed write keeps them for
// the next; a binding another P-CSCF of the pool took over (its row moved on) is let go here, SAs included.
func (n *Node) flush() {
	if n.store == nil {
		return
	}
	changes := n.regs.takeChanges()
	if len(changes) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), journalTimeout)
	defer cancel()
	outs, err := n.store.ApplyBindings(ctx, n.nodeID, changes)
	if err != nil {
		n.regs.giveBack(changes)
		n.log.Error("writing the bindings to the store failed; retried with the next change", zap.Int("bindings", len(changes)), zap.Error(err))
		n.kickLater()
		return
	}
	for _, b := range n.regs.settle(changes, outs) {
		n.log.Info("binding taken over by another P-CSCF of the pool", zap.String("impu", b.IMPU), zap.String("contact", b.Contact))
		n.dialogs.dropBinding(keyOf(b.IMPU, b.Contact))
		n.removeSAs(b.SAs)
	}
}

// kickLater asks for another write after a failed one, without a change to trigger it.
func (n *Node) kickLater() {
	select {
	case n.journalKick <- struct{}{}:
	default:
	}
}

// restore clears stale kernel state of a previous run, loads this node's bindings and installs their SA sets
// again (docs/design.md §1: a restart re-installs SAs); a JSON state file of an earlier P-CSCF is imported once.
func (n *Node) restore() error {
	var stored []bindings.Stored
	if n.store != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		var err error
		stored, err = n.store.LoadBindings(ctx, n.nodeID)
		cancel()
		if err != nil {
			return fmt.Errorf("pcscf: loading bindings: %w", err)
		}
	}
	legacy, err := legacyFile(n.cfg.StateFile)
	if err != nil {
		n.log.Warn("the state file of an earlier P-CSCF is unreadable: not imported", zap.Error(err))
	}
	for _, reg := range legacy {
		if reg.Contact == "" {
			reg.Contact = strings.ToLower("@" + reg.ContactHost + ":" + fmt.Sprint(reg.ContactPort))
		}
		stored = append(stored, bindings.Stored{Binding: reg})
	}
	if n.sas != nil {
		for _, ap := range n.core {
			if f, err := n.sas.Flush(ipsec.Filter{Addr: ap.Addr()}); err != nil {
				n.log.Warn("flushing stale SAs failed", zap.Error(err))
			} else if f.States+f.Policies > 0 {
				n.log.Info("removed stale SAs of a previous run", zap.Int("states", f.States), zap.Int("policies", f.Policies))
			}
		}
	}
	now := time.Now()
	restored, gone := 0, 0
	for _, st := range stored {
		reg := st.Binding
		var keep []SASet
		for _, sa := range reg.SAs {
			if n.sas == nil || !now.Before(sa.Expires) {
				continue
			}
			// Continue the outbound sequence numbers: the UE's SAs still hold their anti-replay windows.
			seq := uint32(min(uint64(sa.OutboundSeq)+restoreSeqMargin, 1<<32-1))
			if err := n.sas.Install(n.base, ipsec.SidePCSCF, sa.Pair, sa.Expires.Sub(now), ipsec.WithOutboundSeq(seq)); err != nil {
				n.log.Warn("re-installing SAs failed", zap.String("impu", reg.IMPU), zap.Error(err))
				continue
			}
			n.alloc.reserve(sa.Pair.UE.Addr, sa.Pair.PCSCF.PortC, sa.Pair.PCSCF.SPIC, sa.Pair.PCSCF.SPIS)
			sa.OutboundSeq = seq // a crash before the next clean stop restarts from here, plus the margin again
			keep = append(keep, sa)
			restored++
		}
		if (reg.SecAgree() && len(keep) == 0) || (!reg.Registered(now) && len(keep) == 0) {
			// Its SAs are gone or it expired while we were down: the UE must register again; the row goes.
			gone++
			if st.Version > 0 {
				n.regs.restore(reg, st.Version, false)
				n.regs.update(keyOf(reg.IMPU, reg.Contact), "", func(*Registration) bool { return false })
			}
			continue
		}
		changed := st.Version == 0 || len(keep) != len(reg.SAs) || len(keep) > 0
		reg.SAs = keep
		if reg.RegEvent != nil && now.Before(reg.RegEvent.Expires) {
			reg.RegEvent.IMPU, reg.RegEvent.Contact = reg.IMPU, reg.Contact
			n.subs.put(*reg.RegEvent)
		}
		n.regs.restore(reg, st.Version, changed)
	}
	if len(stored) > 0 {
		n.log.Info("restored bindings", zap.Int("stored", len(stored)), zap.Int("sa_sets", restored), zap.Int("ended", gone))
	}
	n.persist()
	n.flush() // the new sequence numbers, the import and the removals are in the store before we serve
	if len(legacy) > 0 && n.store != nil {
		if err := os.Rename(n.cfg.StateFile, n.cfg.StateFile+".imported"); err != nil {
			n.log.Warn("renaming the imported state file failed", zap.Error(err))
		} else {
			n.log.Info("imported the state file of an earlier P-CSCF into the store", zap.String("file", n.cfg.StateFile),
				zap.Int("bindings", len(legacy)))
		}
	}
	return nil
}
