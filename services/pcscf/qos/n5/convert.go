package n5

import (
	"strconv"

	"github.com/imscore/imscore/diameter/rx"
)

// FromRx gives the N5 media components of the Rx ones the AF derives from SDP: TS 29.514 §5.6.2.7
// carries the same information as TS 29.214 §5.3.16 (TS 29.513 §7 maps them), with bit rates as
// TS 29.571 BitRate strings and enumerations by name.
func FromRx(mcds []rx.MediaComponentDescription) map[string]MediaComponent {
	if len(mcds) == 0 {
		return nil
	}
	out := make(map[string]MediaComponent, len(mcds))
	for _, m := range mcds {
		c := MediaComponent{MedCompN: int(m.Number), MarBwUl: bitRate(m.MaxRequestedBandwidthUL),
			MarBwDl: bitRate(m.MaxRequestedBandwidthDL), MirBwUl: bitRate(m.MinRequestedBandwidthUL),
			MirBwDl: bitRate(m.MinRequestedBandwidthDL), RsBw: bitRate(m.RSBandwidth), RrBw: bitRate(m.RRBandwidth)}
		if m.MediaType != nil {
			c.MedType = m.MediaType.String() // AUDIO, VIDEO, … OTHER: the same names in both
		}
		if m.FlowStatus != nil {
			c.FStatus = m.FlowStatus.String()
		}
		for _, cd := range m.CodecData {
			c.Codecs = append(c.Codecs, string(cd))
		}
		for _, s := range m.SubComponents {
			if c.MedSubComps == nil {
				c.MedSubComps = map[string]MediaSubComponent{}
			}
			sc := MediaSubComponent{FNum: int(s.FlowNumber), FDescs: s.FlowDescriptions}
			if s.FlowStatus != nil {
				sc.FStatus = s.FlowStatus.String()
			}
			if s.FlowUsage != nil {
				sc.FlowUsage = map[rx.FlowUsage]string{rx.FlowUsageNoInformation: "NO_INFO", rx.FlowUsageRTCP: "RTCP",
					rx.FlowUsageAFSignalling: "AF_SIGNALLING"}[*s.FlowUsage]
			}
			if s.AFSignallingProtocol != nil {
				sc.AfSigProtocol = s.AFSignallingProtocol.String() // NO_INFORMATION or SIP
			}
			c.MedSubComps[strconv.Itoa(sc.FNum)] = sc
		}
		out[strconv.Itoa(c.MedCompN)] = c
	}
	return out
}

func bitRate(v *uint32) string {
	if v == nil {
		return ""
	}
	return strconv.FormatUint(uint64(*v), 10) + " bps"
}
