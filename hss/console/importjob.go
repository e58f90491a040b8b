package console

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/imscore/imscore/hss/provision"
)

// Bulk import: an NDJSON file (one SubscriberRequest per line, the format of `imsctl subscriber import`) is
// sent to POST /api/v1/subscribers:import in chunks of importChunk lines, so that the page can show a
// progress bar: the import runs in the background, owned by the Console, and the page reads its progress.

const (
	// importChunk is the lines per API call.
	importChunk = 200
	// maxImportBody bounds an uploaded file.
	maxImportBody = 64 << 20
	// maxImportErrors is the failed lines kept for the page.
	maxImportErrors = 50
	// maxJobs is the imports kept (finished ones are dropped oldest first).
	maxJobs = 20
)

// importProgress is where an import stands.
type importProgress struct {
	ID       string                  `json:"id"`
	Account  string                  `json:"account"`
	Lines    int                     `json:"lines"`
	Done     int                     `json:"done"`
	Imported int                     `json:"imported"`
	Failed   int                     `json:"failed"`
	Errors   []provision.ImportError `json:"errors,omitempty"`
	Finished bool                    `json:"finished"`
	Error    string                  `json:"error,omitempty"`
	Started  time.Time               `json:"started"`
}

// Percent is the share of lines sent.
func (p importProgress) Percent() int {
	if p.Lines == 0 {
		return 100
	}
	return p.Done * 100 / p.Lines
}

// importJob is one import in the background.
type importJob struct {
	mu sync.Mutex
	p  importProgress
}

func (j *importJob) snapshot() importProgress {
	j.mu.Lock()
	defer j.mu.Unlock()
	s := j.p
	s.Errors = append([]provision.ImportError(nil), j.p.Errors...)
	return s
}

// imports owns the running imports: close cancels them and waits.
type imports struct {
	api    API
	log    *zap.Logger
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu    sync.Mutex
	jobs  map[string]*importJob
	order []string
	seq   int
}

func newImports(api API, log *zap.Logger) *imports {
	ctx, cancel := context.WithCancel(context.Background())
	return &imports{api: api, log: log, ctx: ctx, cancel: cancel, jobs: map[string]*importJob{}}
}

func (im *imports) close() {
	im.cancel()
	im.wg.Wait()
}

func (im *imports) get(id string) (*importJob, bool) {
	im.mu.Lock()
	defer im.mu.Unlock()
	j, ok := im.jobs[id]
	return j, ok
}

// start splits data into lines and imports them in the background.
func (im *imports) start(account string, data []byte) (*importJob, error) {
	lines := bytes.SplitAfter(data, []byte("\n"))
	if n := len(lines); n > 0 && len(bytes.TrimSpace(lines[n-1])) == 0 {
		lines = lines[:n-1]
	}
	if len(lines) == 0 {
		return nil, badField("file", "the file is empty: want one JSON subscriber per line")
	}
	im.mu.Lock()
	im.seq++
	j := &importJob{p: importProgress{ID: fmt.Sprintf("%d", im.seq), Account: account, Lines: len(lines), Started: time.Now()}}
	im.jobs[j.p.ID] = j
	im.order = append(im.order, j.p.ID)
	for len(im.order) > maxJobs {
		delete(im.jobs, im.order[0])
		im.order = im.order[1:]
	}
	im.mu.Unlock()
	im.wg.Go(func() { im.run(j, lines) })
	return j, nil
}

func (im *imports) run(j *importJob, lines [][]byte) {
	defer func() {
		j.mu.Lock()
		j.p.Finished = true
		j.mu.Unlock()
		s := j.snapshot()
		im.log.Info("import finished", zap.String("account", s.Account), zap.String("import", s.ID), zap.Int("lines", s.Lines),
			zap.Int("imported", s.Imported), zap.Int("failed", s.Failed), zap.String("error", s.Error))
	}()
	for off := 0; off < len(lines); off += importChunk {
		end := min(off+importChunk, len(lines))
		res, err := im.api.Import(im.ctx, bytes.NewReader(bytes.Join(lines[off:end], nil)), 0)
		j.mu.Lock()
		if res != nil {
			j.p.Imported += res.Imported
			j.p.Failed += res.Failed
			for _, e := range res.Errors {
				if len(j.p.Errors) < maxImportErrors {
					e.Line += off
					j.p.Errors = append(j.p.Errors, e)
				}
			}
		}
		j.p.Done = end
		if err != nil {
			j.p.Error = err.Error()
			j.mu.Unlock()
			return
		}
		j.mu.Unlock()
	}
}

type importData struct {
	Job *importProgress
}

func (c *Console) importPage(r *http.Request, v *view) (string, error) {
	v.Title = "Import subscribers"
	v.Data = &importData{}
	return "import", nil
}

func (c *Console) startImport(r *http.Request, v *view) (string, error) {
	file, _, err := r.FormFile("file")
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return "", badField("file", "over %d MiB: split it or use imsctl subscriber import", maxImportBody>>20)
		}
		return "", badField("file", "choose an NDJSON file (one subscriber per line)")
	}
	defer file.Close()
	data, err := io.ReadAll(file)
	if err != nil {
		return "", badField("file", "read: %v", err)
	}
	if sc := bufio.NewScanner(bytes.NewReader(data)); sc.Scan() {
		if first := strings.TrimSpace(sc.Text()); first != "" && !json.Valid([]byte(first)) {
			return "", badField("file", "line 1 is not JSON: want one subscriber object per line (imsctl subscriber generate writes them)")
		}
	}
	j, err := c.imports.start(v.Account, data)
	if err != nil {
		return "", err
	}
	return "/import/" + j.p.ID, nil
}

// importStatus is the import's page (a progress bar the script updates) or, with ?format=json, its progress.
func (c *Console) importStatus(r *http.Request, v *view) (string, error) {
	j, ok := c.imports.get(r.PathValue("id"))
	if !ok {
		return "error", &provision.Error{Status: http.StatusNotFound, Code: provision.CodeNotFound, Message: "no such import (the console keeps the last 20)"}
	}
	s := j.snapshot()
	v.Title = "Import " + s.ID
	v.Data = &importData{Job: &s}
	if r.URL.Query().Get("format") == "json" {
		return "json", nil
	}
	return "import", nil
}
