package cli

import (
	"bytes"
	"fmt"
	"io"
	"os"

	"github.com/imscore/imscore/hss/provision"
	"github.com/imscore/imscore/internal/progress"
)

// importPlainEvery is the lines between two plain progress lines when the input's size is unknown (a pipe).
const importPlainEvery = 100_000

// importProgress counts the lines of an import as the API reads them and shows them on stderr: a bar with the
// share of the file sent when its size is known (a file, or stdin redirected from one), else the lines sent.
type importProgress struct {
	r            io.Reader
	bar          *progress.Bar
	sized        bool
	bytes, lines int64
}

func newImportProgress(stderr io.Writer, in io.Reader) *importProgress {
	var size int64
	if f, ok := in.(interface{ Stat() (os.FileInfo, error) }); ok {
		if st, err := f.Stat(); err == nil && st.Mode().IsRegular() {
			size = st.Size()
		}
	}
	return &importProgress{r: in, sized: size > 0, bar: progress.New(stderr, "import", size, importPlainEvery)}
}

func (p *importProgress) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	p.bytes += int64(n)
	p.lines += int64(bytes.Count(b[:n], []byte{'\n'}))
	done := p.lines
	if p.sized {
		done = p.bytes
	}
	p.bar.Update(done, fmt.Sprintf("%d lines sent", p.lines))
	return n, err
}

// finish ends the bar with the API's count.
func (p *importProgress) finish(res *provision.ImportResult) {
	if res == nil {
		p.bar.Finish(fmt.Sprintf("%d lines sent", p.lines))
		return
	}
	p.bar.Finish(fmt.Sprintf("%d lines sent, %d imported, %d failed", p.lines, res.Imported, res.Failed))
}
