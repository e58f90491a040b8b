// Package qos is the P-CSCF's Application Function role in policy control (TS 23.203 §6.2.10,
// TS 29.214 for Rx towards a PCRF): it asks the packet core for the bearers a UE's signalling and
// media need, and hears from it when those bearers are lost.
//
// The flow, in the order the P-CSCF calls it (services/pcscf/qos.go is the hook):
//
//   - registration (TS 29.214 §4.4.5a, TS 24.229 §5.2.2): an AAR for the signalling flows between
//     the UE and the P-CSCF (Media-Component-Number 0, Flow-Usage AF_SIGNALLING, AF-Signalling-Protocol
//     SIP), subscribing to INDICATION_OF_LOSS_OF_BEARER and INDICATION_OF_RELEASE_OF_BEARER
//     (signalling path status, §4.4.6.7); de-registration ends it with an STR (§4.4.4).
//   - session (TS 29.214 §4.4.1, TS 29.213 §6.2, TS 24.229 §5.2.7): from each SDP offer and answer
//     one Media-Component-Description per m= line (media.go); the first is an AAR with
//     Rx-Request-Type INITIAL_REQUEST, later ones (re-INVITE, UPDATE) UPDATE_REQUEST on the same
//     Rx session; BYE, CANCEL and a failed INVITE end it with an STR (§4.4.4).
//   - the PCRF's RAR reporting loss or release of bearer, or its ASR (§4.4.6): the AF answers, then
//     the P-CSCF releases the call (TS 24.229 §5.2.8.1.2: BYE to both ends with a Reason) or, for the
//     signalling session, releases the UE's calls, de-registers it at the S-CSCF and ends the binding
//     (Events.SignallingLost; TS 23.228 §5.10.3.1, docs/qos.md "Loss of the signalling path"); for an
//     ASR the AF ends the Rx session with an STR.
//   - policy when the PCRF refuses (an AAA other than success) or cannot be reached: Config.OnFailure
//     rejects the call (503 or 488 with the reason; the code is the operator's choice)
//     or lets it continue on the default bearer.
package qos
