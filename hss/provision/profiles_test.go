package provision

import (
	"encoding/json"
	"os"
	"reflect"
	"testing"

	"github.com/imscore/imscore/hss"
	"github.com/imscore/imscore/hss/hsstest"
)

// goldProfile is a profile with two iFCs covering most of TS 29.228 Annex B, written as the API's JSON.
func goldProfile() Profile {
	media := int32(1)
	return Profile{
		ID:                       "gold",
		SubscribedMediaProfileID: &media,
		IFCs: []IFC{
			{
				Priority: 0,
				TriggerPoint: &TriggerPoint{SPTs: []SPT{{Group: []int32{0}, Method: "REGISTER",
					RegistrationTypes: []string{"INITIAL_REGISTRATION", "DE-REGISTRATION"}}}},
				ApplicationServer: ApplicationServer{ServerName: "sip:tas.ims.mnc001.mcc001.3gppnetwork.org:5065",
					DefaultHandling: "SESSION_CONTINUED", ServiceInfo: "registration-notify", IncludeRegisterRequest: true},
				ProfilePartIndicator: "REGISTERED",
			},
			{
				Priority: 10,
				TriggerPoint: &TriggerPoint{ConditionTypeCNF: true, SPTs: []SPT{
					{Group: []int32{0}, Method: "INVITE"},
					{Group: []int32{1}, SessionCase: "ORIGINATING_REGISTERED"},
					{Group: []int32{2}, ConditionNegated: true, SIPHeader: &hss.HeaderMatch{Header: "X-Bypass-AS"}},
					{Group: []int32{3}, SessionDescription: &hss.SDPLineMatch{Line: "m", Content: "audio"}},
					{Group: []int32{3}, RequestURI: "sip:.*@ims"},
				}},
				ApplicationServer: ApplicationServer{ServerName: "sip:mmtel.ims", DefaultHandling: "SESSION_TERMINATED",
					IncludeRegisterResponse: true},
			},
		},
	}
}

func TestProfilesCRUD(t *testing.T) {
	e := newEnv(t, sqliteStore(t), nil)
	ctx := testCtx(t)
	gold := goldProfile()
	created, err := e.client.CreateProfile(ctx, gold)
	if err != nil {
		t.Fatal(err)
	}
	if created.CreatedAt.IsZero() {
		t.Error("created_at missing")
	}
	created.CreatedAt, created.UpdatedAt = gold.CreatedAt, gold.UpdatedAt
	if !reflect.DeepEqual(*created, gold) {
		t.Errorf("created =\n%+v\nwant\n%+v", *created, gold)
	}
	// The store holds the model of hsstest.Profile: the JSON names map onto TS 29.228 values.
	stored, err := e.store.GetServiceProfile(ctx, "gold")
	if err != nil {
		t.Fatal(err)
	}
	want := hsstest.Profile("gold")
	if !reflect.DeepEqual(stored.IFCs[0], want.IFCs[0]) {
		t.Errorf("stored iFC 0 =\n%+v\nwant\n%+v", stored.IFCs[0], want.IFCs[0])
	}
	if sc := stored.IFCs[1].TriggerPoint.SPTs[1].SessionCase; sc == nil || *sc != hss.SessionOriginating {
		t.Errorf("session case = %v", sc)
	}
	if stored.IFCs[1].ApplicationServer.DefaultHandling != hss.SessionTerminated {
		t.Error("default handling not SESSION_TERMINATED")
	}

	_, err = e.client.CreateProfile(ctx, gold)
	wantAPIError(t, err, 409, CodeAlreadyExists, "")
	list, err := e.client.ListProfiles(ctx)
	if err != nil || len(list) != 1 || list[0].ID != "gold" {
		t.Errorf("list = %+v, %v", list, err)
	}
	gold.IFCs = gold.IFCs[1:]
	updated, err := e.client.UpdateProfile(ctx, gold)
	if err != nil || len(updated.IFCs) != 1 || updated.ProfilePush != nil {
		t.Errorf("update = %+v, %v", updated, err)
	}
	_, err = e.client.UpdateProfile(ctx, Profile{ID: "none", IFCs: []IFC{}})
	wantAPIError(t, err, 404, CodeNotFound, "")
	_, err = e.client.GetProfile(ctx, "none")
	wantAPIError(t, err, 404, CodeNotFound, "")

	// In use: not deleted.
	if _, err := e.client.CreateSubscriber(ctx, SubscriberRequest{IMSI: "001010000000170", MSISDN: "15550000170",
		K: testK, OP: testOP, ProfileID: "gold"}); err != nil {
		t.Fatal(err)
	}
	wantAPIError(t, e.client.DeleteProfile(ctx, "gold"), 409, CodeConflict, "")
	if _, err := e.client.DeleteSubscriber(ctx, "001010000000170@"+domain); err != nil {
		t.Fatal(err)
	}
	if err := e.client.DeleteProfile(ctx, "gold"); err != nil {
		t.Fatal(err)
	}
	wantAPIError(t, e.client.DeleteProfile(ctx, "gold"), 404, CodeNotFound, "")

	// A reference to a missing shared iFC set.
	_, err = e.client.CreateProfile(ctx, Profile{ID: "x", IFCs: []IFC{}, SharedIFCSetIDs: []int32{99}})
	wantAPIError(t, err, 409, CodeConflict, "shared_ifc_set_ids")
	var mismatch Error
	e.callJSON("PUT", "/api/v1/profiles/gold", `{"id":"silver","ifcs":[]}`, 400, &mismatch)
	if mismatch.Field != "id" {
		t.Errorf("id mismatch: %+v", mismatch)
	}
}

