// Package eapapp is the Diameter EAP application (RFC 4072, Auth-Application-Id 5): the Diameter-EAP-Request
// and -Answer (DER/DEA, command 268) that carry EAP between a NAS (the PAA) and a backend EAP server (the
// HSS), and the dictionary go-diameter needs to decode them. Sessions end with the base protocol's
// Session-Termination-Request (RFC 6733 §8.4), built here with the application's id.
//
//	Command (RFC 4072)     Code  Request  Answer  Clause
//	Diameter-EAP           268   DER      DEA     §3.1, §3.2
//	Session-Termination    275   STR      STA     RFC 6733 §8.4.1, §8.4.2
//
// It is a codec only: typed structs to and from go-diameter messages, no sockets and no state. AVPs
// without a field are kept in Unknown, so decoding and encoding again loses nothing.
package eapapp
