package console

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/imscore/imscore/hss"
	"github.com/imscore/imscore/hss/provision"
)

// The network page: the S-CSCFs the HSS offers the I-CSCF, with their capabilities (TS 29.228 §6.7), and
// the default charging function addresses (TS 29.228 §6.1.2, Charging-Information).

type networkData struct {
	SCSCFs []provision.SCSCF
}

func (c *Console) network(r *http.Request, v *view) (string, error) {
	v.Title = "S-CSCFs and charging"
	d := &networkData{}
	v.Data = d
	var err error
	d.SCSCFs, err = c.api.ListSCSCFs(r.Context())
	return "network", err
}

// capabilities reads a list of capability numbers (unsigned 32-bit) from a form field.
func capabilities(field, s string) ([]uint32, error) {
	var out []uint32
	for _, f := range list(s) {
		n, err := strconv.ParseUint(f, 10, 32)
		if err != nil {
			return nil, badField(field, "%q: want capability numbers (0 to 4294967295), separated by commas", f)
		}
		out = append(out, uint32(n))
	}
	return out, nil
}

func (c *Console) putSCSCF(r *http.Request, v *view) (string, error) {
	s := provision.SCSCF{Name: strings.TrimSpace(r.PostFormValue("name"))}
	var err error
	if s.Capabilities.Mandatory, err = capabilities("mandatory", r.PostFormValue("mandatory")); err != nil {
		return "", err
	}
	if s.Capabilities.Optional, err = capabilities("optional", r.PostFormValue("optional")); err != nil {
		return "", err
	}
	if _, err := c.api.PutSCSCF(r.Context(), s); err != nil {
		return "", err
	}
	return "/network?notice=scscf", nil
}

func (c *Console) deleteSCSCF(r *http.Request, v *view) (string, error) {
	if err := c.api.DeleteSCSCF(r.Context(), r.PostFormValue("name")); err != nil {
		return "", err
	}
	return "/network?notice=deleted", nil
}

func (c *Console) putCharging(r *http.Request, v *view) (string, error) {
	f := func(k string) string { return strings.TrimSpace(r.PostFormValue(k)) }
	ci := hss.ChargingInfo{PrimaryCCF: f("primary_ccf"), SecondaryCCF: f("secondary_ccf"), PrimaryECF: f("primary_ecf"),
		SecondaryECF: f("secondary_ecf")}
	if err := c.api.SetDefaultCharging(r.Context(), ci); err != nil {
		return "", err
	}
	return "/network?notice=charging", nil
}
