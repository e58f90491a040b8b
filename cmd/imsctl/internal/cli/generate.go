package cli

import (
	"bufio"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/imscore/imscore/hss/provision"
)

// subscriberGenerate writes test subscribers as NDJSON, the input of subscriber import, for load tests:
//
//	imsctl subscriber generate --count 1000000 --imsi-start 001010000000001 --msisdn-start 15550000001 \
//	    --k HEX --op HEX | imsctl subscriber import -
//
// IMSI and MSISDN count up from their start values, keeping their width.
func subscriberGenerate(ctx context.Context, r *run, args []string) error {
	fs := r.flagSet("subscriber generate")
	var (
		count                  int
		imsiStart, msisdnStart string
		kf                     keyFlags
		password, profile      string
	)
	fs.IntVar(&count, "count", 0, "number of subscribers")
	fs.StringVar(&imsiStart, "imsi-start", "", "first IMSI")
	fs.StringVar(&msisdnStart, "msisdn-start", "", "first MSISDN")
	fs.StringVar(&password, "password", "", "SIP Digest password of every subscriber")
	fs.StringVar(&profile, "profile", "", "service profile of every subscriber")
	kf.bind(fs)
	if err := parseNoArgs(fs, args); err != nil {
		return err
	}
	if count < 1 {
		return usageError("--count: want at least 1")
	}
	imsi, err := counter("imsi-start", imsiStart, count)
	if err != nil {
		return err
	}
	msisdn, err := counter("msisdn-start", msisdnStart, count)
	if err != nil {
		return err
	}
	// Check the keys once here rather than have the import refuse every line.
	for _, k := range []struct{ name, v string }{{"k", kf.k}, {"op", kf.op}, {"opc", kf.opc}} {
		if k.v == "" {
			continue
		}
		if b, err := hex.DecodeString(k.v); err != nil || len(b) != 16 {
			return usageError("--%s: want 32 hex digits", k.name)
		}
	}
	if kf.k == "" || (kf.op == "") == (kf.opc == "") {
		return usageError("--k and one of --op, --opc are required")
	}
	if kf.amf != "" {
		if b, err := hex.DecodeString(kf.amf); err != nil || len(b) != 2 {
			return usageError("--amf: want 4 hex digits")
		}
	}
	w := bufio.NewWriterSize(r.env.Stdout, 1<<16)
	req := provision.SubscriberRequest{K: kf.k, OP: kf.op, OPc: kf.opc, AMF: kf.amf, StoreOPc: kf.storeOPc,
		Password: password, ProfileID: profile}
	for i := 0; i < count; i++ {
		if i%4096 == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		req.IMSI, req.MSISDN = imsi(i), msisdn(i)
		line, err := json.Marshal(req)
		if err != nil {
			return err
		}
		w.Write(line)
		if err := w.WriteByte('\n'); err != nil {
			return fmt.Errorf("write: %w", err)
		}
	}
	return w.Flush()
}

// counter returns the i-th number counting from start, zero-padded to the width of start; count values
// must fit that width.
func counter(flagName, start string, count int) (func(int) string, error) {
	if start == "" {
		return nil, usageError("--%s is required", flagName)
	}
	n, err := strconv.ParseUint(start, 10, 64)
	if err != nil || len(start) > 15 {
		return nil, usageError("--%s %q: want at most 15 digits", flagName, start)
	}
	width := len(start)
	last := strconv.FormatUint(n+uint64(count)-1, 10)
	if len(last) > width {
		return nil, usageError("--%s %s: %d values do not fit in %d digits", flagName, start, count, width)
	}
	format := "%0" + strconv.Itoa(width) + "d"
	return func(i int) string { return fmt.Sprintf(format, n+uint64(i)) }, nil
}
