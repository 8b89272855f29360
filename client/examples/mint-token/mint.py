# A Herald token, minted in your backend for the signed-in user: HS256 with Herald's secret.
#   HERALD_JWT_SECRET=... python3 client/examples/mint-token/mint.py alice
import base64, hashlib, hmac, json, os, sys, time

def base64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

def herald_token(user_id: str, secret: str, ttl_seconds: int = 600) -> str:
    now = int(time.time())
    header = {"alg": "HS256", "typ": "JWT"}
    claims = {"sub": user_id, "scope": "subscribe", "iat": now, "exp": now + ttl_seconds}
    unsigned = base64url(json.dumps(header).encode()) + "." + base64url(json.dumps(claims).encode())
    signature = hmac.new(secret.encode(), unsigned.encode(), hashlib.sha256).digest()
    return unsigned + "." + base64url(signature)

if __name__ == "__main__":
    print(herald_token(sys.argv[1], os.environ["HERALD_JWT_SECRET"]))
