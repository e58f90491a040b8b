package vmtest

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"path"
	"strings"
)

// cpioWriter writes the "newc" (SVR4, no CRC) cpio format that the Linux initramfs unpacker
// reads (Documentation/driver-api/early-userspace/buffer-format.rst): a 110-byte ASCII header
// per entry, the NUL-terminated name, the data, each padded to 4 bytes, then "TRAILER!!!".
// Parent directories are created on demand, so callers add files by their full path.
type cpioWriter struct {
	w    *bufio.Writer
	ino  uint32
	dirs map[string]bool
	err  error
}

// File mode type bits of the newc header (the same as st_mode).
const (
	modeDir     = 0o040000
	modeRegular = 0o100000
	modeSymlink = 0o120000
)

func newCPIOWriter(w io.Writer) *cpioWriter {
	return &cpioWriter{w: bufio.NewWriterSize(w, 1<<20), dirs: map[string]bool{"": true, ".": true}}
}

// clean turns a guest path into the relative form used in the archive ("usr/sbin/ip").
func clean(name string) string {
	return strings.TrimPrefix(path.Clean("/"+name), "/")
}

func (c *cpioWriter) header(name string, mode uint32, size int64) {
	if c.err != nil {
		return
	}
	if size > 0xffffffff {
		c.err = fmt.Errorf("cpio: %s is too large for newc (%d bytes)", name, size)
		return
	}
	c.ino++
	nlink := uint32(1)
	if mode&0o170000 == modeDir {
		nlink = 2
	}
	// magic, ino, mode, uid, gid, nlink, mtime, filesize, devmajor, devminor, rdevmajor,
	// rdevminor, namesize (with the NUL), check.
	_, c.err = fmt.Fprintf(c.w, "070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X",
		c.ino, mode, 0, 0, nlink, 0, uint32(size), 0, 0, 0, 0, len(name)+1, 0)
	if c.err != nil {
		return
	}
	c.write([]byte(name + "\x00"))
	c.pad(110 + int64(len(name)) + 1)
}

func (c *cpioWriter) write(b []byte) {
	if c.err == nil {
		_, c.err = c.w.Write(b)
	}
}

func (c *cpioWriter) pad(n int64) {
	if r := n % 4; r != 0 {
		c.write(make([]byte, 4-r))
	}
}

// mkdirAll adds every missing directory of dir, parents first.
func (c *cpioWriter) mkdirAll(dir string) {
	if c.dirs[dir] {
		return
	}
	c.mkdirAll(path.Dir(dir))
	c.header(dir, modeDir|0o755, 0)
	c.dirs[dir] = true
}

// Dir adds a directory (and its parents).
func (c *cpioWriter) Dir(name string) error {
	c.mkdirAll(clean(name))
	return c.err
}

// File adds a regular file of the given size, read from r.
func (c *cpioWriter) File(name string, perm uint32, size int64, r io.Reader) error {
	name = clean(name)
	c.mkdirAll(path.Dir(name))
	c.header(name, modeRegular|perm&0o7777, size)
	if c.err != nil {
		return c.err
	}
	n, err := io.CopyN(c.w, r, size)
	if err != nil {
		c.err = fmt.Errorf("cpio: %s: wrote %d of %d bytes: %w", name, n, size, err)
		return c.err
	}
	c.pad(size)
	return c.err
}

// Bytes adds a regular file with the given content.
func (c *cpioWriter) Bytes(name string, perm uint32, data []byte) error {
	return c.File(name, perm, int64(len(data)), bytes.NewReader(data))
}

// Symlink adds a symbolic link.
func (c *cpioWriter) Symlink(name, target string) error {
	name = clean(name)
	c.mkdirAll(path.Dir(name))
	c.header(name, modeSymlink|0o777, int64(len(target)))
	c.write([]byte(target))
	c.pad(int64(len(target)))
	return c.err
}

// Close writes the trailer and flushes. It does not close the underlying writer.
func (c *cpioWriter) Close() error {
	c.header("TRAILER!!!", 0, 0)
	if c.err != nil {
		return c.err
	}
	return c.w.Flush()
}
