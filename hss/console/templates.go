package console

import (
	"fmt"
	"html/template"
	"io/fs"
	"net/url"
	"strings"
	"time"
)

// pageNames are the page templates (templates/NAME.html), each rendered inside templates/layout.html.
var pageNames = []string{"login", "error", "health", "subscribers", "subscriber_new", "subscriber", "import",
	"registrations", "operations", "operation", "profiles", "profile", "network"}

var funcs = template.FuncMap{
	"trigger": triggerText,
	"join":    strings.Join,
	"joinu": func(v []uint32) string {
		s := make([]string, len(v))
		for i, n := range v {
			s[i] = fmt.Sprint(n)
		}
		return strings.Join(s, ", ")
	},
	"when": func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format("2006-01-02 15:04:05Z")
	},
	"num":  func(f float64) string { return strings.TrimSuffix(strings.TrimRight(fmt.Sprintf("%.3f", f), "0"), ".") },
	"path": url.PathEscape,
}

// parsePages parses every page with the layout.
func parsePages() (map[string]*template.Template, error) {
	out := map[string]*template.Template{}
	for _, name := range pageNames {
		t, err := template.New(name).Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("console: template %s: %w", name, err)
		}
		out[name] = t
	}
	if _, err := fs.Stat(staticFS, "static/console.css"); err != nil {
		return nil, fmt.Errorf("console: %w", err)
	}
	return out, nil
}
