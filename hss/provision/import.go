package provision

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/imscore/imscore/hss"
)

// Bulk import: POST /api/v1/subscribers:import with NDJSON, one SubscriberRequest per line.
//
// The body is streamed: a reader goroutine decodes and validates lines into batches, the handler's
// goroutine stores each batch with one Store.BulkCreate while the next is decoded. At most three
// batches are in memory whatever the size of the body. A batch the store refuses (a duplicate, a
// missing profile) is split in halves and retried until the refused lines are isolated, so that one
// bad line costs its own import only; lines refused by validation never reach the store.

// Import tuning.
const (
	// DefaultImportBatch subscribers are stored per BulkCreate unless ?batch= says otherwise.
	DefaultImportBatch = 5000
	// MaxImportBatch bounds ?batch=.
	MaxImportBatch = 100000
	// MaxImportErrors is how many failed lines the answer lists (all are counted).
	MaxImportErrors = 1000
	// maxImportLine is the longest line accepted; longer lines are reported and skipped.
	maxImportLine = 64 << 10
)

// importLine is a decoded, valid line waiting for the store.
type importLine struct {
	line int
	sub  hss.Subscriber
}

// importErrors keeps the count of failed lines and the first MaxImportErrors of them by line number.
type importErrors struct {
	failed int
	list   []ImportError
}

func (e *importErrors) add(ie ImportError) {
	e.failed++
	if len(e.list) < MaxImportErrors {
		e.list = append(e.list, ie)
	}
}

func lineError(line int, impi string, err error) ImportError {
	ae := errorOf(err)
	msg := ae.Error()
	if ae.Code == CodeInternal { // not expected here: BulkCreate failures that are not data errors abort
		msg = err.Error()
	}
	// "bulk create 1 subscribers: " says nothing about the line.
	if i := strings.Index(msg, "subscribers: "); i >= 0 && strings.HasPrefix(msg, "bulk create ") {
		msg = msg[i+len("subscribers: "):]
	}
	return ImportError{Line: line, IMPI: impi, Error: msg, Field: ae.Field, Code: ae.Code}
}

func (h *handler) importSubscribers(w http.ResponseWriter, r *http.Request) error {
	size := DefaultImportBatch
	if v := r.URL.Query().Get("batch"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > MaxImportBatch {
			return fieldError("batch", "%q: want 1 to %d", v, MaxImportBatch)
		}
		size = n
	}
	// A million lines take minutes: lift the server's read and write deadlines for this request.
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(time.Time{})
	_ = rc.SetWriteDeadline(time.Time{})

	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	start := time.Now()
	batches := make(chan []importLine, 1)
	var (
		wg      sync.WaitGroup
		lines   int
		badRead importErrors
		readErr error
	)
	// The reader is owned by this handler: it ends at the end of the body, on a read error, or when ctx
	// is cancelled (and the read deadline below unblocks a read that waits for a stalled client).
	wg.Go(func() {
		defer close(batches)
		lines, readErr = h.readImport(ctx, r.Body, size, batches, &badRead)
	})

	var (
		res      ImportResult
		badStore importErrors
		storeErr error
		stopOnce sync.Once
		stopRead = func() { stopOnce.Do(func() { cancel(); _ = rc.SetReadDeadline(time.Now()) }) }
	)
	for batch := range batches {
		if storeErr != nil {
			continue // drain: the reader stops at its next send
		}
		if storeErr = h.ensureDefaultProfile(ctx, subsOf(batch)); storeErr != nil {
			stopRead()
			continue
		}
		n, err := h.storeBatch(ctx, batch, &badStore)
		res.Imported += n
		if err != nil {
			storeErr = err
			stopRead()
		}
	}
	wg.Wait()

	res.Lines = lines
	res.Failed = badRead.failed + badStore.failed
	res.Errors = append(badRead.list, badStore.list...)
	sort.Slice(res.Errors, func(i, j int) bool { return res.Errors[i].Line < res.Errors[j].Line })
	if len(res.Errors) > MaxImportErrors {
		res.Errors = res.Errors[:MaxImportErrors]
	}
	res.ErrorsTruncated = res.Failed > len(res.Errors)
	noteAudit(r, func(n *auditNote) { n.imported, n.failed = res.Imported, res.Failed })

	status := http.StatusOK
	switch {
	case storeErr != nil:
		e := errorOf(storeErr)
		status, res.Error, res.Code = e.Status, e.Message, e.Code
		h.log.Error("import stopped by a storage failure", zap.Int("imported", res.Imported), zap.Error(storeErr))
	case readErr != nil:
		status, res.Error, res.Code = http.StatusBadRequest, "read body: "+readErr.Error(), CodeInvalidJSON
	}
	h.log.Info("subscribers imported", zap.Int("lines", res.Lines), zap.Int("imported", res.Imported),
		zap.Int("failed", res.Failed), zap.Duration("duration", time.Since(start)))
	writeJSON(w, status, res)
	return nil
}

