package eapapp

import (
	"github.com/fiorix/go-diameter/v4/diam"
	"github.com/fiorix/go-diameter/v4/diam/dict"
)

type (
	dictParser  = dict.Parser
	diamMessage = diam.Message
)
