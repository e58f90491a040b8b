package fastreg

import "github.com/fiorix/go-diameter/v4/diam/dict"

type diamDictParser = dict.Parser