func TestProfileInvalid(t *testing.T) {
	e := newEnv(t, sqliteStore(t), nil)
	tests := []struct {
		name  string
		body  string
		field string
	}{
		{"no id", `{"ifcs":[]}`, "id"},
		{"no server name", `{"id":"p","ifcs":[{"priority":1,"application_server":{}}]}`, "ifcs[0].application_server.server_name"},
		{"bad default handling", `{"id":"p","ifcs":[{"priority":1,"application_server":{"server_name":"sip:as","default_handling":"RETRY"}}]}`,
			"ifcs[0].application_server.default_handling"},
		{"duplicate priority", `{"id":"p","ifcs":[{"priority":1,"application_server":{"server_name":"sip:as"}},{"priority":1,"application_server":{"server_name":"sip:as"}}]}`,
			"ifcs[1].priority"},
		{"bad profile part", `{"id":"p","ifcs":[{"priority":1,"profile_part_indicator":"SOMETIMES","application_server":{"server_name":"sip:as"}}]}`,
			"ifcs[0].profile_part_indicator"},
		{"empty trigger point", `{"id":"p","ifcs":[{"priority":1,"trigger_point":{"spt":[]},"application_server":{"server_name":"sip:as"}}]}`,
			"ifcs[0].trigger_point.spt"},
		{"two conditions", `{"id":"p","ifcs":[{"priority":1,"trigger_point":{"spt":[{"group":[0],"method":"INVITE","request_uri":"x"}]},"application_server":{"server_name":"sip:as"}}]}`,
			"ifcs[0].trigger_point.spt[0]"},
		{"no group", `{"id":"p","ifcs":[{"priority":1,"trigger_point":{"spt":[{"method":"INVITE"}]},"application_server":{"server_name":"sip:as"}}]}`,
			"ifcs[0].trigger_point.spt[0].group"},
		{"bad session case", `{"id":"p","ifcs":[{"priority":1,"trigger_point":{"spt":[{"group":[0],"session_case":"SIDEWAYS"}]},"application_server":{"server_name":"sip:as"}}]}`,
			"ifcs[0].trigger_point.spt[0].session_case"},
		{"registration type on invite", `{"id":"p","ifcs":[{"priority":1,"trigger_point":{"spt":[{"group":[0],"method":"INVITE","registration_types":["INITIAL_REGISTRATION"]}]},"application_server":{"server_name":"sip:as"}}]}`,
			"ifcs[0].trigger_point.spt[0].registration_types"},
		{"bad registration type", `{"id":"p","ifcs":[{"priority":1,"trigger_point":{"spt":[{"group":[0],"method":"REGISTER","registration_types":["RE-REGISTRATION","X"]}]},"application_server":{"server_name":"sip:as"}}]}`,
			"ifcs[0].trigger_point.spt[0].registration_types[1]"},
		{"empty header name", `{"id":"p","ifcs":[{"priority":1,"trigger_point":{"spt":[{"group":[0],"sip_header":{"header":""}}]},"application_server":{"server_name":"sip:as"}}]}`,
			"ifcs[0].trigger_point.spt[0].sip_header.header"},
		{"priority as string", `{"id":"p","ifcs":[{"priority":"1","application_server":{"server_name":"sip:as"}}]}`,
			"ifcs.priority"},
		{"shared set twice", `{"id":"p","ifcs":[],"shared_ifc_set_ids":[1,1]}`, "shared_ifc_set_ids[1]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got Error
			e.callJSON("POST", "/api/v1/profiles", tt.body, 400, &got)
			if got.Field != tt.field || got.Code != CodeInvalidField {
				t.Errorf("error %+v, want field %s", got, tt.field)
			}
		})
	}
}

