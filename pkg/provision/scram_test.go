package provision

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"regexp"
	"strings"
	"testing"
)

// TestScramRFC7677 checks the derived keys against the SCRAM-SHA-256 example
// exchange of RFC 7677 section 3 (user "user", password "pencil"): the
// ClientProof and ServerSignature computed from our StoredKey and ServerKey
// must equal the RFC's p= and v= values.
func TestScramRFC7677(t *testing.T) {
	salt, _ := base64.StdEncoding.DecodeString("W22ZaJ0SNY7soEsUEjb6gQ==")
	const (
		clientFirstBare = "n=user,r=rOprNGfwEbeRWgbNEkqO"
		serverFirst     = "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"
		clientFinalBare = "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
		wantProof       = "dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
		wantServerSig   = "6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="
	)
	authMessage := clientFirstBare + "," + serverFirst + "," + clientFinalBare

	v, err := scramVerifier("pencil", salt, 4096)
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`^SCRAM-SHA-256\$4096:([^$]+)\$([^:]+):(.+)$`).FindStringSubmatch(v)
	if m == nil || m[1] != "W22ZaJ0SNY7soEsUEjb6gQ==" {
		t.Fatalf("verifier %q has not the PostgreSQL shape", v)
	}
	storedKey, _ := base64.StdEncoding.DecodeString(m[2])
	serverKey, _ := base64.StdEncoding.DecodeString(m[3])

	// The server side of the RFC's exchange, from the verifier alone.
	if got := base64.StdEncoding.EncodeToString(hmacSHA256(serverKey, authMessage)); got != wantServerSig {
		t.Errorf("ServerSignature = %s, want %s", got, wantServerSig)
	}
	// The client's proof must verify against StoredKey: ClientKey =
	// ClientProof XOR ClientSignature, and H(ClientKey) = StoredKey.
	proof, _ := base64.StdEncoding.DecodeString(wantProof)
	clientSig := hmacSHA256(storedKey, authMessage)
	clientKey := make([]byte, len(proof))
	for i := range proof {
		clientKey[i] = proof[i] ^ clientSig[i]
	}
	if sum := sha256.Sum256(clientKey); !hmac.Equal(sum[:], storedKey) {
		t.Error("the RFC's ClientProof does not verify against our StoredKey")
	}
}

func TestScramVerifierSaltAndInput(t *testing.T) {
	a, err := ScramVerifier("same password")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := ScramVerifier("same password")
	if a == b {
		t.Error("two verifiers share a salt")
	}
	if strings.Contains(a, "same password") || !isVerifier(a) {
		t.Errorf("verifier %q", a)
	}
	for _, bad := range []string{"", "tab\there", "naïve", "new\nline", "\x7f"} {
		if _, err := ScramVerifier(bad); err == nil {
			t.Errorf("ScramVerifier(%q) accepted", bad)
		} else if bad != "" && strings.Contains(err.Error(), bad) {
			t.Errorf("error repeats the password: %v", err)
		}
	}
	if _, err := ScramVerifier(` !"#$%&'()*+,-./09:;<=>?@AZ[\]^_` + "`az{|}~"); err != nil {
		t.Errorf("printable ASCII refused: %v", err)
	}
}
