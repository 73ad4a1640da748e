"""Code that names credentials without holding one: each value is a variable, a member or a
placeholder."""

from .constants import COGNITO_TOTP_MFA_SECRET


def connect(self, cluster, secret_string, auth_token, secret_id):
    client = Client(secret_string=secret_string, auth_token=auth_token)
    master_password = cluster.master_user_password
    secret = self.secrets[secret_id]
    secret_code = COGNITO_TOTP_MFA_SECRET
    npmrc = f"password: {auth_token}"
    return {"SecretCode": secret_code, "client": client, "master": master_password}


def render(text, password: FilterOrBool = False, reveal_secrets: RevealSecrets = None):
    # password: FilterOrBool, as a comment names it
    return text
