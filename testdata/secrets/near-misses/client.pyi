# A type stub declares types, never values.
class Client:
    client_secret: Incomplete
    password: _PasswordType | None
