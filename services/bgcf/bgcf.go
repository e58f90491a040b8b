package bgcf

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/emiago/sipgo/sip"
)

// ErrNoRoute means no table entry covers the number: the caller answers NoRouteCode (TS 24.229 §5.6.2).
var ErrNoRoute = errors.New("bgcf: no break-out for the number")

// Route is one entry of the break-out table.
type Route struct {
	// Prefix is the start of the E.164 numbers it covers, "+" and digits ("+44", "+4420"); "+" alone covers
	// every number (a default route). The longest matching prefix wins.
	Prefix string `yaml:"prefix"`
	// Gateway is the SIP URI of the PSTN gateway (MGCF) or trunk: "sip:mgcf.home.net;transport=tcp",
	// "sip:192.0.2.20:5070". The request keeps its Request-URI and gets this URI as a loose Route on top.
	Gateway string `yaml:"gateway"`
	// Name names the entry in logs and metrics. Default: the prefix.
	Name string `yaml:"name"`
}

// Config is the BGCF's table.
type Config struct {
	// Routes are the break-out entries.
	Routes []Route `yaml:"routes"`
	// NoRouteCode answers a number no entry covers: 404 (Not Found, the default) or 604 (Does Not Exist
	// Anywhere), TS 24.229 §5.6.2 leaves the choice to the operator.
	NoRouteCode int `yaml:"no_route_code"`
}

// DefaultNoRouteCode is Config.NoRouteCode's default.
const DefaultNoRouteCode = sip.StatusNotFound

// Validate reports every bad entry.
func (c Config) Validate() error {
	var errs []error
	seen := map[string]bool{}
	for i, r := range c.Routes {
		if err := checkPrefix(r.Prefix); err != nil {
			errs = append(errs, fmt.Errorf("bgcf: routes[%d]: %w", i, err))
		}
		if seen[r.Prefix] {
			errs = append(errs, fmt.Errorf("bgcf: routes[%d]: prefix %q listed twice", i, r.Prefix))
		}
		seen[r.Prefix] = true
		var u sip.Uri
		if err := sip.ParseUri(r.Gateway, &u); err != nil || (u.Scheme != "sip" && u.Scheme != "sips") || u.Host == "" {
			errs = append(errs, fmt.Errorf("bgcf: routes[%d]: gateway %q is no SIP URI", i, r.Gateway))
		}
	}
	switch c.NoRouteCode {
	case 0, sip.StatusNotFound, 604:
	default:
		errs = append(errs, fmt.Errorf("bgcf: no_route_code %d: want 404 or 604", c.NoRouteCode))
	}
	return errors.Join(errs...)
}

func checkPrefix(p string) error {
	if !strings.HasPrefix(p, "+") || len(p) > 16 {
		return fmt.Errorf("prefix %q: want + and at most 15 digits", p)
	}
	for _, c := range p[1:] {
		if c < '0' || c > '9' {
			return fmt.Errorf("prefix %q: want + and digits", p)
		}
	}
	return nil
}

// Table selects break-outs. It is immutable and safe for concurrent use.
type Table struct {
	routes      []entry // longest prefix first
	noRouteCode int
}

type entry struct {
	Route
	gateway sip.Uri
}

// New checks cfg and builds its table.
func New(cfg Config) (*Table, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	t := &Table{noRouteCode: cfg.NoRouteCode}
	if t.noRouteCode == 0 {
		t.noRouteCode = DefaultNoRouteCode
	}
	for _, r := range cfg.Routes {
		e := entry{Route: r}
		_ = sip.ParseUri(r.Gateway, &e.gateway) // checked by Validate
		if e.Name == "" {
			e.Name = r.Prefix
		}
		t.routes = append(t.routes, e)
	}
	slices.SortStableFunc(t.routes, func(a, b entry) int { return len(b.Prefix) - len(a.Prefix) })
	return t, nil
}

// Breakout is a selected break-out.
type Breakout struct {
	// Name is the entry's name; Gateway its URI (a fresh copy, with lr added for a loose Route).
	Name    string
	Gateway sip.Uri
}

// Select returns the break-out for an E.164 number ("+" and digits, visual separators allowed: RFC 3966
// §5.1.1), the entry with the longest matching prefix (TS 24.229 §5.6.2: the BGCF "shall select the network
// in which the interworking with the PSTN is to occur" from local policy). ErrNoRoute when none matches.
func (t *Table) Select(number string) (Breakout, error) {
	n := Normalize(number)
	if n == "" {
		return Breakout{}, fmt.Errorf("%q is no global number: %w", number, ErrNoRoute)
	}
	for _, e := range t.routes {
		if strings.HasPrefix(n, e.Prefix) {
			gw := *e.gateway.Clone()
			gw.UriParams = gw.UriParams.Clone()
			if gw.UriParams == nil {
				gw.UriParams = sip.NewParams()
			}
			if !gw.UriParams.Has("lr") {
				gw.UriParams.Add("lr", "")
			}
			return Breakout{Name: e.Name, Gateway: gw}, nil
		}
	}
	return Breakout{}, fmt.Errorf("%s: %w", n, ErrNoRoute)
}

// NoRouteCode is the status answered for a number no entry covers (404 or 604).
func (t *Table) NoRouteCode() int { return t.noRouteCode }

// Normalize is a global number without visual separators ("+44-20 7946.0000" → "+442079460000"), "" when s is
// no global number (RFC 3966 §5.1.4: "+" and 1 to 15 digits).
func Normalize(s string) string {
	if !strings.HasPrefix(s, "+") {
		return ""
	}
	b := make([]byte, 1, 16)
	b[0] = '+'
	for i := 1; i < len(s); i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9':
			b = append(b, c)
		case c == '-' || c == '.' || c == '(' || c == ')' || c == ' ':
		default:
			return ""
		}
	}
	if len(b) < 2 || len(b) > 16 {
		return ""
	}
	return string(b)
}