func TestIFCSetsCRUD(t *testing.T) {
	e := newEnv(t, sqliteStore(t), nil)
	ctx := testCtx(t)
	ifcs := goldProfile().IFCs
	created, err := e.client.CreateIFCSet(ctx, IFCSet{ID: 3, IFCs: ifcs})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(created.IFCs, ifcs) || created.ID != 3 {
		t.Errorf("created %+v", created)
	}
	_, err = e.client.CreateIFCSet(ctx, IFCSet{ID: 3, IFCs: ifcs})
	wantAPIError(t, err, 409, CodeAlreadyExists, "")
	if _, err := e.client.CreateProfile(ctx, Profile{ID: "p", IFCs: []IFC{}, SharedIFCSetIDs: []int32{3}}); err != nil {
		t.Fatal(err)
	}
	wantAPIError(t, e.client.DeleteIFCSet(ctx, 3), 409, CodeConflict, "")
	got, err := e.client.UpdateIFCSet(ctx, IFCSet{ID: 3, IFCs: ifcs[:1]})
	if err != nil || len(got.IFCs) != 1 || got.ProfilePush != nil {
		t.Errorf("update %+v %v", got, err)
	}
	if g, err := e.client.GetIFCSet(ctx, 3); err != nil || len(g.IFCs) != 1 {
		t.Errorf("get %+v %v", g, err)
	}
	if l, err := e.client.ListIFCSets(ctx); err != nil || len(l) != 1 {
		t.Errorf("list %+v %v", l, err)
	}
	if err := e.client.DeleteProfile(ctx, "p"); err != nil {
		t.Fatal(err)
	}
	if err := e.client.DeleteIFCSet(ctx, 3); err != nil {
		t.Fatal(err)
	}
	_, err = e.client.GetIFCSet(ctx, 3)
	wantAPIError(t, err, 404, CodeNotFound, "")
	_, err = e.client.UpdateIFCSet(ctx, IFCSet{ID: 3, IFCs: ifcs})
	wantAPIError(t, err, 404, CodeNotFound, "")
	var bad Error
	e.callJSON("GET", "/api/v1/ifc-sets/abc", "", 400, &bad)
	if bad.Field != "id" {
		t.Errorf("bad id: %+v", bad)
	}
	e.callJSON("PUT", "/api/v1/ifc-sets/4", `{"id":5,"ifcs":[]}`, 400, &bad)
	if bad.Field != "id" {
		t.Errorf("id mismatch: %+v", bad)
	}
}

func TestSCSCFsAndCharging(t *testing.T) {
	e := newEnv(t, sqliteStore(t), nil)
	ctx := testCtx(t)
	const name = "sip:scscf.ims.mnc001.mcc001.3gppnetwork.org:6060"
	got, err := e.client.PutSCSCF(ctx, SCSCF{Name: name, Capabilities: hss.Capabilities{Mandatory: []uint32{1, 2}}})
	if err != nil {
		t.Fatal(err)
	}
	if got.Name != name || !reflect.DeepEqual(got.Capabilities.Mandatory, []uint32{1, 2}) || len(got.Capabilities.Optional) != 0 {
		t.Errorf("put %+v", got)
	}
	if _, err := e.client.PutSCSCF(ctx, SCSCF{Name: name, Capabilities: hss.Capabilities{Optional: []uint32{9}}}); err != nil {
		t.Fatal(err)
	}
	list, err := e.client.ListSCSCFs(ctx)
	if err != nil || len(list) != 1 || len(list[0].Capabilities.Mandatory) != 0 || list[0].Capabilities.Optional[0] != 9 {
		t.Errorf("list %+v %v", list, err)
	}
	var one SCSCF
	e.callJSON("GET", "/api/v1/scscfs/"+seg(name), "", 200, &one)
	if one.Name != name {
		t.Errorf("get %+v", one)
	}
	var bad Error
	e.callJSON("PUT", "/api/v1/scscfs/scscf.example", `{}`, 400, &bad)
	if bad.Field != "name" {
		t.Errorf("name that is not a SIP URI: %+v", bad)
	}
	if err := e.client.DeleteSCSCF(ctx, name); err != nil {
		t.Fatal(err)
	}
	wantAPIError(t, e.client.DeleteSCSCF(ctx, name), 404, CodeNotFound, "")
	e.callJSON("GET", "/api/v1/scscfs/"+seg(name), "", 404, nil)

	sub := e.createDefault("001010000000180", "15550000180")
	if err := e.client.SetDefaultCharging(ctx, hss.ChargingInfo{PrimaryCCF: "aaa://ccf.ims:3868", SecondaryECF: "aaa://ecf2"}); err != nil {
		t.Fatal(err)
	}
	ci, err := e.store.ChargingInfo(ctx, sub.IMPI)
	if err != nil || ci.PrimaryCCF != "aaa://ccf.ims:3868" || ci.SecondaryECF != "aaa://ecf2" {
		t.Errorf("charging of a subscriber without its own = %+v, %v", ci, err)
	}
	e.callJSON("PUT", "/api/v1/charging/default", `{"primary_ccf":"a b"}`, 400, &bad)
	if bad.Field != "primary_ccf" {
		t.Errorf("bad charging: %+v", bad)
	}
}

// TestProfileJSONGolden pins the JSON of a profile: testdata/profile.json is what the docs show.
func TestProfileJSONGolden(t *testing.T) {
	data, err := os.ReadFile("testdata/profile.json")
	if err != nil {
		t.Fatal(err)
	}
	var p Profile
	if err := decodeStrict(data, &p); err != nil {
		t.Fatal(err)
	}
	if _, err := p.serviceProfile(); err != nil {
		t.Fatalf("the documented profile is refused: %v", err)
	}
	want := goldProfile()
	if !reflect.DeepEqual(p, want) {
		got, _ := json.MarshalIndent(p, "", "  ")
		t.Errorf("testdata/profile.json decodes to\n%s", got)
	}
}
