package peer

import (
	"bytes"
	"errors"
	"io"
	"testing"
)

func TestReadFrame(t *testing.T) {
	dwr := frameRaw(flagRequest, cmdDeviceWatchdog, 0, 1, 2, identityAVP(avpOriginHost, "a.test"))
	tests := []struct {
		name      string
		in        []byte
		max       int
		want      [][]byte
		wantErr   error // checked with errors.Is, after the frames in want
		wantFrame bool  // a *frameError is expected
	}{
		{name: "one frame", in: dwr, max: 4096, want: [][]byte{dwr}, wantErr: io.EOF},
		{name: "two frames back to back", in: append(append([]byte{}, dwr...), dwr...), max: 4096, want: [][]byte{dwr, dwr}, wantErr: io.EOF},
		{name: "empty stream", in: nil, max: 4096, wantErr: io.EOF},
		{name: "partial header", in: dwr[:7], max: 4096, wantErr: io.ErrUnexpectedEOF},
		{name: "truncated body", in: dwr[:len(dwr)-3], max: 4096, wantErr: io.ErrUnexpectedEOF},
		// RFC 6733 §3: the length covers the 20-octet header at least.
		{name: "length below header", in: append([]byte{1, 0, 0, 12}, dwr[4:]...), max: 4096, wantFrame: true},
		{name: "length zero", in: append([]byte{1, 0, 0, 0}, dwr[4:]...), max: 4096, wantFrame: true},
		{name: "length over limit", in: append([]byte{1, 0x10, 0, 0}, dwr[4:]...), max: 4096, wantFrame: true},
		// Not a multiple of 4 and version 2 are judged later, on the whole frame: framing holds.
		{name: "length not multiple of 4 still framed", in: append([]byte{1, 0, 0, 21}, append(dwr[4:20:20], 0xaa)...), max: 4096,
			want: [][]byte{append([]byte{1, 0, 0, 21}, append(dwr[4:20:20], 0xaa)...)}, wantErr: io.EOF},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := bytes.NewReader(tt.in)
			for i, want := range tt.want {
				got, err := readFrame(r, tt.max)
				if err != nil {
					t.Fatalf("frame %d: %v", i, err)
				}
				if !bytes.Equal(got, want) {
					t.Fatalf("frame %d:\n got %s\nwant %s", i, hexdump(got), hexdump(want))
				}
			}
			_, err := readFrame(r, tt.max)
			var fe *frameError
			switch {
			case tt.wantFrame && !errors.As(err, &fe):
				t.Fatalf("want *frameError, got %v", err)
			case !tt.wantFrame && !errors.Is(err, tt.wantErr):
				t.Fatalf("want %v, got %v", tt.wantErr, err)
			}
		})
	}
}

func TestFrameErrorKeepsHeader(t *testing.T) {
	in := frameRaw(flagRequest|flagProxiable, cmdEcho, echoApp, 0x11223344, 0x55667788)
	in[1], in[2], in[3] = 0xff, 0xff, 0xff // 16 MiB - 1
	_, err := readFrame(bytes.NewReader(in), 4096)
	var fe *frameError
	if !errors.As(err, &fe) {
		t.Fatalf("want *frameError, got %v", err)
	}
	// The header is all an answer needs: command, application, identifiers, flags.
	if fe.hdr.code != cmdEcho || fe.hdr.app != echoApp || fe.hdr.hbh != 0x11223344 || fe.hdr.e2e != 0x55667788 || !fe.hdr.isRequest() {
		t.Fatalf("header not kept: %+v", fe.hdr)
	}
}
