package main

import (
	"errors"
	"fmt"
	"io/fs"

	"github.com/imscore/imscore/internal/httpauth"
)

// Where imsrun keeps the provisioning API's credentials, beside the HSS's ./var/hss.db: the tokens file the
// HSS reads (hashes only) and the token imsctl reads by default (cli.DefaultTokenFile).
const (
	defaultTokensFile = "./var/api-tokens.yaml"
	defaultTokenFile  = "./var/imsctl.token"
	tokenName         = "imsctl"
)

// ensureToken makes, on first start, an admin token named imsctl: its hash in tokensFile, the token itself in
// tokenFile (both 0600, ./var 0700). Later starts reuse them when they still match. It returns the token and
// whether it was made now.
func ensureToken(tokensFile, tokenFile string) (string, bool, error) {
	token, tokErr := httpauth.ReadSecretFile(tokenFile)
	tokens, tokensErr := httpauth.LoadTokens(tokensFile)
	if tokErr == nil && tokensErr == nil {
		if _, ok := tokens.Lookup(token); !ok {
			return "", false, fmt.Errorf("%s is not a token of %s: remove both to have a new token made", tokenFile, tokensFile)
		}
		return token, false, nil
	}
	if !errors.Is(tokErr, fs.ErrNotExist) && tokErr != nil {
		return "", false, tokErr
	}
	if tokErr == nil { // the token is there, the tokens file is not (or unreadable)
		return "", false, fmt.Errorf("%s: %w (remove %s too to have a new token made)", tokensFile, tokensErr, tokenFile)
	}
	token, err := httpauth.AddToken(tokensFile, tokenName, []httpauth.Scope{httpauth.ScopeAdmin})
	if err != nil {
		return "", false, err
	}
	if err := httpauth.WriteSecretFile(tokenFile, []byte(token+"\n")); err != nil {
		return "", false, fmt.Errorf("token file: %w", err)
	}
	return token, true, nil
}
