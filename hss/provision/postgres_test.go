package provision

import (
	"strings"
	"testing"
)

// The main flows again on PostgreSQL (pgtest: skipped without PostgreSQL unless CI=true).

func TestPostgresCreateGetDelete(t *testing.T) {
	e := newEnv(t, postgresStore(t), nil)
	t.Run("defaults", func(t *testing.T) { testCreateDefaults(t, e) })
	t.Run("get delete", func(t *testing.T) { testGetDelete(t, e) })
}

func TestPostgresListPaging(t *testing.T) { testListPaging(t, newEnv(t, postgresStore(t), nil)) }

func TestPostgresImport(t *testing.T) { testImport(t, newEnv(t, postgresStore(t), nil), 0, 20000) }

func TestPostgresProfileChangePushes(t *testing.T) {
	testProfileChangePushes(t, newEnv(t, postgresStore(t), &fakeNetwork{}))
}

func TestPostgresDeregister(t *testing.T) {
	net := &fakeNetwork{}
	e := newEnv(t, postgresStore(t), net)
	sub := e.createDefault("001010000000190", "15550000190")
	e.register(sub.IMPI, "tel:15550000190")
	var res DeregisterResult
	e.callJSON("POST", "/api/v1/subscribers/"+sub.IMPI+"/deregister?wait=true", `{"reason":"NEW_SERVER_ASSIGNED","impus":["tel:15550000190"]}`, 200, &res)
	deregs, _ := net.calls()
	if len(deregs) != 1 || deregs[0].IMPI != sub.IMPI || deregs[0].Reason.String() != "NEW_SERVER_ASSIGNED" ||
		strings.Join(deregs[0].IMPUs, ",") != "tel:15550000190" {
		t.Errorf("Deregister calls %+v", deregs)
	}
}