// readImport decodes body line by line into batches of size valid subscribers sent on out; invalid lines
// go to bad. It returns the number of lines read and the read error, if the body did not end cleanly.
func (h *handler) readImport(ctx context.Context, body io.Reader, size int, out chan<- []importLine,
	bad *importErrors) (int, error) {
	br := bufio.NewReaderSize(body, maxImportLine)
	batch := make([]importLine, 0, size)
	send := func() bool {
		if len(batch) == 0 {
			return true
		}
		select {
		case out <- batch:
			batch = make([]importLine, 0, size)
			return true
		case <-ctx.Done():
			return false
		}
	}
	n := 0
	for {
		line, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			n++
			bad.add(ImportError{Line: n, Error: fmt.Sprintf("line longer than %d bytes", maxImportLine),
				Code: CodeTooLarge})
			for errors.Is(err, bufio.ErrBufferFull) { // skip the rest of the line
				_, err = br.ReadSlice('\n')
			}
			if err == io.EOF {
				break
			}
			if err != nil {
				return n, err
			}
			continue
		}
		if err != nil && err != io.EOF {
			// A read that failed mid-line (the client went away, or the deadline set to stop this
			// reader) leaves a fragment: not a line to report.
			return n, err
		}
		if len(line) > 0 {
			n++
			if len(bytes.TrimSpace(line)) > 0 {
				sub, derr := decodeSubscriberLine(line, h.domain)
				if derr != nil {
					bad.add(lineError(n, sub.Private.IMPI, derr))
				} else {
					batch = append(batch, importLine{line: n, sub: sub})
				}
			}
		}
		if err == io.EOF {
			break
		}
		if len(batch) == size && !send() {
			return n, ctx.Err()
		}
	}
	if !send() {
		return n, ctx.Err()
	}
	return n, nil
}

func subsOf(batch []importLine) []hss.Subscriber {
	subs := make([]hss.Subscriber, len(batch))
	for i := range batch {
		subs[i] = batch[i].sub
	}
	return subs
}

// dataError reports whether err is the store refusing the data (rather than failing): only then is a
// batch split to find the lines responsible.
func dataError(err error) bool {
	return errors.Is(err, hss.ErrAlreadyExists) || errors.Is(err, hss.ErrConflict) ||
		errors.Is(err, hss.ErrInvalid) || errors.Is(err, hss.ErrNotFound)
}

// storeBatch stores batch with BulkCreate; when the store refuses it, it bisects until the refused
// lines are isolated and reported in bad. It returns how many subscribers were stored and the first
// error that is not the data's fault (which stops the import).
func (h *handler) storeBatch(ctx context.Context, batch []importLine, bad *importErrors) (int, error) {
	err := h.store.BulkCreate(ctx, subsOf(batch))
	switch {
	case err == nil:
		return len(batch), nil
	case ctx.Err() != nil:
		return 0, ctx.Err()
	case !dataError(err):
		return 0, err
	case len(batch) == 1:
		bad.add(lineError(batch[0].line, batch[0].sub.Private.IMPI, err))
		return 0, nil
	}
	mid := len(batch) / 2
	n1, err := h.storeBatch(ctx, batch[:mid], bad)
	if err != nil {
		return n1, err
	}
	n2, err := h.storeBatch(ctx, batch[mid:], bad)
	return n1 + n2, err
}
