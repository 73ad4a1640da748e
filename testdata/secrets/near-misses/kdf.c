/* A key derivation names the password's length and buffer; neither is a password. */
#include <stdint.h>

struct kdf_ctx { const uint8_t *pwd; uint32_t pwdlen; };

void kdf_init(struct kdf_ctx *ctx, const uint8_t *pwd, size_t pwdlen)
{
    ctx->pwd = pwd;
    ctx->pwdlen = (uint32_t)pwdlen;
}
