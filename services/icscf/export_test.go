package icscf

import "github.com/imscore/imscore/diameter"

func resultCode(c uint32) diameter.ResultCode { return diameter.ResultCode(c) }
