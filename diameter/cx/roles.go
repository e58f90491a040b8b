package cx

// The roles of Cx peers (TS 29.228 §6): the names the nodes' diameter.peers[].roles use, each node mapping
// them to the requests a peer with the role may send it.
const (
	// RoleICSCF sends UAR (§6.1.1) and LIR (§6.1.4) to the HSS.
	RoleICSCF = "icscf"
	// RoleSCSCF sends MAR (§6.3), SAR (§6.1.2) and LIR (§6.1.4) to the HSS.
	RoleSCSCF = "scscf"
	// RoleHSS sends RTR (§6.1.3) and PPR (§6.2.2) to the S-CSCF.
	RoleHSS = "hss"
)
