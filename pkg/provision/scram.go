package provision

import (
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
)

// ScramIterations is PostgreSQL's default iteration count (scram_iterations
// in 16+, fixed before).
const ScramIterations = 4096

// scramSaltLen is the salt length PostgreSQL uses.
const scramSaltLen = 16

// ScramVerifier returns the SCRAM-SHA-256 verifier PostgreSQL stores for
// password, with a fresh random salt:
//
//	SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>
//
// Sent as the PASSWORD of CREATE/ALTER ROLE, the server stores it as is, so
// neither the statement nor the server's log ever holds the password.
//
// PostgreSQL normalises a password with SASLprep before hashing it. For
// printable ASCII that is the identity, and that is all this function
// accepts: for other characters SASLprep (NFKC and its mapping tables) would
// have to be reproduced exactly, and a verifier that disagrees with what
// clients send would lock the application out.
func ScramVerifier(password string) (string, error) {
	if err := checkPassword(password); err != nil {
		return "", err
	}
	salt := make([]byte, scramSaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	return scramVerifier(password, salt, ScramIterations)
}

func checkPassword(password string) error {
	if password == "" {
		return errors.New("the password is empty")
	}
	for i := 0; i < len(password); i++ {
		if c := password[i]; c < 0x20 || c > 0x7e {
			return fmt.Errorf("the password has a character outside printable ASCII at byte %d; rdsbot computes SCRAM verifiers itself and supports printable ASCII passwords only (PostgreSQL would normalise others with SASLprep)", i)
		}
	}
	return nil
}

// scramKeys derives RFC 5802's StoredKey and ServerKey.
func scramKeys(password string, salt []byte, iterations int) (storedKey, serverKey []byte, err error) {
	salted, err := pbkdf2.Key(sha256.New, password, salt, iterations, sha256.Size)
	if err != nil {
		return nil, nil, err
	}
	clientKey := hmacSHA256(salted, "Client Key")
	sum := sha256.Sum256(clientKey)
	return sum[:], hmacSHA256(salted, "Server Key"), nil
}

func scramVerifier(password string, salt []byte, iterations int) (string, error) {
	stored, server, err := scramKeys(password, salt, iterations)
	if err != nil {
		return "", err
	}
	b64 := base64.StdEncoding.EncodeToString
	return fmt.Sprintf("SCRAM-SHA-256$%d:%s$%s:%s", iterations, b64(salt), b64(stored), b64(server)), nil
}

func hmacSHA256(key []byte, msg string) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(msg))
	return h.Sum(nil)
}

// isVerifier reports whether s has the shape of a SCRAM-SHA-256 verifier
// (used to redact statements).
func isVerifier(s string) bool { return strings.HasPrefix(s, "SCRAM-SHA-256$") }
