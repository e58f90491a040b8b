package cli

import (
	"context"
	"fmt"
	"net/url"

	"go.uber.org/zap"

	"github.com/imscore/imscore/storage"
)

// migrate applies the schema migrations to a database directly, without an HSS: storage.Open, Migrate,
// and the schema version before and after. Nodes also migrate at start-up (storage.OpenAndMigrate); this
// is for operators who migrate ahead of a rolling upgrade or inspect the version.
func migrate(ctx context.Context, r *run, args []string) error {
	fs := r.flagSet("migrate")
	dsn := fs.String("db", "", "database: postgres://user:pass@host/db, sqlite://PATH or a file path (default "+storage.DefaultDSN+")")
	if err := parseNoArgs(fs, args); err != nil {
		return err
	}
	if *dsn == "" {
		*dsn = storage.DefaultDSN
	}
	db, err := storage.Open(ctx, *dsn, zap.NewNop())
	if err != nil {
		return err
	}
	defer db.Close()
	before, err := db.SchemaVersion(ctx)
	if err != nil {
		return fmt.Errorf("schema version of %s: %w", redactDSN(*dsn), err)
	}
	if err := db.Migrate(ctx); err != nil {
		return fmt.Errorf("migrate %s: %w", redactDSN(*dsn), err)
	}
	after, err := db.SchemaVersion(ctx)
	if err != nil {
		return fmt.Errorf("schema version of %s: %w", redactDSN(*dsn), err)
	}
	if err := db.Close(); err != nil {
		return fmt.Errorf("close %s: %w", redactDSN(*dsn), err)
	}
	if r.g.json {
		return r.printJSON(struct {
			DB     string `json:"db"`
			Before int    `json:"version_before"`
			After  int    `json:"version"`
		}{redactDSN(*dsn), before, after})
	}
	if before == after {
		fmt.Fprintf(r.env.Stdout, "%s: schema at version %d, nothing to do\n", redactDSN(*dsn), after)
		return nil
	}
	fmt.Fprintf(r.env.Stdout, "%s: schema migrated from version %d to %d\n", redactDSN(*dsn), before, after)
	return nil
}

// redactDSN hides the password of a URL DSN.
func redactDSN(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil || u.User == nil {
		return dsn
	}
	return u.Redacted()
}
