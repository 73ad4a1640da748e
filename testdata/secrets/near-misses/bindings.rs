// Bindings name credentials in types and constants; none holds one.
pub struct Credential {
    pub Password: LSA_UNICODE_STRING,
    pub secrets: Option<Vec<u8>>,
    pub passwd: *const u8,
    pub lpszPassword: windows_sys::core::PWSTR,
}
pub const ERROR_PWD_TOO_LONG: WIN32_ERROR = 657u32;
fn derive(secret: &[u8]) -> ConnectionTrafficSecrets {
    ConnectionTrafficSecrets::Aes128Gcm { key, iv }
}
pub struct Session {
    secrets: ConnectionSecrets,
}
pub const IS_PASSWORD: InputScope = 31i32;
extern "C" {
    pub static kSecClassGenericPassword: CFStringRef;
}
