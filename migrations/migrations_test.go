package migrations

import (
	"io/fs"
	"strings"
	"testing"
	"testing/fstest"
)

func TestLoadEmbedded(t *testing.T) {
	tests := []struct {
		name string
		fsys fs.FS
		dir  string
	}{
		{name: "postgres", fsys: Postgres, dir: "postgres"},
		{name: "sqlite", fsys: SQLite, dir: "sqlite"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ms, err := Load(tc.fsys, tc.dir)
			if err != nil {
				t.Fatal(err)
			}
			if ms[0].Version != 1 || ms[0].Name != "0001_hss.sql" || !strings.Contains(ms[0].SQL, "CREATE TABLE hss_impi") {
				t.Fatalf("first migration = %d %s, want 1 0001_hss.sql creating hss_impi", ms[0].Version, ms[0].Name)
			}
		})
	}
}

// Both backends must describe the same schema versions, or one of them lags behind.
func TestBackendsHaveSameVersions(t *testing.T) {
	pg, err := Load(Postgres, "postgres")
	if err != nil {
		t.Fatal(err)
	}
	lite, err := Load(SQLite, "sqlite")
	if err != nil {
		t.Fatal(err)
	}
	if len(pg) != len(lite) {
		t.Fatalf("postgres has %d migrations, sqlite %d", len(pg), len(lite))
	}
	for i := range pg {
		if pg[i].Name != lite[i].Name {
			t.Errorf("migration %d: postgres %s, sqlite %s", i+1, pg[i].Name, lite[i].Name)
		}
	}
}

func TestLoadRejects(t *testing.T) {
	tests := []struct {
		name string
		fsys fstest.MapFS
		want string
	}{
		{name: "no version", fsys: fstest.MapFS{"d/hss.sql": {Data: []byte("x")}}, want: "NNNN_name"},
		{name: "short version", fsys: fstest.MapFS{"d/1_hss.sql": {Data: []byte("x")}}, want: "NNNN_name"},
		{name: "gap", fsys: fstest.MapFS{"d/0001_a.sql": {}, "d/0003_c.sql": {}}, want: "want version 0002"},
		{name: "duplicate", fsys: fstest.MapFS{"d/0001_a.sql": {}, "d/0001_b.sql": {}}, want: "want version 0002"},
		{name: "empty", fsys: fstest.MapFS{"d/README": {}}, want: "no migrations"},
		{name: "missing dir", fsys: fstest.MapFS{}, want: "migrations d"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load(tc.fsys, "d")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Load = %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

func TestLoadOrders(t *testing.T) {
	fsys := fstest.MapFS{"d/0002_b.sql": {Data: []byte("B")}, "d/0001_a.sql": {Data: []byte("A")}, "d/notes.txt": {}}
	ms, err := Load(fsys, "d")
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 2 || ms[0].SQL != "A" || ms[1].SQL != "B" || ms[1].Version != 2 {
		t.Fatalf("Load = %+v, want 0001 A then 0002 B", ms)
	}
}
