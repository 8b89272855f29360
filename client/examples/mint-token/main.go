// A Herald token, minted in your backend for the signed-in user: HS256 with Herald's secret.
//   HERALD_JWT_SECRET=... go run client/examples/mint-token/main.go alice

package main

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"time"
)

func heraldToken(userID, secret string, ttl time.Duration) string {
	now := time.Now().Unix()
	// Marshal cannot fail on maps of strings and numbers.
	header, _ := json.Marshal(map[string]string{"alg": "HS256", "typ": "JWT"})
	claims, _ := json.Marshal(map[string]any{"sub": userID, "scope": "subscribe", "iat": now, "exp": now + int64(ttl.Seconds())})
	unsigned := base64.RawURLEncoding.EncodeToString(header) + "." + base64.RawURLEncoding.EncodeToString(claims)
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(unsigned))
	return unsigned + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

func main() {
	fmt.Println(heraldToken(os.Args[1], os.Getenv("HERALD_JWT_SECRET"), 10*time.Minute))
}
